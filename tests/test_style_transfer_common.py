"""Tests for lib/style_transfer/common.py and measures.py: VGG19, the losses, the balance, the measures.

Tiny images (16-32 px) and random VGG19 weights keep the file fast and offline.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from lib import images
from lib import style_transfer as st
from lib.style_transfer import common, measures


def _image(seed, size=32):
    """A smooth random RGB image in [0, 1] (float32, (size, size, 3))."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (size // 4, size // 4, 3))
    return np.kron(coarse, np.ones((4, 4, 1))).astype("float32")


@pytest.fixture(scope="module")
def extractor():
    return st.build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, weights="random", seed=0)


# --- preprocessing and VGG --------------------------------------------------


def test_preprocess_matches_keras_vgg19_preprocess_input():
    images = np.random.default_rng(0).uniform(0, 1, (2, 5, 7, 3)).astype("float32")
    expected = keras.applications.vgg19.preprocess_input(images * 255.0)
    np.testing.assert_allclose(st.preprocess_for_vgg(images).numpy(), expected, atol=1e-4)
    red = np.array([[[1.0, 0.0, 0.0]]], dtype="float32")  # BGR (0, 0, 255) minus the mean
    np.testing.assert_allclose(st.preprocess_for_vgg(red).numpy()[0, 0], [-103.939, -116.779, 255 - 123.68], atol=1e-3)


def test_preprocess_rejects_non_rgb():
    with pytest.raises(ValueError, match="3 channels"):
        st.preprocess_for_vgg(np.zeros((4, 4, 4), "float32"))


def test_extractor_outputs_named_layers_with_vgg_shapes(extractor):
    features = extractor(_image(0)[None])
    assert features["block1_conv1"].shape == (1, 32, 32, 64)
    assert features["block4_conv2"].shape == (1, 4, 4, 512)
    assert features["block5_conv1"].shape == (1, 2, 2, 512)
    assert not extractor.trainable_weights


def test_random_weights_are_seeded():
    image = _image(1, 16)[None]
    first = st.build_vgg_feature_extractor(["block2_conv1"], weights="random", seed=3)(image)
    again = st.build_vgg_feature_extractor(["block2_conv1"], weights="random", seed=3)(image)
    other = st.build_vgg_feature_extractor(["block2_conv1"], weights="random", seed=4)(image)
    np.testing.assert_array_equal(first["block2_conv1"], again["block2_conv1"])
    assert not np.allclose(first["block2_conv1"], other["block2_conv1"])
    assert "RANDOM" in st.describe_vgg_weights("random", 3)


def test_extractor_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="block9_conv1"):
        st.build_vgg_feature_extractor(["block9_conv1"], weights="random")
    with pytest.raises(ValueError, match="no such file"):
        st.build_vgg_feature_extractor(["block1_conv1"], weights=str(tmp_path / "missing.h5"))
    not_weights = tmp_path / "notes.h5"
    not_weights.write_text("not an HDF5 file")
    with pytest.raises(ValueError, match="Could not load"):
        st.build_vgg_feature_extractor(["block1_conv1"], weights=str(not_weights))


def test_imagenet_weights_come_from_keras_applications_and_offline_says_what_to_do(monkeypatch):
    calls = []

    def offline_vgg19(*args, **kwargs):
        calls.append(kwargs.get("weights"))
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.applications, "VGG19", offline_vgg19)
    with pytest.raises(OSError, match="weights='random'"):
        st.build_vgg_feature_extractor(["block1_conv1"], weights="imagenet")
    assert calls == ["imagenet"]  # the download is Keras' own, no copied URL or hash


def test_local_weights_file_round_trip(tmp_path):
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    common.seeded_he_weights(vgg, seed=7)
    path = tmp_path / "vgg19_notop.weights.h5"
    vgg.save_weights(path)
    image = _image(2, 16)[None]
    from_file = st.build_vgg_feature_extractor(["block1_conv2"], weights=str(path))(image)
    seeded = st.build_vgg_feature_extractor(["block1_conv2"], weights="random", seed=7)(image)
    np.testing.assert_allclose(from_file["block1_conv2"], seeded["block1_conv2"], rtol=1e-6)


# --- losses -----------------------------------------------------------------


def test_gram_matrix_of_a_hand_made_tensor():
    # 2x2 positions, 2 channels: (1, 0), (2, 1), (3, 1), (4, 0)
    features = np.array([[[[1, 0], [2, 1]], [[3, 1], [4, 0]]]], dtype="float32")
    # unnormalised: [[1+4+9+16, 0+2+3+0], [5, 0+1+1+0]] = [[30, 5], [5, 2]]; / (H*W*C = 8)
    expected = np.array([[[3.75, 0.625], [0.625, 0.25]]])
    np.testing.assert_allclose(st.gram_matrix(features).numpy(), expected, rtol=1e-6)


def test_gram_matrix_does_not_depend_on_image_size():
    features = np.random.default_rng(0).normal(size=(1, 5, 6, 7)).astype("float32")
    tiled = np.tile(features, (1, 3, 2, 1))  # the same texture on a 15x12 map
    np.testing.assert_allclose(st.gram_matrix(tiled), st.gram_matrix(features), rtol=1e-5)


