"""Tests of lib/gan.py: losses at known values, networks, serialisation, the step."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from lib import gan
from tests.distributed import run_with_two_cpus

LATENT = 8


def softplus(t):
    return math.log1p(math.exp(t))


def small_gan(variant="dcgan", critic_steps=1, seed=0, learning_rates=(2e-4, 2e-4), ema_decay=0.999):
    num_classes = 10 if variant == "cgan" else None
    generator = gan.build_generator(LATENT, projection_filters=16, generator_blocks=[[8, 2]],
                                    num_classes=num_classes)
    discriminator = gan.build_discriminator(discriminator_filters=[8, 16], num_classes=num_classes)
    model = gan.VARIANTS[variant](generator, discriminator, critic_steps=critic_steps, ema_decay=ema_decay, seed=seed)
    model.compile(keras.optimizers.Adam(learning_rates[0], beta_1=0.5),
                  keras.optimizers.Adam(learning_rates[1], beta_1=0.5))
    return model


def real_batch(count=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


# -- losses at hand-computed values ------------------------------------------------


def test_discriminator_loss_at_zero_logits_is_two_log_two():
    value = gan.discriminator_loss(tf.zeros((4, 1)), tf.zeros((4, 1)))
    assert float(value) == pytest.approx(2 * math.log(2), rel=1e-6)


def test_discriminator_loss_at_hand_computed_logits():
    # real logits (2, -1), fake logits (0.5, -3)
    expected = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(-3.0)) / 2
    value = gan.discriminator_loss(tf.constant([[2.0], [-1.0]]), tf.constant([[0.5], [-3.0]]))
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_non_saturating_generator_loss_at_hand_computed_logits():
    # -log sigmoid(t) = softplus(-t): 0 -> log 2, 3 -> log(1 + e^-3), -2 -> log(1 + e^2)
    expected = (math.log(2) + softplus(-3.0) + softplus(2.0)) / 3
    assert float(gan.generator_loss(tf.constant([0.0, 3.0, -2.0]))) == pytest.approx(expected, rel=1e-6)


def test_generator_loss_is_large_when_the_discriminator_rejects_fakes():
    # Non-saturating: a confident rejection (logit -10) gives a big loss, hence a big gradient.
    assert float(gan.generator_loss(tf.constant([-10.0]))) == pytest.approx(10.0 + math.log1p(math.exp(-10)))


def test_wasserstein_losses():
    real, fake = tf.constant([[3.0], [1.0]]), tf.constant([[0.5], [-0.5]])
    assert float(gan.wasserstein_critic_loss(real, fake)) == pytest.approx(0.0 - 2.0)
    assert float(gan.wasserstein_generator_loss(fake)) == pytest.approx(0.0)
    assert float(gan.wasserstein_generator_loss(tf.constant([[2.0]]))) == pytest.approx(-2.0)


def linear_critic(weight_norm):
    """A critic C(x) = w . x with ||w|| = weight_norm; its gradient norm is weight_norm everywhere."""
    critic = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1, use_bias=False)])
    direction = np.random.default_rng(3).standard_normal((784, 1)).astype("float32")
    critic.layers[-1].kernel.assign(direction / np.linalg.norm(direction) * weight_norm)
    return critic


def test_gradient_penalty_is_zero_for_a_unit_norm_linear_critic():
    real, fake = real_batch(8, 1), real_batch(8, 2)
    epsilon = np.random.default_rng(0).uniform(size=(8, 1, 1, 1)).astype("float32")
    assert float(gan.gradient_penalty(linear_critic(1.0), real, fake, epsilon)) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("weight_norm", [0.0, 0.5, 2.0, 3.0])
def test_gradient_penalty_equals_squared_distance_of_the_norm_from_one(weight_norm):
    real, fake = real_batch(8, 1), real_batch(8, 2)
    epsilon = np.full((8, 1, 1, 1), 0.3, "float32")
    value = float(gan.gradient_penalty(linear_critic(weight_norm), real, fake, epsilon))
    assert value > 0
    assert value == pytest.approx((weight_norm - 1.0) ** 2, rel=1e-4, abs=1e-5)


def test_wgan_step_draws_interpolation_weights_from_the_unit_interval():
    model = small_gan("wgan-gp")
    weights = model.draw(tf.random.stateless_uniform, 4096, [1, 1, 1], "interpolation", step=0).numpy()
    assert weights.min() >= 0.0 and weights.max() <= 1.0
    assert weights.mean() == pytest.approx(0.5, abs=0.02)  # U(0, 1), not N(0, 1) (mean 0, negatives)


# -- networks ------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(gan.PRESETS))
def test_every_preset_builds_a_model_of_its_variant_with_the_expected_shapes(preset):
    settings = gan.PRESETS[preset]
    model = gan.make_gan(settings)
    assert type(model) is gan.VARIANTS[settings["variant"]]
    assert model.latent_dim == settings["latent_dim"] and model.num_classes == settings["num_classes"]
    labels = None if settings["num_classes"] is None else [0, 5, 9]
    images = model.generate(3, labels=labels)
    assert images.shape == (3, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    critic_input = images * 2 - 1 if labels is None else [images * 2 - 1, np.array(labels)]
    assert model.discriminator(critic_input).shape == (3, 1)


def test_conditional_networks_take_labels():
    generator = gan.build_generator(LATENT, num_classes=10)
    discriminator = gan.build_discriminator(num_classes=10)
    labels = tf.constant([0, 9, 3], tf.int32)
    images = generator([tf.zeros((3, LATENT)), labels])
    assert images.shape == (3, 28, 28, 1)
    assert discriminator([images, labels]).shape == (3, 1)
    assert "label_embedding" in [layer.name for layer in generator.layers]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 8, "image_shape": (30, 30, 1)}, "divisible by 4"),
        ({"latent_dim": 8, "generator_blocks": [[8, 2], [8, 2]]}, "exactly one stride-2"),
    ],
)
def test_generator_builder_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gan.build_generator(**kwargs)


def test_discriminator_builder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="normalization"):
        gan.build_discriminator(normalization="group")
    with pytest.raises(ValueError, match="dropout"):
        gan.build_discriminator(dropout=1.5)


def test_gan_reads_its_sizes_from_the_networks_and_rejects_mismatched_ones():
    generator, discriminator = gan.build_generator(LATENT), gan.build_discriminator()
    model = gan.GAN(generator, discriminator)
    assert model.latent_dim == LATENT and model.num_classes is None
    conditional = gan.ConditionalGAN(gan.build_generator(LATENT, num_classes=7), gan.build_discriminator(num_classes=7))
    assert conditional.num_classes == 7
    with pytest.raises(ValueError, match="use ConditionalGAN"):
        gan.GAN(gan.build_generator(LATENT, num_classes=10), discriminator)
    with pytest.raises(ValueError, match="built with num_classes"):
        gan.ConditionalGAN(generator, discriminator)
    with pytest.raises(ValueError, match="ema_decay"):
        gan.GAN(generator, discriminator, ema_decay=1.0)
    with pytest.raises(ValueError, match="gradient_penalty_weight"):
        gan.WGANGP(generator, discriminator, gradient_penalty_weight=-1)
    with pytest.raises(ValueError, match="variant"):
        gan.make_gan(dict(gan.PRESETS["dcgan"], variant="hinge"))


# -- input checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((4, 28, 28), "float32"), "shape"),
        (np.zeros((4, 32, 32, 1), "float32"), "shape"),
        (np.zeros((4, 28, 28, 1), "uint8"), "float"),
        (np.full((4, 28, 28, 1), 3.0, "float32"), r"\[-1.0, 1.0\]"),
    ],
)
def test_validate_images_says_what_was_expected(images, message):
    with pytest.raises(ValueError, match=message):
        gan.validate_images(images)


def test_validate_labels_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"labels in \[0, 9\].*max=10"):
        gan.validate_labels(np.array([0, 10]), 10)
    with pytest.raises(ValueError, match="integer"):
        gan.validate_labels(np.array([0.5]), 10)
    gan.validate_labels(np.array([0, 9]), 10)  # valid labels pass


def test_generate_checks_labels_and_returns_unit_range_images():
    model = small_gan("cgan")
    images = model.generate(4, labels=[1, 2, 3, 4])
    assert images.shape == (4, 28, 28, 1) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match=r"\[0, 9\]"):
        model.generate(2, labels=[1, 12])
    with pytest.raises(ValueError, match="labels"):
        model.generate(2)
    with pytest.raises(ValueError, match="no labels"):
        small_gan().generate(2, labels=[1, 2])
    with pytest.raises(ValueError, match="positive integer n"):
        small_gan().generate(0)


def test_generate_is_repeatable_from_its_seed_and_samples_the_averaged_generator():
    model = small_gan()
    np.testing.assert_array_equal(model.generate(3, seed=4), model.generate(3, seed=4))
    assert not np.array_equal(model.generate(3, seed=4), model.generate(3, seed=5))
    step = tf.function(model.train_step)
    for _ in range(3):
        step(tf.constant(real_batch(8)))
    noise = np.random.default_rng(0).standard_normal((3, LATENT)).astype("float32")
    np.testing.assert_allclose(model.generate(noise=noise), (model.averaged_generator(noise).numpy() + 1) / 2,
                               atol=1e-6)
    assert not np.allclose(model.generate(noise=noise), model.generate(noise=noise, averaged=False))


# -- serialisation -------------------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(gan.VARIANTS))
def test_gan_config_and_keras_file_round_trip(tmp_path, variant):
    model = small_gan(variant, critic_steps=2)
    num_classes = model.num_classes
    tf.function(model.train_step)((tf.constant(real_batch(8)), tf.constant(np.arange(8) % 10))
                                  if num_classes else tf.constant(real_batch(8)))
    restored = type(model).from_config(model.get_config())
    assert restored.get_config() == model.get_config()

    path = tmp_path / "gan.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded) is type(model)
    labels = [1, 5, 7] if num_classes else None
    np.testing.assert_array_equal(model.generate(3, labels=labels), loaded.generate(3, labels=labels))
    noise = tf.random.stateless_normal((3, LATENT), seed=[0, 1])
    inputs = noise if num_classes is None else [noise, tf.constant([1, 5, 7], tf.int32)]
    np.testing.assert_array_equal(model.generator(inputs), loaded.generator(inputs))
    images = model.generator(inputs)
    critic_inputs = images if num_classes is None else [images, inputs[1]]
    np.testing.assert_array_equal(model.discriminator(critic_inputs), loaded.discriminator(critic_inputs))
    assert loaded.critic_steps == 2 and loaded.ema_decay == model.ema_decay


# -- the training step ------------------------------------------------------------------------


def test_discriminator_loss_falls_when_only_the_discriminator_learns():
    model = small_gan(learning_rates=(0.0, 1e-3))  # generator frozen (lr 0)
    step = tf.function(model.train_step)
    batch = tf.constant(real_batch(16))
    first = float(step(batch)["discriminator_loss"])
    for _ in range(25):
        model.reset_metrics()
        step(batch)
    model.reset_metrics()
    last = float(step(batch)["discriminator_loss"])
    assert last < first * 0.5


def test_generator_loss_falls_when_only_the_generator_learns():
    model = small_gan(learning_rates=(1e-3, 0.0))  # discriminator frozen (lr 0)
    step = tf.function(model.train_step)
    batch = tf.constant(real_batch(16))
    first = float(step(batch)["generator_loss"])
    for _ in range(25):
        model.reset_metrics()
        step(batch)
    model.reset_metrics()
    last = float(step(batch)["generator_loss"])
    assert last < first - 0.2


def test_the_same_step_runs_in_fit_and_in_a_jit_compiled_loop():
    batch = real_batch(32)
    dataset = tf.data.Dataset.from_tensor_slices(batch).batch(16)
    history = small_gan().fit(dataset, epochs=1, verbose=0).history
    assert set(history) == {"loss", "discriminator_loss", "generator_loss"}
    jit_step = tf.function(small_gan("wgan-gp", critic_steps=2).train_step, jit_compile=True)
    logs = jit_step(tf.constant(batch[:16]))
    assert set(logs) == {"loss", "discriminator_loss", "generator_loss", "gradient_penalty_loss",
                         "wasserstein_estimate"}
    assert all(np.isfinite(float(value)) for value in logs.values())


def test_steps_are_repeatable_from_the_seed():
    results = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        model = small_gan(seed=3)
        step = tf.function(model.train_step)
        for _ in range(3):
            logs = step(tf.constant(real_batch(8)))
        results.append(float(logs["generator_loss"]))
    assert results[0] == results[1]


def test_no_two_random_draws_in_or_across_wgan_gp_steps_share_a_seed():
    model = small_gan("wgan-gp", critic_steps=5)
    drawn = []
    original = model.draw_seed

    def recording_draw_seed(purpose, step, repeat=0):
        seed = original(purpose, step, repeat)
        drawn.append((purpose, int(step), repeat, tuple(seed.numpy().tolist())))
        return seed

    model.draw_seed = recording_draw_seed
    for _ in range(3):  # eager, so every draw passes through the recorder
        model.train_step(tf.constant(real_batch(8)))
    # Per step: 5 critic updates x (noise, interpolation) + 1 generator noise.
    assert len(drawn) == 3 * (5 * 2 + 1)
    assert [step for _, step, _, _ in drawn] == [0] * 11 + [1] * 11 + [2] * 11
    seeds = [seed for *_, seed in drawn]
    assert len(set(seeds)) == len(seeds), "two draws shared a seed"


def test_seeds_differ_by_purpose_step_and_repeat_and_are_repeatable():
    base = gan.stateless_seed(3, "critic_noise", 7, 1).numpy().tolist()
    assert gan.stateless_seed(3, "critic_noise", 7, 1).numpy().tolist() == base
    others = [gan.stateless_seed(3, "interpolation", 7, 1), gan.stateless_seed(3, "critic_noise", 8, 1),
              gan.stateless_seed(3, "critic_noise", 7, 2), gan.stateless_seed(4, "critic_noise", 7, 1),
              gan.stateless_seed(3, "critic_noise", 1, 7)]
    assert all(other.numpy().tolist() != base for other in others)
    with pytest.raises(ValueError, match="purpose"):
        gan.stateless_seed(3, "dropout", 0)


def test_a_distributed_step_equals_a_single_device_step():
    output = run_with_two_cpus(
        """
        import keras, numpy as np
        from lib import gan

        def make(strategy_scope):
            keras.utils.set_random_seed(0)
            with strategy_scope:
                generator = gan.build_generator(8, projection_filters=16, generator_blocks=[[8, 2]])
                discriminator = gan.build_discriminator(discriminator_filters=[8, 16])
                model = gan.GAN(generator, discriminator, seed=5)
                model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
            return model

        images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype("float32")
        single = make(tf.distribute.get_strategy().scope())
        single_logs = tf.function(single.train_step)(tf.constant(images))

        mirrored = make(strategy.scope())
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images).batch(8))

        @tf.function
        def distributed_step(batch):
            return strategy.run(mirrored.train_step, args=(batch,))

        for batch in dataset:
            distributed_logs = distributed_step(batch)
        replica_values = strategy.experimental_local_results(distributed_logs["generator_loss"])
        weight_gap = max(float(np.max(np.abs(a - b)))
                         for a, b in zip(single.get_weights(), mirrored.get_weights()))
        print("replicas", len(replica_values))
        print("weight_gap", weight_gap)
        print("g_loss", float(single_logs["generator_loss"]), float(sum(replica_values)) / len(replica_values))
        """
    )
    values = dict(line.split(" ", 1) for line in output.strip().splitlines())
    assert int(values["replicas"]) == 2
    assert float(values["weight_gap"]) < 1e-5
    single_g, distributed_g = map(float, values["g_loss"].split())
    assert distributed_g == pytest.approx(single_g, rel=1e-4)


def test_mixed_precision_step_runs_with_loss_scaling():
    from lib.runs import gan as gan_runs

    settings = gan_runs.settings_for("dcgan") | {"mixed_precision": True, "latent_dim": 8,
                                                  "projection_filters": 16, "generator_blocks": [[8, 2]]}
    try:
        model = gan_runs.build_model(settings)
        assert model.generator.get_layer("project").compute_dtype == "float16"
        assert isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)
        logs = tf.function(model.train_step)(tf.constant(real_batch(8)))
        assert all(np.isfinite(float(value)) for value in logs.values())
        assert model.generator(tf.zeros((2, 8))).dtype == tf.float32  # the output layer stays float32
    finally:
        keras.mixed_precision.set_global_policy("float32")
