"""Tests for lib/vae.py: known values of the KL, ELBO and IWAE bound, the model's
training step (plain, tf.function, jit, fit, MirroredStrategy), its seeds, the
presets, sampling, save/load with safe mode on, and errors."""

import math
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from lib import vae

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _images(count, seed=0):
    """A few structured 'images' in [0, 1]: blurred blobs, so a VAE can learn them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    centres = rng.uniform(8, 20, size=(count, 2))
    images = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 30.0)
    return images[..., None].astype("float32")  # (count, 28, 28, 1)


def _small_vae(dynamic_binarization=True, seed=1, **overrides):
    settings = dict(architecture="mlp", latent_dim=2, hidden_units=[16])
    settings.update(overrides)
    return vae.make_vae("vae", seed=seed, dynamic_binarization=dynamic_binarization, **settings)


# ----------------------------------------------------------------------------
# Pure functions: known values
# ----------------------------------------------------------------------------
def test_kl_of_standard_normal_is_zero():
    kl = vae.gaussian_kl(np.zeros((3, 4)), np.zeros((3, 4)))
    np.testing.assert_allclose(kl.numpy(), np.zeros(3), atol=1e-7)


def test_kl_hand_computed():
    # dim 1: N(1, 1):  0.5 * (1 + 1 - 1 - 0)          = 0.5
    # dim 2: N(0, 2):  0.5 * (2 + 0 - 1 - log 2)      = 0.1534264
    kl = vae.gaussian_kl(np.array([[1.0, 0.0]]), np.array([[0.0, math.log(2.0)]]))
    np.testing.assert_allclose(kl.numpy(), [0.5 + 0.5 * (1.0 - math.log(2.0))], rtol=1e-6)


def test_negative_elbo_equals_hand_computed_sum():
    images = np.zeros((1, 28, 28, 1), np.float32)
    images[0, 0, 0, 0] = 1.0
    logits = np.zeros((1, 28, 28, 1), np.float32)
    logits[0, 0, 0, 0] = 2.0
    logits[0, 5, 5, 0] = -3.0
    # log p(x|z): pixel (0,0) is on with logit 2 -> log sigmoid(2); pixel (5,5) is off with logit -3
    # -> log(1 - sigmoid(-3)) = log sigmoid(3); the other 782 pixels are off with logit 0 -> log 0.5.
    log_sigmoid = lambda t: -math.log1p(math.exp(-t))
    log_likelihood = log_sigmoid(2.0) + log_sigmoid(3.0) + 782 * math.log(0.5)
    kl = 0.5 * (math.exp(0.5) + 0.25 - 1.0 - 0.5)  # mean 0.5, log_var 0.5, one latent dim
    terms = vae.negative_elbo(images, logits, np.array([[0.5]]), np.array([[0.5]]), beta=3.0)
    np.testing.assert_allclose(terms["reconstruction_loss"].numpy(), -log_likelihood, rtol=1e-6)
    np.testing.assert_allclose(terms["kl_loss"].numpy(), kl, rtol=1e-6)
    np.testing.assert_allclose(terms["loss"].numpy(), -log_likelihood + 3.0 * kl, rtol=1e-6)


def test_sampling_has_requested_mean_and_variance():
    mean = np.tile([[1.0, -2.0]], (40000, 1)).astype("float32")
    log_var = np.tile([[math.log(4.0), math.log(0.25)]], (40000, 1)).astype("float32")
    samples = vae.Sampling(seed=3)([mean, log_var]).numpy()
    np.testing.assert_allclose(samples.mean(axis=0), [1.0, -2.0], atol=0.03)
    np.testing.assert_allclose(samples.var(axis=0), [4.0, 0.25], rtol=0.03)
    # With explicit noise the layer is exactly mean + std * noise.
    noise = np.array([[0.5, -1.0]], np.float32)
    z = vae.Sampling()([mean[:1], log_var[:1]], noise=noise).numpy()
    np.testing.assert_allclose(z, [[1.0 + 2.0 * 0.5, -2.0 - 0.5 * 1.0]], rtol=1e-6)


class _LinearToyModel:
    """A one-dimensional-latent model whose log p(x) we can integrate numerically.

    p(z) = N(0, 1); p(x|z) = Bernoulli(sigmoid(w z + c)) per pixel; the proposal
    q(z|x) = N(0.3, 0.8) on purpose differs from the true posterior.
    """

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.w = rng.normal(0, 0.15, size=(1, 28, 28, 1)).astype("float32")
        self.c = rng.normal(0, 1.0, size=(1, 28, 28, 1)).astype("float32")

    def encode(self, images):
        batch = images.shape[0]
        return tf.fill((batch, 1), 0.3), tf.fill((batch, 1), math.log(0.8))

    def decode(self, latents):
        return tf.reshape(latents, (-1, 1, 1, 1)) * self.w + self.c

    def exact_log_likelihood(self, images):
        """log p(x) by quadrature on a fine grid of z."""
        z = np.linspace(-8, 8, 4001)
        logits = z[:, None] * self.w.reshape(1, -1) + self.c.reshape(1, -1)  # (grid, 784)
        log_p_x_given_z = -np.logaddexp(0, -logits) @ images.reshape(len(images), -1).T \
            - np.logaddexp(0, logits) @ (1 - images.reshape(len(images), -1)).T  # (grid, batch)
        log_joint = log_p_x_given_z - 0.5 * z[:, None] ** 2 - 0.5 * math.log(2 * math.pi)
        peak = log_joint.max(axis=0)
        return peak + np.log(np.trapezoid(np.exp(log_joint - peak), z, axis=0))


def test_iwae_with_one_sample_is_the_single_sample_elbo():
    model = _LinearToyModel()
    images = vae.binarize(_images(3), seed=5).numpy()
    noise = np.random.default_rng(1).normal(size=(1, 3, 1)).astype("float32")
    bound = vae.iwae_bound(model, images, k=1, noise=noise)
    # Independent NumPy computation of log p(x|z) + log p(z) - log q(z|x) for z = mean + std * noise.
    z = 0.3 + math.sqrt(0.8) * noise[0]  # (3, 1)
    logits = z[:, :, None, None] * model.w + model.c  # (3, 28, 28, 1)
    log_px_z = np.sum(images * -np.logaddexp(0, -logits) + (1 - images) * -np.logaddexp(0, logits), axis=(1, 2, 3))
    log_pz = -0.5 * (z[:, 0] ** 2 + math.log(2 * math.pi))
    log_qz = -0.5 * ((z[:, 0] - 0.3) ** 2 / 0.8 + math.log(0.8) + math.log(2 * math.pi))
    np.testing.assert_allclose(bound, log_px_z + log_pz - log_qz, rtol=1e-5)


def test_iwae_increases_with_k_towards_the_exact_log_likelihood():
    model = _LinearToyModel()
    images = vae.binarize(_images(4, seed=2), seed=6).numpy()
    exact = model.exact_log_likelihood(images)
    means = {k: np.mean([vae.iwae_bound(model, images, k=k, seed=s).mean() for s in range(30)])
             for k in (1, 10, 100)}
    assert means[1] < means[10] < means[100] <= exact.mean() + 0.05, (means, exact.mean())
    assert exact.mean() - means[1] > 0.5  # the proposal is poor, so the gap is real
    # Many samples (in chunks) reach the exact value.
    many = vae.iwae_bound(model, images, k=5000, seed=0, max_decoded=1000)
    np.testing.assert_allclose(many, exact, atol=0.05)


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------
def test_encode_decode_shapes_and_generate_range():
    model = _small_vae(latent_dim=3, architecture="conv", filters=[4, 8], dense_units=8)
    mean, log_var = model.encode(_images(5))
    assert mean.shape == (5, 3) and log_var.shape == (5, 3)
    assert model.decode(mean).shape == (5, 28, 28, 1)
    samples = model.generate(4, seed=1)
    assert isinstance(samples, np.ndarray) and samples.dtype == np.float32
    assert samples.shape == (4, 28, 28, 1) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, model.generate(4, seed=1))  # the seed fixes the images
    assert not np.array_equal(samples, model.generate(4, seed=2))


def _assert_round_trip(model, inputs, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, vae.VAE)
    np.testing.assert_array_equal(model(inputs).numpy(), loaded(inputs).numpy())
    mean, _ = model.encode(*(inputs if isinstance(inputs, list) else [inputs]))
    np.testing.assert_array_equal(mean.numpy(), loaded.encode(*(inputs if isinstance(inputs, list) else [inputs]))[0].numpy())
    assert loaded.get_config()["beta"] == model.beta and loaded.num_classes == model.num_classes
    assert loaded.kl_warmup_steps == model.kl_warmup_steps and loaded.latent_dim == model.latent_dim
    # config round trip
    rebuilt = vae.VAE.from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(inputs).numpy(), rebuilt(inputs).numpy())


def test_save_load_round_trip_mlp(tmp_path):
    model = _small_vae(beta=2.5, kl_warmup_steps=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(_images(8), batch_size=4, epochs=1, verbose=0)
    _assert_round_trip(model, _images(4, seed=3), tmp_path)


def test_save_load_round_trip_conditional_conv(tmp_path):
    model = _small_vae(architecture="conv", filters=[4, 8], dense_units=8, num_classes=10)
    _assert_round_trip(model, [_images(4), np.array([0, 3, 9, 1])], tmp_path)


def test_training_steps_lower_the_loss():
    images = vae.binarize(_images(64), seed=0).numpy()
    model = _small_vae(latent_dim=2, hidden_units=[64], dynamic_binarization=False)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)["loss"]
    step = tf.function(model.train_step)
    for _ in range(40):
        logs = step(tf.constant(images))
    after = model.evaluate(images, batch_size=64, verbose=0, return_dict=True)["loss"]
    assert set(logs) == {"loss", "reconstruction_loss", "kl_loss"}
    assert after < before - 100, (before, after)  # from ~543 nats (coin flips) to far less


def test_fit_works_and_logs_the_terms():
    model = _small_vae(num_classes=10)
    model.compile(optimizer="adam")
    history = model.fit(_images(32), np.arange(32) % 10, batch_size=8, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert all(np.isfinite(v).all() for v in history.history.values())


def test_jit_step_is_reproducible_and_agrees_with_plain_step():
    # XLA draws stateless random numbers with its own generator, so a jitted step sees
    # different (equally valid) noise than a plain one: equal losses up to noise, and two
    # jitted runs from the same state are identical.
    images = tf.constant(_images(16))
    models = [_small_vae(seed=4) for _ in range(3)]
    for model in models:
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        model.set_weights(models[0].get_weights())
    plain = tf.function(models[0].train_step)(images)
    jitted = [tf.function(model.train_step, jit_compile=True)(images) for model in models[1:]]
    assert jitted[0]["loss"].numpy() == jitted[1]["loss"].numpy()
    for a, b in zip(models[1].get_weights(), models[2].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert abs(float(plain["loss"]) - float(jitted[0]["loss"])) < 5.0  # ~545 nats, noise ~1 nat


_MIRRORED_SCRIPT = textwrap.dedent("""
    import sys, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from lib import vae
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(16, 28, 28, 1)).astype("float32")
    labels = np.arange(16) % 10

    def build():
        model = vae.make_vae("cvae", architecture="mlp", latent_dim=2, hidden_units=[8], seed=7)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.optimizer.build(model.trainable_variables)
        return model

    single = build()
    start = single.get_weights()
    logs = tf.function(single.train_step)((tf.constant(images), tf.constant(labels)))

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = build()  # optimizer built inside the scope (see lib.training.build_optimizers)
    mirrored.set_weights(start)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
    step = tf.function(lambda data: strategy.run(mirrored.train_step, args=(data,)))
    step(batch)
    worst = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), mirrored.get_weights()))
    moved = max(float(np.abs(a - b).max()) for a, b in zip(single.get_weights(), start))
    print("RESULT", strategy.num_replicas_in_sync, worst, moved)