@pytest.mark.parametrize("channels", [1, 3, 64])
def test_gram_matrix_trace_is_mean_square_for_any_channel_count(channels):
    features = np.random.default_rng(channels).normal(size=(2, 4, 5, channels)).astype("float32")
    trace = np.trace(st.gram_matrix(features).numpy(), axis1=1, axis2=2)
    np.testing.assert_allclose(trace, np.mean(features**2, axis=(1, 2, 3)), rtol=1e-5)


def test_style_loss_does_not_depend_on_channel_count():
    rng = np.random.default_rng(1)
    first, second = (rng.normal(size=(1, 4, 4, 3)).astype("float32") for _ in range(2))
    loss = st.style_loss(st.gram_matrix(first), st.gram_matrix(second))
    repeated = [np.repeat(x, 4, axis=-1) for x in (first, second)]  # every channel 4 times
    np.testing.assert_allclose(st.gram_matrix(repeated[0]).numpy()[0, ::4, ::4], st.gram_matrix(first)[0] / 4, rtol=1e-5)
    np.testing.assert_allclose(st.style_loss(st.gram_matrix(repeated[0]), st.gram_matrix(repeated[1])), loss, rtol=1e-5)


def test_style_loss_known_value_and_layer_weights():
    gram = np.array([[[1.0, 2.0], [2.0, 5.0]]], dtype="float32")
    target = np.array([[[0.0, 2.0], [2.0, 3.0]]], dtype="float32")
    assert float(st.style_loss([gram], [target])) == pytest.approx(5.0)  # 1 + 0 + 0 + 4
    assert float(st.style_loss([gram, gram], [target, gram], layer_weights=[0.5, 3.0])) == pytest.approx(2.5)
    assert [float(x) for x in st.style_layer_losses([gram, gram], [target, gram])] == pytest.approx([5.0, 0.0])
    with pytest.raises(ValueError, match="one weight per"):
        st.style_loss([gram], [target], layer_weights=[1.0, 2.0])


def test_content_loss_zero_for_identical_features_and_known_value():
    features = np.random.default_rng(2).normal(size=(1, 3, 3, 4)).astype("float32")
    assert float(st.content_loss(features, features)) == 0.0
    assert float(st.content_loss([features], [features + 2.0])) == pytest.approx(4.0)
    assert float(st.content_loss([features], [features + 2.0], [0.25])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="as many"):
        st.content_loss([features], [features, features])


def test_total_variation_of_constant_image_is_zero_and_ramp_known():
    assert float(st.total_variation_loss(np.full((1, 8, 8, 3), 0.3, "float32"))) == 0.0
    ramp = np.tile(np.arange(5, dtype="float32")[None, :, None, None] * 0.1, (1, 1, 4, 3))  # rows 0, .1, ..
    assert float(st.total_variation_loss(ramp)) == pytest.approx(0.1, rel=1e-5)  # vertical 0.1, horizontal 0


def test_channel_mean_std_of_a_hand_made_tensor():
    # channel 0 holds 1, 2, 3, 4; channel 1 is flat 5
    features = np.array([[[[1.0, 5.0], [2.0, 5.0]], [[3.0, 5.0], [4.0, 5.0]]]], dtype="float32")
    mean, std = st.channel_mean_std(features, epsilon=1e-5)
    assert mean.shape == std.shape == (1, 1, 1, 2)
    np.testing.assert_allclose(mean.numpy().ravel(), [2.5, 5.0], atol=1e-6)
    # population variance of 1..4 is 1.25; the flat channel keeps sqrt(epsilon), not 0
    np.testing.assert_allclose(std.numpy().ravel(), [np.sqrt(1.25 + 1e-5), np.sqrt(1e-5)], rtol=1e-5)
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        st.channel_mean_std(features[0])


def test_mean_std_style_loss_zero_for_same_statistics_and_layer_weights():
    features = np.random.default_rng(3).normal(size=(2, 4, 4, 8)).astype("float32")
    shuffled = features[:, ::-1, ::-1, :]  # same per-channel mean and std
    assert float(st.mean_std_style_loss([features], [shuffled])) == pytest.approx(0.0, abs=1e-6)
    assert float(st.mean_std_style_loss([features], [features + 1.0])) == pytest.approx(1.0, rel=1e-5)
    assert float(st.mean_std_style_loss([features, features], [features + 1.0, features + 2.0],
                                        layer_weights=[2.0, 0.5])) == pytest.approx(2.0 + 0.5 * 4.0, rel=1e-5)


# --- the layer balance and the one table of loss weights ----------------------


