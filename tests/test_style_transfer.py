"""Tests for lib/style_transfer.py: known values, invariances, save/load, optimisation.

Tiny images (16-32 px) and random VGG19 weights keep the file fast and offline.
"""

import os
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import scipy.optimize
import tensorflow as tf

from lib import style_transfer as st
from tests.distributed import run_with_two_cpus


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
    # and by hand: a pure red pixel becomes BGR (0, 0, 255) minus the mean
    red = np.array([[[1.0, 0.0, 0.0]]], dtype="float32")
    np.testing.assert_allclose(
        st.preprocess_for_vgg(red).numpy()[0, 0], [-103.939, -116.779, 255 - 123.68], atol=1e-3
    )


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

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(OSError, match="weights='random'"):
        st.build_vgg_feature_extractor(["block1_conv1"], weights="imagenet")


def test_local_weights_file_round_trip(tmp_path):
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    st._seeded_he_weights(vgg, seed=7)
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
    first = rng.normal(size=(1, 4, 4, 3)).astype("float32")
    second = rng.normal(size=(1, 4, 4, 3)).astype("float32")
    loss = st.style_loss(st.gram_matrix(first), st.gram_matrix(second))
    # every channel repeated 4 times: Grams become tile(G) / 4, the loss stays
    repeated = [np.repeat(x, 4, axis=-1) for x in (first, second)]
    gram_repeated = st.gram_matrix(repeated[0]).numpy()
    np.testing.assert_allclose(gram_repeated[0, ::4, ::4], st.gram_matrix(first)[0] / 4, rtol=1e-5)
    loss_repeated = st.style_loss(st.gram_matrix(repeated[0]), st.gram_matrix(repeated[1]))
    np.testing.assert_allclose(loss_repeated, loss, rtol=1e-5)


def test_style_loss_known_value_and_layer_weights():
    gram = np.array([[[1.0, 2.0], [2.0, 5.0]]], dtype="float32")
    target = np.array([[[0.0, 2.0], [2.0, 3.0]]], dtype="float32")
    # sum of squared differences: 1 + 0 + 0 + 4 = 5
    assert float(st.style_loss([gram], [target])) == pytest.approx(5.0)
    assert float(st.style_loss([gram, gram], [target, gram], layer_weights=[0.5, 3.0])) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="one weight per"):
        st.style_loss([gram], [target], layer_weights=[1.0, 2.0])


def test_content_loss_zero_for_identical_features_and_known_value():
    features = np.random.default_rng(2).normal(size=(1, 3, 3, 4)).astype("float32")
    assert float(st.content_loss(features, features)) == 0.0
    shifted = features + 2.0
    assert float(st.content_loss([features], [shifted])) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="as many"):
        st.content_loss([features], [features, features])


def test_total_variation_of_constant_image_is_zero_and_ramp_known():
    assert float(st.total_variation_loss(np.full((1, 8, 8, 3), 0.3, "float32"))) == 0.0
    ramp = np.tile(np.arange(5, dtype="float32")[None, :, None, None] * 0.1, (1, 1, 4, 3))  # rows 0, .1, ..
    # vertical differences all 0.1, horizontal all 0
    assert float(st.total_variation_loss(ramp)) == pytest.approx(0.1, rel=1e-5)


def test_mean_std_style_loss_zero_for_same_statistics():
    features = np.random.default_rng(3).normal(size=(2, 4, 4, 8)).astype("float32")
    shuffled = features[:, ::-1, ::-1, :]  # same per-channel mean and std
    assert float(st.mean_std_style_loss([features], [shuffled])) == pytest.approx(0.0, abs=1e-6)
    assert float(st.mean_std_style_loss([features], [features + 1.0])) == pytest.approx(1.0, rel=1e-5)


# --- Gatys optimisation -----------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_few_optimisation_steps_lower_the_total_loss(extractor, optimizer):
    content, style = _image(4), _image(5)
    image, history = st.stylize_gatys(
        content, style, extractor=extractor, steps=4, optimizer=optimizer, style_weight=1e-2
    )
    assert image.shape == (32, 32, 3) and image.dtype == np.float32
    assert image.min() >= 0.0 and image.max() <= 1.0
    assert [entry["step"] for entry in history] == [0, 1, 2, 3, 4]
    assert history[0]["content"] == 0.0  # starts at the content image
    assert history[-1]["total"] < 0.7 * history[0]["total"]
    assert all(b["seconds"] >= a["seconds"] for a, b in zip(history, history[1:]))


