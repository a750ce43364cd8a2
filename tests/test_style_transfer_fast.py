"""Tests for lib/style_transfer/fast.py: the transformation network, its losses, save/load, distribution.

Tiny networks, 32 px images and random VGG19 weights keep the file fast and offline.
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

# A small extractor: the fast network's content layer and two style layers.
STYLE_LAYERS = ("block1_conv1", "block2_conv1")


def _image(seed, size=32):
    """A smooth random RGB image in [0, 1] (float32, (size, size, 3))."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (size // 4, size // 4, 3))
    return np.kron(coarse, np.ones((4, 4, 1))).astype("float32")


@pytest.fixture(scope="module")
def extractor():
    return st.build_vgg_feature_extractor(st.FAST_CONTENT_LAYERS + STYLE_LAYERS, weights="random", seed=0)


def _model(extractor, **kwargs):
    keras.utils.set_random_seed(0)
    network = st.build_transform_network(filters=(8, 8, 8), residual_blocks=1)
    return st.FastStyleTransfer(network, extractor, _image(13), style_layers=STYLE_LAYERS, **kwargs)


def test_instance_normalization_normalises_each_channel():
    x = np.random.default_rng(10).normal(5.0, 2.0, (2, 8, 8, 3)).astype("float32")
    y = st.InstanceNormalization()(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-3)


def test_stylize_fast_keeps_any_image_size():
    network = st.build_transform_network(filters=(4, 4, 4), residual_blocks=1)
    assert st.stylize_fast(network, _image(0, 32)[:30, :27]).shape == (30, 27, 3)
    assert st.stylize_fast(network, np.stack([_image(0), _image(1)])).shape == (2, 32, 32, 3)


def test_transform_network_survives_save_and_load(tmp_path):
    network = st.build_transform_network(filters=(8, 8, 16), residual_blocks=2)
    for layer in network.layers:  # move the instance-norm scales off their initial values
        if isinstance(layer, st.InstanceNormalization):
            layer.gamma.assign(np.linspace(0.5, 1.5, layer.gamma.shape[0]))
    network.save(tmp_path / "transform.keras")
    loaded = keras.saving.load_model(tmp_path / "transform.keras", safe_mode=True)
    image = _image(11)[None]
    np.testing.assert_array_equal(np.asarray(loaded(image)), np.asarray(network(image)))
    block = st.ResidualBlock(16, name="r")
    assert st.ResidualBlock.from_config(block.get_config()).get_config() == block.get_config()


def test_fast_style_train_step_lowers_the_loss_and_returns_the_named_terms(extractor):
    batch = tf.constant(np.stack([_image(14), _image(15)]))
    content_weights, style_weights = st.fast_style_layer_weights(
        extractor, _image(13), batch, balance=True, style_layers=STYLE_LAYERS)
    model = _model(extractor, content_layer_weights=content_weights, style_layer_weights=style_weights)
    model.compile(optimizer=keras.optimizers.Adam(st.FAST_PRESETS["course"]["learning_rate"]))
    step = tf.function(model.train_step)
    first = float(step(batch)["loss"])
    for _ in range(5):
        logs = step(batch)
    assert float(model.compute_losses(batch)[1]["loss"]) < first
    assert set(logs) == {"loss", "content_loss", "style_loss", "tv_loss"}
    assert [metric.name for metric in model.metrics] == ["loss", "content_loss", "style_loss", "tv_loss"]


def test_balanced_weights_give_the_unchanged_photo_a_style_loss_of_one(extractor):
    photos = np.stack([_image(20), _image(21)])
    content_weights, style_weights = st.fast_style_layer_weights(
        extractor, _image(13), photos, balance=True, style_layers=STYLE_LAYERS)
    model = _model(extractor, content_layer_weights=content_weights, style_layer_weights=style_weights)
    features = extractor(photos)
    style = [float(x) for x in st.style_layer_losses([st.gram_matrix(features[name]) for name in STYLE_LAYERS],
                                                     list(model.style_grams))]
    shares = [w * loss for w, loss in zip(style_weights, style)]
    assert shares == pytest.approx([0.5, 0.5], rel=1e-4)  # each style layer the same share, within 0.01 %
    zero = tf.zeros_like(features["block2_conv2"])
    assert float(st.content_loss([zero], [features["block2_conv2"]], content_weights)) == pytest.approx(1.0, rel=1e-5)
    assert st.fast_style_layer_weights(extractor, _image(13), photos, balance=False,
                                       style_layers=STYLE_LAYERS) == ([1.0], [1.0, 1.0])  # Johnson: summed


def test_fast_style_transfer_config_and_save_round_trip(extractor, tmp_path):
    model = _model(extractor, style_weight=3.0, tv_weight=0.5, content_layer_weights=[0.25],
                   style_layer_weights=[1.0, 2.0])
    config = model.get_config()
    rebuilt = st.FastStyleTransfer.from_config(config)
    assert rebuilt.get_config() == config
    model.save(tmp_path / "fast.keras")
    loaded = keras.saving.load_model(tmp_path / "fast.keras", safe_mode=True)
    batch = tf.constant(np.stack([_image(16)]))
    np.testing.assert_allclose(loaded(batch), model(batch), atol=1e-6)
    for loaded_gram, gram in zip(loaded.style_grams, model.style_grams):  # the style came with the weights
        np.testing.assert_allclose(loaded_gram, gram, rtol=1e-6)
    assert float(loaded.compute_losses(batch)[1]["loss"]) == pytest.approx(float(model.compute_losses(batch)[1]["loss"]),
                                                                          rel=1e-5)


def test_fast_style_transfer_rejects_bad_weights(extractor):
    with pytest.raises(ValueError, match="style_weight"):
        _model(extractor, style_weight=-1.0)
    with pytest.raises(ValueError, match="style_layer_weights"):
        _model(extractor, style_layer_weights=[1.0])


def test_a_distributed_fast_style_step_equals_a_single_device_step():
    # A global batch of 4 split over two logical CPUs must update the weights as one device
    # does with all 4 images: each replica divides its loss by the replica count.
    output = run_with_two_cpus(textwrap.dedent("""
        import keras, numpy as np
        from lib import style_transfer as st, training

        def image(seed, size=32):
            rng = np.random.default_rng(seed)
            return np.kron(rng.uniform(0, 1, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype("float32")

        def make(scope):
            keras.utils.set_random_seed(0)
            with scope:
                network = st.build_transform_network(filters=(8, 8, 8), residual_blocks=1)
                features = st.build_vgg_feature_extractor(("block2_conv2", "block1_conv1", "block2_conv1"),
                                                          weights="random")
                model = st.FastStyleTransfer(network, features, image(13),
                                             style_layers=("block1_conv1", "block2_conv1"))
                # SGD, not Adam: Adam's first step is lr * sign(gradient), which turns round-off
                # in a zero gradient (a conv bias before instance norm) into a full step.
                model.compile(optimizer=keras.optimizers.SGD(0.1))
                training.build_optimizers(model)  # before strategy.run (see lib.training.build_optimizers)
            return model

        batch = tf.constant(np.stack([image(seed) for seed in range(20, 24)]))
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
    assert moved > 1e-4  # the step changed the weights, so the gap below means something
    assert gap < 1e-4 * moved, (gap, moved)
    single_loss, distributed_loss = map(float, values["loss"].split())
    assert distributed_loss == pytest.approx(single_loss, rel=1e-4)