def test_balanced_layer_weights_give_each_layer_the_same_share():
    weights = st.balanced_layer_weights([2.0, 1e4, 0.5])
    assert [w * loss for w, loss in zip(weights, [2.0, 1e4, 0.5])] == pytest.approx([1 / 3] * 3)
    assert st.balanced_layer_weights([2.0, 0.0, 0.5]) == pytest.approx([1 / 6, 5 / 12, 2 / 3])  # 0: the mean
    assert st.balanced_layer_weights([0.0, 0.0]) == [0.5, 0.5]
    for bad in ([], [1.0, -1.0], [1.0, float("nan")]):
        with pytest.raises(ValueError, match="finite per-layer losses >= 0"):
            st.balanced_layer_weights(bad)


def test_random_vgg_style_layers_differ_by_orders_of_magnitude_until_balanced(extractor):
    # Why the offline mode balances: the astronaut against the Hubble field at 64 px, the five
    # style layers of a random VGG19 differ by 18x (measured; 4x at 256 px); balanced, each is 1/5.
    content = images.load_image("astronaut", max_side=64)
    style = images.load_image("hubble_deep_field", max_side=64)
    targets = st.gatys_targets(extractor, content, style)
    features = extractor(content[None])
    raw = [float(x) for x in st.style_layer_losses(
        [st.gram_matrix(features[name]) for name in st.STYLE_LAYERS], targets["style"])]
    assert max(raw) / min(raw) > 10, raw
    _, layer_weights = st.gatys_loss_weights(extractor, targets, content[None], balance=True)
    shares = [w * loss for w, loss in zip(layer_weights, raw)]
    assert max(shares) / min(shares) < 1.01, shares  # the stated factor: equal within 1 %
    assert sum(shares) == pytest.approx(1.0, rel=1e-4)


def test_content_layer_weights_make_a_relative_error():
    target = np.full((1, 2, 2, 3), 3.0, "float32")
    (weight,) = st.content_layer_weights([target])
    assert weight == pytest.approx(1 / 9)
    assert float(st.content_loss([np.zeros_like(target)], [target], [weight])) == pytest.approx(1.0)


def test_loss_weights_come_from_one_table_per_method_and_weight_source():
    assert set(st.LOSS_WEIGHTS) == {"gatys", "fast", "adain"}
    for method, rows in st.LOSS_WEIGHTS.items():
        assert set(rows) == {"imagenet", "random"}
        assert rows["random"]["balance"] and not rows["imagenet"]["balance"]
        assert st.loss_weights(method, "random") == rows["random"]
        assert st.loss_weights(method, "/some/vgg19_weights.h5") == rows["imagenet"]  # a file holds ImageNet's
    copy = st.loss_weights("gatys", "random")
    copy["style_weight"] = -1.0
    assert st.LOSS_WEIGHTS["gatys"]["random"]["style_weight"] >= 0  # a copy, the table is unchanged
    with pytest.raises(ValueError, match="method"):
        st.loss_weights("picasso", "random")


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1", True, None])
def test_check_loss_weight_refuses_what_is_not_a_finite_number_at_least_zero(bad):
    with pytest.raises(ValueError, match="style_weight"):
        common.check_loss_weight("style_weight", bad)


# --- measures -----------------------------------------------------------------


def test_structure_is_one_for_the_content_and_low_for_unrelated_or_flat_images():
    content = np.zeros((64, 64, 3), "float32")
    content[16:48, 16:48] = 1.0  # a white square
    assert measures.structure(content, content) == pytest.approx(1.0)
    assert measures.structure(0.5 * content + 0.2, content) == pytest.approx(1.0, abs=1e-6)  # contrast is not structure
    moved = np.roll(content, 20, axis=1)
    assert measures.structure(moved, content) < 0.5
    noise = np.random.default_rng(0).uniform(0, 1, content.shape).astype("float32")
    assert abs(measures.structure(noise, content)) < 0.3  # fine grain is blurred away
    assert measures.structure(np.full_like(content, 0.5), content) == 0.0
    with pytest.raises(ValueError, match="one shape"):
        measures.structure(content[:32], content)


def test_color_distance_and_progress():
    content = np.random.default_rng(1).uniform(0.0, 0.5, (16, 16, 3)).astype("float32")
    style = np.random.default_rng(2).uniform(0.5, 1.0, (8, 8, 3)).astype("float32")
    assert measures.color_distance(style, style) == pytest.approx(0.0, abs=1e-12)
    assert measures.color_progress(content, content, style) == pytest.approx(0.0)
    assert measures.color_progress(content + 0.5, content, style) > 0.9  # the style's mean and spread
    assert measures.color_distance(content + 0.5, style) < measures.color_distance(content, style)


def test_judge_losses_score_the_content_itself_as_zero_and_one():
    content, style = _image(40), _image(41)
    judge = measures.build_judge()
    losses = measures.judge_losses(content, content, style, judge)
    assert losses["judge_content_loss"] == pytest.approx(0.0, abs=1e-7)
    assert losses["judge_style_loss"] == pytest.approx(1.0, rel=1e-4)
    scores = measures.quality_measures(style, content, style, judge)
    assert scores["judge_style_loss"] == pytest.approx(0.0, abs=1e-6) and scores["color_progress"] == 1.0
    assert set(scores) == {"structure", "color_progress", "color_distance", "judge_content_loss", "judge_style_loss"}