""")


def test_mirrored_strategy_step_equals_single_device_step():
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", _MIRRORED_SCRIPT], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=300)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    assert lines, result.stdout[-2000:] + result.stderr[-4000:]
    _, replicas, worst, moved = lines[0].split()
    assert int(replicas) == 2
    assert float(moved) > 1e-3  # the step changed the weights ...
    assert float(worst) < 1e-5  # ... identically with two replicas


# ----------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("latent_dim", [0, -3, 2.5])
def test_bad_latent_dim(latent_dim):
    with pytest.raises(ValueError, match=r"Expected latent_dim > 0.*Received: latent_dim="):
        vae.make_vae(latent_dim=latent_dim)


def test_bad_image_shape_and_values():
    model = _small_vae()
    with pytest.raises(ValueError, match=r"shape \(batch, 28, 28, 1\).*\(4, 28, 28\)"):
        model.encode(np.zeros((4, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*255"):
        model.encode(np.full((2, 28, 28, 1), 255.0, np.float32))
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        vae.bernoulli_log_likelihood(np.full((1, 28, 28, 1), -0.5), np.zeros((1, 28, 28, 1)))


def test_bad_beta():
    with pytest.raises(ValueError, match=r"Expected beta >= 0. Received: beta=-1"):
        vae.negative_elbo(np.zeros((1, 28, 28, 1)), np.zeros((1, 28, 28, 1)), np.zeros((1, 2)),
                          np.zeros((1, 2)), beta=-1)
    with pytest.raises(ValueError, match=r"Expected beta >= 0"):
        _small_vae(beta=-0.5)


def test_bad_labels():
    conditional = _small_vae(num_classes=10)
    with pytest.raises(ValueError, match=r"labels in \[0, 10\).*Received: labels from 0 to 10"):
        conditional.decode(np.zeros((2, 2)), np.array([0, 10]))
    with pytest.raises(ValueError, match=r"Expected labels .*Received: None"):
        conditional.decode(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"unconditional"):
        _small_vae().decode(np.zeros((2, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"unconditional"):
        _small_vae().generate(2, labels=[0, 1])
    with pytest.raises(ValueError, match=r"Received: None"):
        conditional.generate(2)
    with pytest.raises(ValueError, match=r"labels of shape \(3,\)"):
        conditional.generate(3, labels=[0, 1])


def test_bad_k_and_architecture():
    with pytest.raises(ValueError, match=r"Expected k >= 1.*Received: k=0"):
        vae.iwae_bound(_small_vae(), np.zeros((1, 28, 28, 1)), k=0)
    with pytest.raises(ValueError, match=r"Expected architecture in .*Received: architecture='transformer'"):
        vae.make_vae(architecture="transformer")




def test_zero_num_classes_is_refused_none_is_unconditional():
    with pytest.raises(ValueError, match=r"num_classes=None \(unconditional\).*Received: num_classes=0"):
        _small_vae(num_classes=0)
    assert _small_vae(num_classes=None).num_classes is None


# ----------------------------------------------------------------------------
# Sizes come from the networks
# ----------------------------------------------------------------------------
def test_sizes_are_read_from_the_networks():
    model = _small_vae(latent_dim=5, num_classes=7)
    assert model.latent_dim == 5 and model.num_classes == 7
    assert "latent_dim" not in model.get_config() and "num_classes" not in model.get_config()
    encoder = vae.build_mlp_encoder(3, (8,))
    with pytest.raises(ValueError, match=r"decoder taking latents of the encoder's size 3. Received: 4"):
        vae.VAE(encoder, vae.build_mlp_decoder(4, (8,)))
    with pytest.raises(ValueError, match=r"both take labels .*encoder labels None, decoder labels 10"):
        vae.VAE(encoder, vae.build_mlp_decoder(3, (8,), num_classes=10))


# ----------------------------------------------------------------------------
# Presets
# ----------------------------------------------------------------------------
def test_every_preset_has_every_key_and_builds():
    keys = set(vae.PRESETS["vae"])
    assert set(vae.MODEL_SETTINGS) <= keys
    for name, preset in vae.PRESETS.items():
        assert set(preset) == keys, name
        model = vae.make_vae(name)
        assert model.latent_dim == preset["latent_dim"] and model.num_classes == preset["num_classes"]
        assert model.beta == preset["beta"]
        assert model.decode(np.zeros((1, model.latent_dim), np.float32),
                            None if model.num_classes is None else [0]).shape == (1, 28, 28, 1)


def test_tf_docs_preset_is_the_tensorflow_docs_network():
    # https://www.tensorflow.org/tutorials/generative/cvae: Conv2D(32, 3, 2) and Conv2D(64, 3, 2) without
    # padding (28 -> 13 -> 6), Flatten, Dense(2 * latent); Dense(7 * 7 * 32), Conv2DTranspose 64 and 32
    # (stride 2, same), Conv2DTranspose(1, 3, 1). Latent 50, Adam 1e-4, batch 32.
    preset = vae.PRESETS["tf_docs"]
    assert (preset["latent_dim"], preset["learning_rate"], preset["batch_size"]) == (50, 1e-4, 32)
    model = vae.make_vae("tf_docs")
    conv = [layer.output.shape[1:] for layer in model.encoder.layers if layer.name.startswith("conv")]
    assert conv == [(13, 13, 32), (6, 6, 64)]
    assert [layer.name for layer in model.encoder.layers if isinstance(layer, keras.layers.Dense)] == \
        ["z_mean", "z_log_var"]
    assert model.decoder.get_layer("reshape").output.shape[1:] == (7, 7, 32)
    deconv = [layer.output.shape[1:] for layer in model.decoder.layers if "deconv" in layer.name]
    assert deconv == [(14, 14, 64), (28, 28, 32)]
    # Same parameter count as the docs' encoder (Dense(100) head split in two) and decoder.
    docs_encoder = 32 * 9 + 32 + 64 * 32 * 9 + 64 + (6 * 6 * 64 + 1) * 100
    docs_decoder = (50 + 1) * 7 * 7 * 32 + 64 * 32 * 9 + 64 + 32 * 64 * 9 + 32 + 32 * 9 + 1
    assert model.encoder.count_params() == docs_encoder
    assert model.decoder.count_params() == docs_decoder


def test_unknown_preset_or_setting():
    with pytest.raises(ValueError, match=r"Expected a preset in .*Received: preset='big'"):
        vae.make_vae("big")
    with pytest.raises(ValueError, match=r"Expected settings among .*Received: \['latent_size'\]"):
        vae.make_vae(latent_size=3)


def _rate(optimizer, step):
    schedule = optimizer._learning_rate
    return float(schedule(step)) if callable(schedule) else float(schedule)


def test_make_optimizer_decays_to_zero_over_the_run():
    cosine = vae.make_optimizer("vae", total_steps=100, learning_rate=1e-3, learning_rate_decay="cosine")
    assert [_rate(cosine, step) for step in (0, 50, 100)] == pytest.approx([1e-3, 5e-4, 0.0], abs=1e-9)
    linear_end = vae.make_optimizer("vae", total_steps=100, learning_rate=1e-3, learning_rate_decay="linear_end")
    assert [_rate(linear_end, step) for step in (0, 79, 80, 90, 100, 120)] == \
        pytest.approx([1e-3, 1e-3, 1e-3, 5e-4, 0.0, 0.0], abs=1e-9)
    assert _rate(vae.make_optimizer("tf_docs"), 10) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match=r"total_steps > 0 for the cosine decay"):
        vae.make_optimizer("vae", learning_rate_decay="cosine")
    with pytest.raises(ValueError, match=r"learning_rate_decay in .*Received: 'step'"):
        vae.make_optimizer("vae", learning_rate_decay="step")
    config = vae.LinearEndDecay(1e-3, 50).get_config()
    assert float(vae.LinearEndDecay.from_config(config)(45)) == pytest.approx(5e-4)


# ----------------------------------------------------------------------------
# Randomness: every draw from its own stateless seed
# ----------------------------------------------------------------------------
def test_no_two_draws_in_or_across_steps_share_a_seed():
    seeds = [tuple(vae.stateless_seed(seed, purpose, step, repeat).numpy())
             for seed in (0, 1) for purpose in vae.SEED_PURPOSES for step in range(40) for repeat in (0, 1)]
    assert len(set(seeds)) == len(seeds)


def test_train_step_draws_from_its_named_seeds():
    # A step with a zero learning rate leaves the weights alone, so its loss can be recomputed by hand
    # from the documented seeds: binarisation from (seed, "binarization", step), epsilon from
    # (seed, "latent_noise", step).
    model = _small_vae(seed=3)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    images = tf.constant(_images(8))
    step = tf.function(model.train_step)
    for iteration in range(3):
        model.reset_metrics()
        logs = step(images)
        uniform = tf.random.stateless_uniform(images.shape, vae.stateless_seed(3, "binarization", iteration),
                                              alg="philox")
        binary = tf.cast(uniform < images, tf.float32)
        mean, log_var = model.encoder(binary)
        epsilon = tf.random.stateless_normal(mean.shape, vae.stateless_seed(3, "latent_noise", iteration),
                                             alg="philox")
        expected = vae.negative_elbo(binary, model.decoder(mean + tf.exp(0.5 * log_var) * epsilon), mean, log_var)
        np.testing.assert_allclose(float(logs["loss"]), float(expected["loss"]), rtol=1e-5)


def test_kl_warmup_raises_the_kl_weight_linearly():
    model = _small_vae(beta=2.0, kl_warmup_steps=4)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    weights = []
    for _ in range(6):
        weights.append(float(model._kl_weight()))
        model.optimizer.iterations.assign_add(1)
    np.testing.assert_allclose(weights, [0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    logs = model.train_step(tf.constant(_images(4)))
    np.testing.assert_allclose(float(logs["loss"]), float(logs["reconstruction_loss"]) + 2.0 * float(logs["kl_loss"]),
                               rtol=1e-5)


# ----------------------------------------------------------------------------
# Held-out measures
# ----------------------------------------------------------------------------
def test_held_out_measures():
    images = vae.binarize_held_out(_images(6))
    np.testing.assert_array_equal(images, vae.binarize(_images(6), vae.HELD_OUT_SEED).numpy())
    model = _small_vae()
    terms = vae.negative_elbo_per_image(model, images)
    assert set(terms) == {"loss", "reconstruction_loss", "kl_loss"} and terms["loss"].shape == (6,)
    np.testing.assert_allclose(terms["loss"], terms["reconstruction_loss"] + terms["kl_loss"], rtol=1e-6)
    counted = []
    nats = vae.held_out_nats(model, images, k=30, batch_size=4, callback=counted.append)
    assert sum(counted) == 30 * 6  # every (image, sample) pair reported to the progress bar
    assert nats["k"] == 30 and nats["images"] == 6
    assert nats["negative_elbo_nats"] == pytest.approx(terms["loss"].mean())
    assert 0 < nats["nll_nats"] <= nats["negative_elbo_nats"] + 1.0  # tighter, up to noise


# ----------------------------------------------------------------------------
# The backend check: the module refuses another Keras backend at once
# ----------------------------------------------------------------------------
def test_another_backend_is_refused_at_import():
    # Keras' other backends need packages the course does not install (JAX, PyTorch), so the test
    # stands in for one: keras.backend.backend() answers "jax" when the file, copied alone, is imported.
    code = ("import sys, keras; keras.backend.backend = lambda: 'jax'; "
            "sys.path.insert(0, 'lib'); import vae")
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "ImportError: lib/vae.py needs Keras' TensorFlow backend" in result.stderr
    assert "Received: backend='jax'" in result.stderr
