"""Tests of lib/diffusion.py: known values, shapes, saving, exact resume, tf.distribute, seeds, bad input."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lib import diffusion
from tests.distributed import run_with_two_cpus



def tiny_model(num_classes=None, seed=0, **overrides):
    keras.utils.set_random_seed(0)
    settings = {"timesteps": 50, **overrides}
    return diffusion.make_diffusion("tiny", num_classes=num_classes, seed=seed, **settings)


@pytest.fixture(scope="module")
def trained():
    """A tiny unconditional and a tiny conditional model, one training step each (shared, not modified)."""
    models = {}
    for num_classes in (None, 10):
        model = tiny_model(num_classes)
        batch = tf.constant(digits_batch())
        model.train_step(batch if num_classes is None else (batch, tf.constant(np.arange(8) % 10)))
        models[num_classes] = model
    return models


def scalar(value):
    """The one number in a tensor of any shape."""
    return float(np.asarray(value).reshape(-1)[0])


def digits_batch(count=8, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


# ----------------------------------------------------------------------------
# Schedules
# ----------------------------------------------------------------------------


def test_linear_alpha_bar_matches_its_closed_form():
    betas = diffusion.make_betas("linear", 1000)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)
    alpha_bar = diffusion.alpha_bars(betas)
    # By hand: the first two steps.
    assert alpha_bar[0] == pytest.approx(1 - 1e-4, rel=1e-12)
    assert alpha_bar[1] == pytest.approx((1 - 1e-4) * (1 - (1e-4 + 0.0199 / 999)), rel=1e-12)
    # Closed form: log alpha_bar_t = sum_s log(1 - beta_s) with beta_s = b0 + (b1 - b0) s / (T - 1);
    # to second order, -sum beta_s - sum beta_s^2 / 2, both sums of an arithmetic sequence.
    t = np.arange(1000)
    n = t + 1
    slope = (0.02 - 1e-4) / 999
    sum_beta = n * 1e-4 + slope * t * n / 2
    sum_beta_squared = n * 1e-8 + 2 * 1e-4 * slope * t * n / 2 + slope**2 * t * n * (2 * t + 1) / 6
    closed = np.exp(-sum_beta - sum_beta_squared / 2)
    np.testing.assert_allclose(alpha_bar, closed, rtol=2e-3)
    # Ho et al.'s schedule leaves sqrt(alpha_bar_T) = 0.0064 of the signal (SNR ~ 4e-5).
    assert alpha_bar[-1] == pytest.approx(4.036e-5, rel=1e-3)


def test_cosine_alpha_bar_is_nichol_and_dhariwals_formula_until_the_clip():
    T, s = 1000, 0.008
    alpha_bar = diffusion.alpha_bars(diffusion.make_betas("cosine", T))
    f = lambda u: np.cos((u / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    expected = f(np.arange(1, T + 1)) / f(0)
    np.testing.assert_allclose(alpha_bar[:-1], expected[:-1], rtol=1e-9)  # the last beta is clipped at 0.999
    assert alpha_bar[499] == pytest.approx(f(500) / f(0))
    assert np.all(np.diff(alpha_bar) < 0)


@pytest.mark.parametrize("kwargs, message", [
    ({"schedule": "sigmoid"}, "Expected a schedule in"),
    ({"timesteps": 0}, "positive integer timesteps"),
    ({"schedule": "linear", "beta_start": 0.1, "beta_end": 0.01}, "beta_start <= beta_end"),
])
def test_bad_schedules_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        diffusion.make_betas(**kwargs)


def test_an_unknown_schedule_is_refused_by_the_model_builder():
    with pytest.raises(ValueError, match="Expected a schedule in"):
        diffusion.make_diffusion("tiny", schedule="quadratic")
    with pytest.raises(ValueError, match="Expected settings among"):
        diffusion.make_diffusion("tiny", shedule="cosine")


# ----------------------------------------------------------------------------
# The forward process, the posterior and DDIM
# ----------------------------------------------------------------------------


def test_q_sample_has_the_closed_form_mean_and_variance():
    table = np.array([0.9, 0.5, 0.1])
    images = np.full((20000, 1, 1, 1), 0.6, np.float32)
    noise = np.random.default_rng(0).standard_normal(images.shape).astype(np.float32)
    for t, alpha_bar in enumerate(table):
        noisy = diffusion.q_sample(images, np.full(20000, t), noise, table).numpy()
        assert noisy.mean() == pytest.approx(math.sqrt(alpha_bar) * 0.6, abs=0.02)
        assert noisy.var() == pytest.approx(1 - alpha_bar, rel=0.03)
    # And exactly, for one draw: sqrt(0.5) * 0.6 + sqrt(0.5) * noise.
    one = diffusion.q_sample(images[:2], [1, 2], noise[:2], table).numpy()
    np.testing.assert_allclose(one[0], math.sqrt(0.5) * 0.6 + math.sqrt(0.5) * noise[0], rtol=1e-6)
    np.testing.assert_allclose(one[1], math.sqrt(0.1) * 0.6 + math.sqrt(0.9) * noise[1], rtol=1e-6)


def test_posterior_mean_and_variance_at_hand_computed_values():
    # alpha_bar_t = 0.5, alpha_bar_s = 0.8: alpha = 0.625, beta = 0.375.
    x0 = tf.constant([[[[1.0]]]])
    xt = tf.constant([[[[2.0]]]])
    mean, variance = diffusion.posterior_mean_variance(x0, xt, 0.5, 0.8)
    coefficient_x0 = math.sqrt(0.8) * 0.375 / 0.5  # 0.670820
    coefficient_xt = math.sqrt(0.625) * 0.2 / 0.5  # 0.316228
    assert scalar(mean) == pytest.approx(coefficient_x0 * 1.0 + coefficient_xt * 2.0, rel=1e-6)
    assert scalar(mean) == pytest.approx(1.303276, rel=1e-5)
    assert scalar(variance) == pytest.approx(0.15, rel=1e-6)
    # The same from Bayes' rule: q(x_s | x_0) = N(sqrt(0.8) x_0, 0.2), q(x_t | x_s) = N(sqrt(0.625) x_s, 0.375).
    precision = 1 / 0.2 + 0.625 / 0.375
    bayes_mean = (math.sqrt(0.8) * 1.0 / 0.2 + math.sqrt(0.625) * 2.0 / 0.375) / precision
    assert scalar(mean) == pytest.approx(bayes_mean, rel=1e-6)
    assert scalar(variance) == pytest.approx(1 / precision, rel=1e-6)


def test_one_step_posterior_is_ho_et_als_equation_seven():
    betas = diffusion.make_betas("linear", 1000)
    alpha_bar = diffusion.alpha_bars(betas)
    t = 600
    x0, xt = tf.constant([[[[0.3]]]]), tf.constant([[[[-0.7]]]])
    mean, variance = diffusion.posterior_mean_variance(x0, xt, alpha_bar[t], alpha_bar[t - 1])
    expected_mean = (math.sqrt(alpha_bar[t - 1]) * betas[t] / (1 - alpha_bar[t]) * 0.3
                     + math.sqrt(1 - betas[t]) * (1 - alpha_bar[t - 1]) / (1 - alpha_bar[t]) * -0.7)
    assert scalar(mean) == pytest.approx(expected_mean, rel=1e-5)
    assert scalar(variance) == pytest.approx((1 - alpha_bar[t - 1]) / (1 - alpha_bar[t]) * betas[t], rel=1e-5)


def test_a_ddim_step_with_the_true_noise_recovers_x0_exactly():
    rng = np.random.default_rng(1)
    x0 = rng.uniform(-1, 1, (4, 28, 28, 1)).astype(np.float32)
    eps = rng.standard_normal(x0.shape).astype(np.float32)
    table = diffusion.alpha_bars(diffusion.make_betas("cosine", 1000))
    xt = diffusion.q_sample(x0, np.full(4, 700), eps, table)
    # To the clean image (alpha_bar_s = 1): x_0 itself.
    np.testing.assert_allclose(diffusion.ddim_step(x0, eps, 1.0).numpy(), x0, atol=1e-6)
    # To an intermediate step, eta = 0: exactly where q_sample puts x_0 with the same noise.
    landed = diffusion.ddim_step(x0, eps, table[200], alpha_bar=table[700], eta=0.0)
    np.testing.assert_allclose(landed.numpy(), diffusion.q_sample(x0, np.full(4, 200), eps, table).numpy(), atol=1e-5)
    # And the noise and x_0 that split_prediction reads from an exact prediction are the true ones.
    for parameterization, prediction in {
        "epsilon": eps,
        "v": math.sqrt(table[700]) * eps - math.sqrt(1 - table[700]) * x0,
        "x0": x0,
    }.items():
        got_x0, got_eps = diffusion.split_prediction(prediction, xt, np.full(4, table[700]), parameterization)
        np.testing.assert_allclose(got_x0.numpy(), x0, atol=2e-4)
        np.testing.assert_allclose(got_eps.numpy(), eps, atol=2e-4)


def test_ddim_with_eta_one_is_the_ddpm_posterior():
    x0 = tf.constant(np.full((1, 1, 1, 1), 0.4, np.float32))
    eps = tf.constant(np.full((1, 1, 1, 1), -1.2, np.float32))
    alpha_bar, previous = 0.3, 0.6
    xt = math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * eps
    z = tf.constant(np.full((1, 1, 1, 1), 0.5, np.float32))
    mean, variance = diffusion.posterior_mean_variance(x0, xt, alpha_bar, previous)
    ddim = diffusion.ddim_step(x0, eps, previous, alpha_bar=alpha_bar, eta=1.0, noise=z)
    assert scalar(ddim) == pytest.approx(scalar(mean + tf.sqrt(variance) * z), rel=1e-5)


def test_diffusion_loss_is_zero_for_a_perfect_prediction_and_names_its_terms():
    rng = np.random.default_rng(2)
    x0 = rng.uniform(-1, 1, (3, 4, 4, 1)).astype(np.float32)
    eps = rng.standard_normal(x0.shape).astype(np.float32)
    alpha_bar = np.array([0.9, 0.5, 0.2], np.float32)
    terms = diffusion.diffusion_loss(eps, x0, eps, alpha_bar, "epsilon")
    assert set(terms) == {"loss", "noise_loss", "image_loss"}
    assert all(float(value) == pytest.approx(0.0, abs=1e-10) for value in terms.values())
    # A zero prediction of the noise costs the noise's mean square.
    assert float(diffusion.diffusion_loss(np.zeros_like(eps), x0, eps, alpha_bar, "epsilon")["loss"]) == \
        pytest.approx(float(np.mean(eps**2)), rel=1e-6)
    with pytest.raises(ValueError, match="parameterization"):
        diffusion.diffusion_loss(eps, x0, eps, alpha_bar, "score")


def test_sampling_timesteps_cover_the_chain():
    np.testing.assert_array_equal(diffusion.sampling_timesteps(1000, 5), [999, 749, 500, 250, 0])
    np.testing.assert_array_equal(diffusion.sampling_timesteps(10, 10), np.arange(9, -1, -1))
    for bad in (0, -3, 11, 2.5, True):
        with pytest.raises(ValueError, match="Expected steps"):
            diffusion.sampling_timesteps(10, bad)


# ----------------------------------------------------------------------------
# The network
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("image_shape, widths, num_classes", [
    ((28, 28, 1), (8, 16), None),
    ((28, 28, 1), (8, 16), 10),
    ((32, 32, 3), (8, 16, 16), None),
    ((16, 16, 1), (8,), 3),
])
def test_unet_shapes(image_shape, widths, num_classes):
    network = diffusion.build_unet(image_shape=image_shape, widths=widths, embedding_dim=16, groups=4,
                                   num_classes=num_classes)
    batch = 3
    inputs = [tf.zeros((batch, *image_shape)), tf.constant([0, 5, 9], tf.int32)]
    if num_classes:
        inputs.append(tf.constant([0, 1, num_classes], tf.int32))  # num_classes is the "no label" token
    assert tuple(network(inputs).shape) == (batch, *image_shape)
    assert network.get_layer("head").output.shape[1] == image_shape[0] // 2  # nothing at full resolution


@pytest.mark.parametrize("kwargs, message", [
    ({"image_shape": (30, 30, 1)}, "divisible by 4"),
    ({"widths": (8, 12), "groups": 8}, "divisible by groups"),
    ({"embedding_dim": 15}, "even embedding_dim"),
    ({"blocks_per_level": 0}, "positive integer blocks_per_level"),
])
def test_unet_builder_rejects_bad_arguments(kwargs, message):
    arguments = {"widths": (8, 16), "groups": 4, "embedding_dim": 16, **kwargs}
    with pytest.raises(ValueError, match=message):
        diffusion.build_unet(**arguments)


def test_the_course_network_survives_a_keras_file_in_safe_mode(tmp_path):
    network = diffusion.build_unet(widths=(8, 16), attention=True, embedding_dim=16, groups=4, num_classes=10)
    network.save(tmp_path / "unet.keras")
    loaded = keras.saving.load_model(tmp_path / "unet.keras", safe_mode=True)
    inputs = [tf.constant(digits_batch(2)), tf.constant([3, 900]), tf.constant([1, 10])]
    np.testing.assert_allclose(loaded(inputs).numpy(), network(inputs).numpy(), atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in network.layers]


def test_timestep_embedding_is_sines_and_cosines():
    features = diffusion.TimestepEmbedding(4, max_period=100.0)(tf.constant([0, 3])).numpy()
    np.testing.assert_allclose(features[0], [0, 0, 1, 1], atol=1e-7)
    np.testing.assert_allclose(features[1], [math.sin(3), math.sin(0.3), math.cos(3), math.cos(0.3)], rtol=1e-5)


# ----------------------------------------------------------------------------
# The model: saving, the step, EMA, seeds, distribution
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("num_classes", [None, 10])
def test_keras_file_round_trip_in_safe_mode(tmp_path, trained, num_classes):
    model = trained[num_classes]
    batch = digits_batch()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    labels = None if num_classes is None else np.arange(4) % 10
    np.testing.assert_allclose(loaded.generate(4, labels=labels, steps=3), model.generate(4, labels=labels, steps=3),
                               atol=1e-6)
    inputs = [tf.constant(batch[:2]), tf.constant([3, 30])] + ([] if num_classes is None else [tf.constant([1, 2])])
    np.testing.assert_allclose(loaded.network(inputs).numpy(), model.network(inputs).numpy(), atol=1e-6)
    assert loaded.get_config()["guidance"] == model.guidance and loaded.num_classes == num_classes
    # The sampling-only export: one network (the EMA weights), no optimizer, the same samples.
    exported = model.export_for_sampling()
    assert exported.ema_network is None and exported.ema_decay is None
    exported.save(tmp_path / "export.keras")
    reloaded = keras.saving.load_model(tmp_path / "export.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.generate(4, labels=labels, steps=3), model.generate(4, labels=labels, steps=3),
                               atol=1e-6)


def test_ema_follows_its_formula():
    model = tiny_model(ema_decay=0.9)
    before = [w.numpy().copy() for w in model.ema_network.weights]
    model.train_step(tf.constant(digits_batch()))
    decay = min(0.9, 2.0 / 11.0)  # iterations = 1 after the update
    for ema, start, weight in zip(model.ema_network.weights, before, model.network.weights):
        np.testing.assert_allclose(ema.numpy(), decay * start + (1 - decay) * weight.numpy(), atol=1e-6)
    assert model.sampling_network is model.ema_network


def test_the_same_step_runs_in_fit_and_in_a_jit_compiled_loop():
    model = tiny_model()
    history = model.fit(digits_batch(16), batch_size=8, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "noise_loss", "image_loss"}
    compiled = tf.function(model.train_step, jit_compile=True)
    logs = compiled(tf.constant(digits_batch()))
    assert np.isfinite(float(logs["loss"]))


def test_every_draw_has_its_own_seed_in_and_across_steps():
    seeds = {tuple(diffusion.stateless_seed(0, purpose, step).numpy())
             for purpose in diffusion.SEED_PURPOSES for step in range(50)}
    assert len(seeds) == len(diffusion.SEED_PURPOSES) * 50
    # Inside the step: record what was drawn in two consecutive steps.
    model = tiny_model(num_classes=10, label_dropout=0.5)
    drawn = []
    original = model._draw

    def recording(sampler, batch_size, shape, purpose, **kwargs):
        values = original(sampler, batch_size, shape, purpose, **kwargs)
        drawn.append((purpose, int(model.optimizer.iterations.numpy()), values.numpy()))
        return values

    model._draw = recording
    for _ in range(2):
        model.train_step((tf.constant(digits_batch()), tf.constant(np.arange(8) % 10)))
    assert [(purpose, step) for purpose, step, _ in drawn] == [
        ("timesteps", 0), ("noise", 0), ("label_dropout", 0), ("timesteps", 1), ("noise", 1), ("label_dropout", 1)]
    assert not np.array_equal(drawn[1][2], drawn[4][2])  # noise differs across steps
    assert not np.array_equal(drawn[0][2], drawn[3][2])  # so do the timesteps
    assert not np.allclose(drawn[1][2].ravel()[:8], drawn[2][2])  # and no two draws of a step share a seed


def test_a_distributed_step_equals_a_single_device_step():
    output = run_with_two_cpus(
        """
        import keras, numpy as np
        from lib import diffusion

        def make(scope):
            keras.utils.set_random_seed(0)
            with scope:
                return diffusion.make_diffusion("tiny", num_classes=10, seed=5, timesteps=50, label_dropout=0.5)

        images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
        labels = (np.arange(8) % 10).astype("int32")
        single = make(tf.distribute.get_strategy().scope())
        single_logs = tf.function(single.train_step)((tf.constant(images), tf.constant(labels)))

        mirrored = make(strategy.scope())
        dataset = strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensor_slices((images, labels)).batch(8))

        @tf.function
        def distributed_step(batch):
            return strategy.run(mirrored.train_step, args=(batch,))

        for batch in dataset:
            logs = distributed_step(batch)
        replica_losses = strategy.experimental_local_results(logs["loss"])
        weight_gap = max(float(np.max(np.abs(a - b))) for a, b in zip(single.network.get_weights(),
                                                                      mirrored.network.get_weights()))
        ema_gap = max(float(np.max(np.abs(a - b))) for a, b in zip(single.ema_network.get_weights(),
                                                                   mirrored.ema_network.get_weights()))
        print("replicas", len(replica_losses))
        print("weight_gap", weight_gap)
        print("ema_gap", ema_gap)
        print("loss", float(single_logs["loss"]), float(np.mean([float(v) for v in replica_losses])))
        """
    )
    values = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert int(values["replicas"]) == 2
    assert float(values["weight_gap"]) < 1e-5
    assert float(values["ema_gap"]) < 1e-5
    single, distributed = map(float, values["loss"].split())
    assert distributed == pytest.approx(single, rel=1e-4)


# ----------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------


def test_generate_returns_unit_range_images_and_ddim_is_deterministic_for_a_seed(trained):
    model = trained[None]
    first = model.generate(5, seed=7, steps=4)
    assert first.shape == (5, 28, 28, 1) and first.dtype == np.float32
    assert first.min() >= 0.0 and first.max() <= 1.0
    np.testing.assert_array_equal(first, model.generate(5, seed=7, steps=4))
    assert not np.array_equal(first, model.generate(5, seed=8, steps=4))
    # The chunking does not change the images, and neither does the compilation mode.
    np.testing.assert_allclose(first, model.generate(5, seed=7, steps=4, batch_size=2), atol=1e-5)
    np.testing.assert_allclose(first, model.generate(5, seed=7, steps=4, mode="eager"), atol=1e-5)
    # With no steps given, DDIM takes 50 (at most T) and DDPM the full chain of T.
    counts, longer = {}, tiny_model(timesteps=80)
    for sampler in ("ddim", "ddpm"):
        longer.generate(1, seed=0, sampler=sampler, callback=lambda done, total, s=sampler: counts.__setitem__(s, total))
    assert counts == {"ddim": 50, "ddpm": 80}
    # DDPM sampling is stochastic but seeded too.
    ddpm = model.generate(5, seed=7, steps=4, sampler="ddpm")
    np.testing.assert_array_equal(ddpm, model.generate(5, seed=7, steps=4, sampler="ddpm"))
    assert not np.allclose(ddpm, first)


def test_sample_chain_keeps_snapshots_from_noise_to_image(trained):
    model = trained[None]
    images, snapshots = model.sample_chain(2, seed=0, steps=6, keep=3)
    kept = [t for t, _, _ in snapshots]
    assert len(kept) == 3 and kept[0] == 49 and kept[-1] == 0  # from pure noise to the last step
    assert snapshots[0][1].shape == (2, 28, 28, 1) and images.shape == (2, 28, 28, 1)
    assert images.min() >= -1.0 and images.max() <= 1.0


def test_guidance_mixes_the_conditional_and_unconditional_predictions(trained):
    model = trained[10]  # one step away from the start: the label matters
    x = tf.constant(np.random.default_rng(0).standard_normal((3, 28, 28, 1)), tf.float32)
    labels, null = tf.constant([0, 4, 9]), tf.fill([3], 10)  # label 10 is "no label"
    conditional = model.guided_prediction(x, 30, labels, None).numpy()
    unconditional = model.guided_prediction(x, 30, null, None).numpy()
    assert not np.allclose(conditional, unconditional)
    for scale in (0.0, 1.0, 2.5):
        np.testing.assert_allclose(model.guided_prediction(x, 30, labels, scale).numpy(),
                                   unconditional + scale * (conditional - unconditional), atol=1e-5)
    # Guidance 1 and None (the model's default, 1 here) are the plain conditional model.
    np.testing.assert_allclose(model.generate(3, labels=[0, 4, 9], steps=3, guidance=1.0),
                               model.generate(3, labels=[0, 4, 9], steps=3), atol=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "positive integer n"),
    ({"steps": -1}, "Expected steps"),
    ({"steps": 0}, "Expected steps"),
    ({"steps": 51}, r"Expected steps, an integer in \[1, 50\]"),
    ({"guidance": 2.0}, "Expected no guidance scale for an unconditional"),
    ({"labels": [1, 2]}, "Expected no labels"),
    ({"sampler": "euler"}, "Expected a sampler"),
    ({"eta": 2.0}, "Expected eta"),
])
def test_unconditional_generate_refuses_bad_input(trained, kwargs, message):
    model = trained[None]
    arguments = {"n": 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        model.generate(arguments.pop("n"), **arguments)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "Expected labels in"),
    ({"labels": [0, 10]}, r"Expected labels in \[0, 9\]"),
    ({"labels": [0, -1]}, r"Expected labels in \[0, 9\]"),
    ({"labels": [0, 1, 2]}, r"Expected labels of shape \(2,\)"),
    ({"labels": [0.5, 1.0]}, "integer labels"),
    ({"labels": [0, 1], "guidance": -1.0}, "guidance scale >= 0"),
])
def test_conditional_generate_refuses_bad_input(trained, kwargs, message):
    model = trained[10]
    with pytest.raises(ValueError, match=message):
        model.generate(2, steps=2, **kwargs)


def test_images_of_the_wrong_shape_or_range_are_refused(trained):
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28, 1\)"):
        diffusion.validate_images(np.zeros((2, 28, 28)), (28, 28, 1))
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        diffusion.validate_images(np.full((2, 28, 28, 1), 255.0), (28, 28, 1))
    with pytest.raises(ValueError, match="float images"):
        diffusion.validate_images(np.zeros((2, 28, 28, 1), np.uint8), (28, 28, 1))
    model = trained[None]
    with pytest.raises(ValueError, match="Expected image batches of shape"):
        model.train_step(tf.zeros((4, 32, 32, 1)))
    with pytest.raises(ValueError, match="Expected .images, labels. batches"):
        model.train_step((tf.zeros((4, 28, 28, 1)), tf.zeros((4,), tf.int32)))
    noisy = model.add_noise(digits_batch(2), [0, 49], seed=0)
    assert noisy.shape == (2, 28, 28, 1)
    with pytest.raises(ValueError, match=r"values in \[-1.0, 1.0\]"):
        model.add_noise(np.full((2, 28, 28, 1), 3.0, np.float32), [0, 1])
    with pytest.raises(ValueError, match=r"timesteps in \[0, 49\]"):
        model.add_noise(digits_batch(2), [0, 50])


def test_model_refuses_bad_settings():
    network = diffusion.build_unet(widths=(8, 16), groups=4, embedding_dim=16)
    for kwargs, message in [({"parameterization": "score"}, "parameterization"),
                            ({"ema_decay": 1.0}, "ema_decay"),
                            ({"label_dropout": 1.0}, "label_dropout"),
                            ({"guidance": -2.0}, "guidance"),
                            ({"schedule": "exp"}, "Expected a schedule")]:
        with pytest.raises(ValueError, match=message):
            diffusion.DiffusionModel(network, **kwargs)