def test_stylize_gatys_rejects_bad_arguments(extractor):
    with pytest.raises(ValueError, match="optimizer"):
        st.stylize_gatys(_image(0), _image(1), extractor=extractor, optimizer="sgd")
    with pytest.raises(ValueError, match="steps > 0"):
        st.stylize_gatys(_image(0), _image(1), extractor=extractor, steps=0)
    with pytest.raises(ValueError, match="RGB image"):
        st.stylize_gatys(np.zeros((8, 8), "float32"), _image(1), extractor=extractor)


def test_lbfgs_matches_scipy_on_the_rosenbrock_function():
    def value_and_gradient(x):
        return scipy.optimize.rosen(x), scipy.optimize.rosen_der(x)

    start = np.array([-1.2, 1.0, -0.5, 0.8])
    ours, value, _ = st.lbfgs_minimize(value_and_gradient, start, max_iterations=200, first_step=0.1)
    reference = scipy.optimize.minimize(scipy.optimize.rosen, start, jac=scipy.optimize.rosen_der, method="L-BFGS-B")
    np.testing.assert_allclose(ours, reference.x, atol=1e-3)
    assert value < 1e-6
    with pytest.raises(ValueError, match="max_iterations"):
        st.lbfgs_minimize(value_and_gradient, start, max_iterations=0)


# --- colour preservation ----------------------------------------------------


def test_yiq_round_trip_and_keep_content_colors():
    content, stylized = _image(6), _image(7)
    np.testing.assert_allclose(st.yiq_to_rgb(st.rgb_to_yiq(content)), content, atol=1e-5)
    mixed = st.keep_content_colors(0.25 + 0.5 * stylized, 0.25 + 0.5 * content)  # mid-range: no clipping
    yiq = st.rgb_to_yiq(mixed).numpy()
    np.testing.assert_allclose(yiq[..., 0], st.rgb_to_yiq(0.25 + 0.5 * stylized).numpy()[..., 0], atol=1e-4)
    np.testing.assert_allclose(yiq[..., 1:], st.rgb_to_yiq(0.25 + 0.5 * content).numpy()[..., 1:], atol=1e-4)


def test_match_color_statistics_copies_mean_and_covariance():
    rng = np.random.default_rng(8)
    source = rng.uniform(0.3, 0.7, (20, 20, 3)).astype("float32")
    reference = np.clip(rng.normal([0.5, 0.4, 0.6], 0.05, (30, 30, 3)), 0, 1).astype("float32")
    matched = st.match_color_statistics(source, reference).reshape(-1, 3)
    np.testing.assert_allclose(matched.mean(0), reference.reshape(-1, 3).mean(0), atol=1e-3)
    np.testing.assert_allclose(np.cov(matched, rowvar=False), np.cov(reference.reshape(-1, 3), rowvar=False), atol=1e-4)


# --- AdaIN ------------------------------------------------------------------


