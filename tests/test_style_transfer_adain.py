"""Tests for lib/style_transfer/adain.py: AdaIN, the decoder, its training, the stylizer, distribution.

Narrow decoders, 32 px images and random VGG19 weights keep the file fast and offline.
"""

import os
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
import tensorflow as tf

from lib import style_transfer as st
from tests.distributed import run_with_two_cpus


def _image(seed, size=32):
    """A smooth random RGB image in [0, 1] (float32, (size, size, 3))."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (size // 4, size // 4, 3))
    return np.kron(coarse, np.ones((4, 4, 1))).astype("float32")


@pytest.fixture(scope="module")
def encoder():
    return st.build_vgg_feature_extractor(st.ADAIN_LAYERS, weights="random", seed=0)


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


def test_adain_takes_the_style_statistics_instead_of_the_features():
    rng = np.random.default_rng(11)
    content = rng.normal(0.0, 1.0, (1, 5, 6, 3)).astype("float32")
    style = rng.normal(3.0, 2.0, (1, 7, 4, 3)).astype("float32")
    statistics = st.channel_mean_std(style)
    np.testing.assert_allclose(st.adain(content, statistics, alpha=0.7), st.adain(content, style, alpha=0.7), atol=1e-6)
    with pytest.raises(ValueError, match="mean, std"):
        st.adain(content, (statistics[0],))


@pytest.mark.parametrize("execution", ["eager", "function"])
def test_adain_stylizer_reuses_an_encoded_style(encoder, execution):
    decoder = st.build_adain_decoder(width=0.125)
    content, style = _image(20, 32)[:29, :21], _image(21, 24)
    expected = st.stylize_adain(encoder, decoder, content, style, alpha=0.6)
    stylizer = st.AdaINStylizer(encoder, decoder, execution=execution)
    statistics = stylizer.encode_style(style)
    assert statistics[0].shape == statistics[1].shape == (1, 1, 1, 512)
    assert stylizer(content, style, alpha=0.6).shape == (29, 21, 3)
    np.testing.assert_allclose(stylizer(content, style, alpha=0.6), expected, atol=1e-4)
    np.testing.assert_allclose(stylizer(content, statistics, alpha=0.6), expected, atol=1e-4)
    np.testing.assert_allclose(stylizer(content[:24, :16], statistics, alpha=0.2),
                               st.stylize_adain(encoder, decoder, content[:24, :16], style, alpha=0.2), atol=1e-4)


def test_adain_stylizer_rejects_bad_arguments(encoder):
    decoder = st.build_adain_decoder(width=0.125)
    with pytest.raises(ValueError, match="execution"):
        st.AdaINStylizer(encoder, decoder, execution="fast")
    with pytest.raises(ValueError, match="block4_conv1"):
        st.AdaINStylizer(st.build_vgg_feature_extractor(["block1_conv1"], weights="random"), decoder)
    with pytest.raises(ValueError, match="alpha"):
        st.AdaINStylizer(encoder, decoder, execution="eager")(_image(0, 16), _image(1, 16), alpha=2.0)
    with pytest.raises(ValueError, match="RGB"):
        st.AdaINStylizer(encoder, decoder, execution="eager")(_image(0, 16)[..., :2], _image(1, 16))


def test_adain_decoder_survives_save_and_load_and_divides_by_its_feature_scale(tmp_path):
    decoder = st.build_adain_decoder(width=0.125, feature_scale=80.0)
    decoder.save(tmp_path / "decoder.keras")
    loaded = keras.saving.load_model(tmp_path / "decoder.keras", safe_mode=True)
    features = np.random.default_rng(12).uniform(0, 300, (1, 4, 4, 512)).astype("float32")
    assert decoder(features).shape == (1, 32, 32, 3)
    np.testing.assert_array_equal(np.asarray(loaded(features)), np.asarray(decoder(features)))
    small, large = (st.build_adain_decoder(width=0.125, feature_scale=scale) for scale in (2.0, 200.0))
    large.set_weights(small.get_weights())
    np.testing.assert_allclose(large(100.0 * features / 300), small(features / 300), rtol=1e-4, atol=1e-5)
    for bad in (0.0, -1.0, float("nan"), float("inf"), "100", True):
        with pytest.raises(ValueError, match="feature_scale"):
            st.build_adain_decoder(width=0.125, feature_scale=bad)


def test_adain_feature_scale_is_the_std_of_relu4_1(encoder):
    batch = np.stack([_image(22), _image(23)])
    expected = np.asarray(encoder(batch)["block4_conv1"]).std()
    assert st.adain_feature_scale(encoder, batch) == pytest.approx(expected, rel=1e-4)
    assert st.adain_feature_scale(encoder, batch) > 10.0  # random weights on 0-255 pixels: far from 1
    with pytest.raises(ValueError, match="block4_conv1"):
        st.adain_feature_scale(st.build_vgg_feature_extractor(["block1_conv1"], weights="random"), batch)


def _model(encoder, **kwargs):
    keras.utils.set_random_seed(0)
    return st.AdaINStyleTransfer(encoder, st.build_adain_decoder(0.125, 80.0), **kwargs)


def test_balanced_adain_weights_give_each_style_layer_the_same_share(encoder):
    content, style = np.stack([_image(24), _image(25)]), np.stack([_image(26), _image(27)])
    content_weight, style_weights = st.adain_layer_weights(encoder, content, style, balance=True)
    content_features, style_features = encoder(content), encoder(style)
    losses = st.mean_std_layer_losses([content_features[n] for n in st.ADAIN_LAYERS],
                                      [style_features[n] for n in st.ADAIN_LAYERS])
    shares = [w * float(loss) for w, loss in zip(style_weights, losses)]
    assert shares == pytest.approx([0.25] * 4, rel=1e-4)  # each of the four layers 1/4, within 0.01 %
    target = st.adain(content_features["block4_conv1"], style_features["block4_conv1"])
    assert content_weight == pytest.approx(1.0 / float(tf.reduce_mean(tf.square(target))), rel=1e-4)
    assert st.adain_layer_weights(encoder, content, style, balance=False) == (1.0, [1.0] * 4)


def test_adain_fit_lowers_the_loss_and_logs_the_named_terms(encoder):
    content, style = np.stack([_image(16), _image(17)]), np.stack([_image(18), _image(19)])
    content_weight, style_weights = st.adain_layer_weights(encoder, content, style, balance=True)
    model = _model(encoder, content_layer_weight=content_weight, style_layer_weights=style_weights)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    _, before = model.compute_losses(content, style)
    history = model.fit((content, style), batch_size=2, epochs=6, verbose=0)
    _, after = model.compute_losses(content, style)
    assert float(after["loss"]) < float(before["loss"])
    assert set(history.history) == {"loss", "content_loss", "style_loss"}


def test_adain_style_transfer_config_and_save_round_trip(encoder, tmp_path):
    model = _model(encoder, style_weight=2.0, content_layer_weight=0.5, style_layer_weights=[1.0, 2.0, 3.0, 4.0])
    config = model.get_config()
    assert st.AdaINStyleTransfer.from_config(config).get_config() == config
    model.save(tmp_path / "adain.keras")
    loaded = keras.saving.load_model(tmp_path / "adain.keras", safe_mode=True)
    content, style = _image(1)[None], _image(2)[None]
    np.testing.assert_allclose(loaded((content, style)), model((content, style)), atol=1e-5)
    with pytest.raises(ValueError, match="style_layer_weights"):
        _model(encoder, style_layer_weights=[1.0])


def test_dividing_by_the_feature_scale_trains_the_decoder_faster(encoder):
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
    assert losses[scale] < 0.1 * losses[1.0], losses


def test_a_distributed_adain_step_equals_a_single_device_step():
    output = run_with_two_cpus(textwrap.dedent("""
        import keras, numpy as np
        from lib import style_transfer as st, training

        def image(seed, size=32):
            rng = np.random.default_rng(seed)
            return np.kron(rng.uniform(0, 1, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype("float32")

        def make(scope):
            keras.utils.set_random_seed(0)
            with scope:
                encoder = st.build_vgg_feature_extractor(st.ADAIN_LAYERS, weights="random")
                model = st.AdaINStyleTransfer(encoder, st.build_adain_decoder(0.125, 80.0),
                                              content_layer_weight=1e-4, style_layer_weights=[1e-3] * 4)
                model.compile(optimizer=keras.optimizers.SGD(0.1))
                training.build_optimizers(model)  # before strategy.run (see lib.training.build_optimizers)
            return model

        batch = (tf.constant(np.stack([image(seed) for seed in range(20, 24)])),
                 tf.constant(np.stack([image(seed) for seed in range(30, 34)])))
        single = make(tf.distribute.get_strategy().scope())
        single_logs = tf.function(single.train_step)(batch)
        mirrored = make(strategy.scope())
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(batch).batch(4))

        @tf.function
        def distributed_step(replica_batch):
            return strategy.run(mirrored.train_step, args=(replica_batch,))

        for replica_batch in dataset:
            logs = distributed_step(replica_batch)
        untouched = make(tf.distribute.get_strategy().scope())
        moved = max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), untouched.get_weights()))
        gap = max(float(np.max(np.abs(a - b))) for a, b in zip(single.get_weights(), mirrored.get_weights()))
        losses = [float(v) for v in strategy.experimental_local_results(logs["loss"])]
        print("replicas", len(losses))
        print("moved", moved)
        print("gap", gap)
        print("loss", float(single_logs["loss"]), float(np.mean(losses)))
    """))
    values = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert int(values["replicas"]) == 2
    moved, gap = float(values["moved"]), float(values["gap"])
    assert moved > 1e-4
    assert gap < 1e-4 * moved, (gap, moved)
    single_loss, distributed_loss = map(float, values["loss"].split())
    assert distributed_loss == pytest.approx(single_loss, rel=1e-4)


def test_the_decoder_mirrors_vgg19_from_the_encoder_layer():
    deep = st.build_adain_decoder(width=0.125)  # relu4_1, Huang & Belongie's layer
    assert [layer.name for layer in deep.layers if isinstance(layer, keras.layers.Conv2D)] == [
        "decoder_block4_conv1", "decoder_block3_conv4", "decoder_block3_conv3", "decoder_block3_conv2",
        "decoder_block3_conv1", "decoder_block2_conv2", "decoder_block2_conv1", "decoder_block1_conv2",
        "decoder_block1_conv1"]
    shallow = st.build_adain_decoder(width=0.125, encoder_layer="block3_conv1")  # relu3_1: two poolings
    assert [layer.name for layer in shallow.layers if isinstance(layer, keras.layers.Conv2D)] == [
        "decoder_block3_conv1", "decoder_block2_conv2", "decoder_block2_conv1", "decoder_block1_conv2",
        "decoder_block1_conv1"]
    assert shallow(np.zeros((1, 8, 8, 256), "float32")).shape == (1, 32, 32, 3)
    assert deep(np.zeros((1, 4, 4, 512), "float32")).shape == (1, 32, 32, 3)
    assert st.decoder_encoder_layer(deep) == "block4_conv1"
    assert st.decoder_encoder_layer(shallow) == "block3_conv1"
    assert st.adain_style_layers("block3_conv1") == ("block1_conv1", "block2_conv1", "block3_conv1")
    assert st.adain_style_layers() == st.ADAIN_LAYERS
    for bad in ("block4_conv2", "block5_conv1", "relu3_1"):
        with pytest.raises(ValueError, match="encoder_layer"):
            st.build_adain_decoder(width=0.125, encoder_layer=bad)


def test_the_encoder_layer_comes_from_one_table_per_weight_source():
    assert st.ADAIN_ENCODER_LAYERS["imagenet"] == "block4_conv1"  # Huang & Belongie's relu4_1
    assert st.adain_encoder_layer("imagenet") == st.adain_encoder_layer("/some/vgg19.h5") == "block4_conv1"
    assert st.adain_encoder_layer("random") == st.ADAIN_ENCODER_LAYERS["random"]
    assert st.ADAIN_ENCODER_LAYERS["random"] in st.ADAIN_LAYERS


def test_a_shallow_decoder_trains_and_stylises_with_its_own_layers(encoder, tmp_path):
    shallow_encoder = st.build_vgg_feature_extractor(st.adain_style_layers("block3_conv1"), weights="random", seed=0)
    content, style = np.stack([_image(40), _image(41)]), np.stack([_image(42), _image(43)])
    content_weight, style_weights = st.adain_layer_weights(shallow_encoder, content, style, balance=True,
                                                           encoder_layer="block3_conv1")
    assert len(style_weights) == 3
    keras.utils.set_random_seed(0)
    scale = st.adain_feature_scale(shallow_encoder, content, "block3_conv1")
    assert scale == pytest.approx(float(np.asarray(shallow_encoder(content)["block3_conv1"]).std()), rel=1e-4)
    decoder = st.build_adain_decoder(0.125, scale, "block3_conv1")
    model = st.AdaINStyleTransfer(shallow_encoder, decoder, content_layer_weight=content_weight,
                                  style_layer_weights=style_weights)
    assert model.encoder_layer == "block3_conv1" and model.style_layers == st.adain_style_layers("block3_conv1")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    _, before = model.compute_losses(content, style)
    for _ in range(3):
        model.train_step((content, style))
    assert float(model.compute_losses(content, style)[1]["loss"]) < float(before["loss"])
    with pytest.raises(ValueError, match="style_layer_weights"):
        st.AdaINStyleTransfer(shallow_encoder, decoder, style_layer_weights=[1.0] * 4)
    model.save(tmp_path / "shallow.keras")
    loaded = keras.saving.load_model(tmp_path / "shallow.keras", safe_mode=True)
    np.testing.assert_allclose(loaded((content, style)), model((content, style)), atol=1e-5)
    # the stylizer reads the layer from the decoder; the full encoder (to relu4_1) works too
    result = st.stylize_adain(shallow_encoder, decoder, _image(44)[:29, :21], _image(45), alpha=0.5)
    assert result.shape == (29, 21, 3)
    np.testing.assert_allclose(st.stylize_adain(encoder, decoder, _image(44)[:29, :21], _image(45), alpha=0.5),
                               result, atol=1e-4)
    with pytest.raises(ValueError, match="block3_conv1"):
        st.AdaINStylizer(st.build_vgg_feature_extractor(["block2_conv1"], weights="random"), decoder)