def test_adain_output_has_the_style_mean_and_std():
    rng = np.random.default_rng(9)
    content = rng.normal(2.0, 3.0, (2, 6, 5, 4)).astype("float32")
    style = rng.normal([-1.0, 0.0, 4.0, 10.0], [0.5, 2.0, 1.0, 0.1], (2, 9, 7, 4)).astype("float32")
    output = st.adain(content, style).numpy()
    np.testing.assert_allclose(output.mean(axis=(1, 2)), style.mean(axis=(1, 2)), atol=1e-4)
    np.testing.assert_allclose(output.std(axis=(1, 2)), style.std(axis=(1, 2)), rtol=1e-3)
    np.testing.assert_allclose(st.adain(content, style, alpha=0.0), content, atol=1e-6)
    layer = st.AdaptiveInstanceNormalization()
    np.testing.assert_allclose(layer([content, style], alpha=0.5), st.adain(content, style, 0.5), atol=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        st.adain(content, style, alpha=1.5)
    with pytest.raises(ValueError, match="channel"):
        st.adain(content, style[..., :3])


def test_channel_mean_std_of_a_hand_made_tensor():
    # One image, 2x2 pixels, two channels: channel 0 holds 1, 2, 3, 4; channel 1 is flat 5.
    features = np.array([[[[1.0, 5.0], [2.0, 5.0]], [[3.0, 5.0], [4.0, 5.0]]]], dtype="float32")
    mean, std = st.channel_mean_std(features, epsilon=1e-5)
    assert mean.shape == std.shape == (1, 1, 1, 2)
    np.testing.assert_allclose(mean.numpy().ravel(), [2.5, 5.0], atol=1e-6)
    # population variance of 1..4 is 1.25; the flat channel keeps sqrt(epsilon), not 0
    np.testing.assert_allclose(std.numpy().ravel(), [np.sqrt(1.25 + 1e-5), np.sqrt(1e-5)], rtol=1e-5)
    with pytest.raises(ValueError, match="batch, height, width, channels"):
        st.channel_mean_std(features[0])


def test_adain_takes_the_style_statistics_instead_of_the_features():
    rng = np.random.default_rng(11)
    content = rng.normal(0.0, 1.0, (1, 5, 6, 3)).astype("float32")
    style = rng.normal(3.0, 2.0, (1, 7, 4, 3)).astype("float32")
    statistics = st.channel_mean_std(style)
    np.testing.assert_allclose(st.adain(content, statistics, alpha=0.7), st.adain(content, style, alpha=0.7),
                               atol=1e-6)
    with pytest.raises(ValueError, match="mean, std"):
        st.adain(content, (statistics[0],))


@pytest.fixture(scope="module")
def adain_pair():
    encoder = st.build_vgg_feature_extractor(["block4_conv1"], weights="random")
    return encoder, st.build_adain_decoder(width=0.125)


@pytest.mark.parametrize("execution", ["eager", "function"])
def test_adain_stylizer_reuses_an_encoded_style(adain_pair, execution):
    encoder, decoder = adain_pair
    content, style = _image(20, 32)[:29, :21], _image(21, 24)
    expected = st.stylize_adain(encoder, decoder, content, style, alpha=0.6)
    stylizer = st.AdaINStylizer(encoder, decoder, execution=execution)
    statistics = stylizer.encode_style(style)
    assert statistics[0].shape == statistics[1].shape == (1, 1, 1, 512)
    from_image = stylizer(content, style, alpha=0.6)
    from_statistics = stylizer(content, statistics, alpha=0.6)
    assert from_image.shape == (29, 21, 3)
    np.testing.assert_allclose(from_image, expected, atol=1e-4)
    np.testing.assert_allclose(from_statistics, expected, atol=1e-4)
    # a second size and another alpha reuse the (relaxed) graph and stay right
    np.testing.assert_allclose(stylizer(content[:24, :16], statistics, alpha=0.2),
                               st.stylize_adain(encoder, decoder, content[:24, :16], style, alpha=0.2), atol=1e-4)


def test_adain_stylizer_rejects_bad_arguments(adain_pair):
    encoder, decoder = adain_pair
    with pytest.raises(ValueError, match="execution"):
        st.AdaINStylizer(encoder, decoder, execution="fast")
    shallow = st.build_vgg_feature_extractor(["block1_conv1"], weights="random")
    with pytest.raises(ValueError, match="block4_conv1"):
        st.AdaINStylizer(shallow, decoder)
    with pytest.raises(ValueError, match="alpha"):
        st.AdaINStylizer(encoder, decoder, execution="eager")(_image(0, 16), _image(1, 16), alpha=2.0)
    with pytest.raises(ValueError, match="RGB"):
        st.AdaINStylizer(encoder, decoder, execution="eager")(_image(0, 16)[..., :2], _image(1, 16))


def test_instance_normalization_normalises_each_channel():
    x = np.random.default_rng(10).normal(5.0, 2.0, (2, 8, 8, 3)).astype("float32")
    y = st.InstanceNormalization()(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


# --- save and load ----------------------------------------------------------


def test_transform_network_survives_save_and_load(tmp_path):
    network = st.build_transform_network(filters=(8, 8, 16), residual_blocks=2)
    # move the instance-norm scales off their initial values so loading them matters
    for layer in network.layers:
        if isinstance(layer, st.InstanceNormalization):
            layer.gamma.assign(np.linspace(0.5, 1.5, layer.gamma.shape[0]))
    path = tmp_path / "transform.keras"
    network.save(path)
    loaded = keras.saving.load_model(path)
    image = _image(11)[None]
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(network(image)))
    assert "residual1" in [layer.name for layer in loaded.layers]
    block = st.ResidualBlock(16, name="r")
    assert st.ResidualBlock.from_config(block.get_config()).get_config() == block.get_config()


def test_adain_decoder_survives_save_and_load(tmp_path):
    decoder = st.build_adain_decoder(width=0.125, feature_scale=80.0)
    path = tmp_path / "decoder.keras"
    decoder.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    features = np.random.default_rng(12).uniform(0, 300, (1, 4, 4, 512)).astype("float32")
    assert decoder(features).shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(np.asarray(loaded(features)), np.asarray(decoder(features)))
    assert loaded.get_layer("decoder_feature_scale").scale == pytest.approx(1 / 80.0)


def test_adain_decoder_divides_its_input_by_feature_scale():
    # the same weights: decoder(scale k*s)(k*f) must equal decoder(scale s)(f)
    small, large = (st.build_adain_decoder(width=0.125, feature_scale=scale) for scale in (2.0, 200.0))
    large.set_weights(small.get_weights())
    features = np.random.default_rng(13).uniform(0, 3, (1, 4, 4, 512)).astype("float32")
    np.testing.assert_allclose(large(100.0 * features), small(features), rtol=1e-4, atol=1e-5)
    for bad in (0.0, -1.0, float("nan"), float("inf"), "100", True):
        with pytest.raises(ValueError, match="feature_scale"):
            st.build_adain_decoder(width=0.125, feature_scale=bad)


def test_adain_feature_scale_is_the_std_of_relu4_1(adain_pair):
    encoder, _ = adain_pair
    batch = np.stack([_image(22), _image(23)])
    expected = np.asarray(encoder(batch)["block4_conv1"]).std()
    assert st.adain_feature_scale(encoder, batch) == pytest.approx(expected, rel=1e-4)
    assert st.adain_feature_scale(encoder, batch[0]) == pytest.approx(
        np.asarray(encoder(batch[:1])["block4_conv1"]).std(), rel=1e-4)
    # random He-normal weights on 0-255 inputs: far from unit scale, the reason for the division
    assert st.adain_feature_scale(encoder, batch) > 10.0
    with pytest.raises(ValueError, match="block4_conv1"):
        st.adain_feature_scale(st.build_vgg_feature_extractor(["block1_conv1"], weights="random"), batch)
    inputs = keras.Input((None, None, 3))
    silent = keras.Model(inputs, {"block4_conv1": keras.layers.Conv2D(512, 1, kernel_initializer="zeros")(inputs)})
    with pytest.raises(ValueError, match="standard deviation > 0"):
        st.adain_feature_scale(silent, batch)


def test_dividing_by_the_feature_scale_trains_the_decoder_faster():
    encoder = st.build_vgg_feature_extractor(st.ADAIN_LAYERS, weights="random")
    content = np.stack([_image(24), _image(25)])
    scale = st.adain_feature_scale(encoder, content)
    output_std, losses = {}, {}
    for feature_scale in (1.0, scale):
        keras.utils.set_random_seed(0)
        model = st.AdaINStyleTransfer(encoder, st.build_adain_decoder(0.125, feature_scale), style_weight=0.0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        output_std[feature_scale] = float(tf.math.reduce_std(model((content, content))))
        for _ in range(3):
            model.train_step((content, content))  # eager: tracing would cost more than the steps
        losses[feature_scale] = float(model.compute_losses(content, content)[1]["content_loss"])
    # untrained: the divided decoder starts near the [0, 1] pixel range, the undivided far outside it
    assert output_std[scale] < 0.5 < 5 * 0.5 < output_std[1.0], output_std
    # after three Adam steps (measured: 1.4e3 against 2.6e5); 250 steps on a photo: 510 against 1,812
    assert losses[scale] < 0.1 * losses[1.0], losses


def test_stylize_fast_and_adain_keep_any_image_size():
    network = st.build_transform_network(filters=(4, 4, 4), residual_blocks=1)
    assert st.stylize_fast(network, _image(0, 32)[:30, :27]).shape == (30, 27, 3)
    encoder = st.build_vgg_feature_extractor(["block4_conv1"], weights="random")
    decoder = st.build_adain_decoder(width=0.125)
    out = st.stylize_adain(encoder, decoder, _image(0, 32)[:29, :21], _image(1, 16), alpha=0.5)
    assert out.shape == (29, 21, 3) and 0.0 <= out.min() and out.max() <= 1.0


# --- training steps ---------------------------------------------------------


def test_fast_style_train_step_lowers_the_loss():
    keras.utils.set_random_seed(0)
    network = st.build_transform_network(filters=(8, 8, 8), residual_blocks=1)
    features = st.build_vgg_feature_extractor(st.FAST_CONTENT_LAYERS + st.STYLE_LAYERS, weights="random")
    model = st.FastStyleTransfer(network, features, _image(13), style_weight=1e-2)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    batch = tf.constant(np.stack([_image(14), _image(15)]))
    step = tf.function(model.train_step)
    first = float(step(batch)["loss"])
    for _ in range(5):
        logs = step(batch)
    _, terms = model.compute_losses(batch)
    assert float(terms["loss"]) < first
    assert set(logs) == {"loss", "content_loss", "style_loss", "tv_loss"}


def test_adain_fit_runs_and_lowers_the_loss():
    keras.utils.set_random_seed(0)
    encoder = st.build_vgg_feature_extractor(st.ADAIN_LAYERS, weights="random")
    model = st.AdaINStyleTransfer(encoder, st.build_adain_decoder(width=0.125), style_weight=1.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    content = np.stack([_image(16), _image(17)])
    style = np.stack([_image(18), _image(19)])
    _, before = model.compute_losses(content, style)
    history = model.fit((content, style), batch_size=2, epochs=6, verbose=0)
    _, after = model.compute_losses(content, style)
    assert float(after["loss"]) < float(before["loss"])
    assert set(history.history) == {"loss", "content_loss", "style_loss"}


# --- tf.distribute ------------------------------------------------------------


def _distributed_gap(build_snippet, batch_snippet):
    """Runs one train_step single-device and one under MirroredStrategy; returns printed values."""
    output = run_with_two_cpus(
        """
        import keras, numpy as np
        from lib import style_transfer as st, training

        def image(seed, size=32):
            rng = np.random.default_rng(seed)
            return np.kron(rng.uniform(0, 1, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype("float32")

        def make(scope):
            keras.utils.set_random_seed(0)
            with scope:
        """ + textwrap.indent(textwrap.dedent(build_snippet), " " * 16) + """
                # SGD, not Adam: Adam's first step is lr * sign(gradient), which turns
                # round-off in a zero gradient (a conv bias before instance norm) into a full step.
                model.compile(optimizer=keras.optimizers.SGD(0.1))
                training.build_optimizers(model)  # before strategy.run (shared/FACTS.md)
            return model

        """ + textwrap.dedent(batch_snippet) + """
        single = make(tf.distribute.get_strategy().scope())
        single_logs = tf.function(single.train_step)(batch)

        mirrored = make(strategy.scope())
        dataset = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices(batch).batch(4))

        @tf.function
        def distributed_step(replica_batch):
            return strategy.run(mirrored.train_step, args=(replica_batch,))

        for replica_batch in dataset:
            distributed_logs = distributed_step(replica_batch)
        replica_losses = strategy.experimental_local_results(distributed_logs["loss"])
        moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), make(tf.distribute.get_strategy().scope()).get_weights()))
        gap = max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), mirrored.get_weights()))
        print("replicas", len(replica_losses))
        print("moved", moved)
        print("weight_gap", gap)
        print("loss", float(single_logs["loss"]), float(np.mean([float(v) for v in replica_losses])))
        """
    )
    return dict(line.split(" ", 1) for line in output.strip().splitlines())


@pytest.mark.parametrize("kind", ["fast-style", "adain"])
def test_a_distributed_style_step_equals_a_single_device_step(kind):
    # A global batch of 4 split over two logical CPUs must update the weights as one
    # device does with all 4 images: each replica divides its loss by the replica
    # count, and the optimizer sums the replicas' gradients.
    if kind == "fast-style":
        build = """
            network = st.build_transform_network(filters=(8, 8, 8), residual_blocks=1)
            features = st.build_vgg_feature_extractor(st.FAST_CONTENT_LAYERS + st.STYLE_LAYERS, weights="random")
            model = st.FastStyleTransfer(network, features, image(13), style_weight=1e-2)
        """
        batch = "batch = tf.constant(np.stack([image(seed) for seed in range(20, 24)]))"
    else:
        build = """
            encoder = st.build_vgg_feature_extractor(st.ADAIN_LAYERS, weights="random")
            model = st.AdaINStyleTransfer(encoder, st.build_adain_decoder(width=0.125), style_weight=1.0)
        """
        batch = ("batch = (tf.constant(np.stack([image(seed) for seed in range(20, 24)])),\n"
                 "         tf.constant(np.stack([image(seed) for seed in range(30, 34)])))")
    values = _distributed_gap(build, batch)
    assert int(values["replicas"]) == 2
    moved, gap = float(values["moved"]), float(values["weight_gap"])
    assert moved > 1e-3  # the step changed the weights, so the gap below means something
    # Style losses of random-VGG features are large, so one SGD step moves some weights
    # far: compare the gap between the two updates with the size of the update.
    assert gap < 1e-5 * moved, (gap, moved)
    single_loss, distributed_loss = map(float, values["loss"].split())
    assert distributed_loss == pytest.approx(single_loss, rel=1e-4)
