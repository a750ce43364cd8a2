"""Tests of the GAN chapter's exercise checks: right answers pass, typical mistakes fail by name."""

import numpy as np
import pytest
import tensorflow as tf

from lib import gan
from lib.exercises import ExerciseCheckFailed
from lib.exercises import gan as checks

# ----------------------------------------------------------------------------
# Notebook 01: the two losses
# ----------------------------------------------------------------------------


def test_reference_discriminator_loss_is_the_hand_computed_value(capsys):
    # softplus(-3), softplus(0), softplus(1), softplus(-2) on real; softplus(-2.5), softplus(0),
    # softplus(1), softplus(-0.5) on fake, written out with log(1 + e^x): means 0.5455 and 0.6398.
    real = np.log1p(np.exp([-3.0, 0.0, 1.0, -2.0])).mean()
    fake = np.log1p(np.exp([-2.5, 0.0, 1.0, -0.5])).mean()
    assert real + fake == pytest.approx(0.5455 + 0.6398, abs=1e-4)
    checks.check_discriminator_loss(gan.discriminator_loss)
    assert "Correct: discriminator loss 1.1853" in capsys.readouterr().out


def test_discriminator_loss_with_swapped_labels_fails():
    def swapped(real_logits, fake_logits):
        return tf.reduce_mean(tf.nn.softplus(real_logits)) + tf.reduce_mean(tf.nn.softplus(-fake_logits))

    with pytest.raises(ExerciseCheckFailed, match="swapped"):
        checks.check_discriminator_loss(swapped)


def test_discriminator_loss_with_wrong_sign_fails():
    with pytest.raises(ExerciseCheckFailed, match="sign is wrong"):
        checks.check_discriminator_loss(lambda real, fake: -gan.discriminator_loss(real, fake))


def test_discriminator_loss_without_mean_fails():
    def per_example(real_logits, fake_logits):
        return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)

    with pytest.raises(ExerciseCheckFailed, match="expected a scalar"):
        checks.check_discriminator_loss(per_example)


def test_unfinished_exercise_says_so():
    def unfinished(real_logits, fake_logits):
        raise NotImplementedError

    with pytest.raises(ExerciseCheckFailed, match="not implemented yet"):
        checks.check_discriminator_loss(unfinished)


def test_generator_loss_correct_passes(capsys):
    checks.check_generator_loss(lambda fake: tf.reduce_mean(tf.nn.softplus(-fake)))
    assert capsys.readouterr().out.startswith("Correct:")


def test_generator_loss_minimax_form_is_recognised():
    def saturating(fake_logits):  # mean(log(1 - sigmoid(t)))
        return tf.reduce_mean(tf.math.log(1.0 - tf.sigmoid(fake_logits)))

    with pytest.raises(ExerciseCheckFailed, match="minimax"):
        checks.check_generator_loss(saturating)


def test_generator_loss_with_fake_label_zero_fails():
    with pytest.raises(ExerciseCheckFailed, match="discriminator's loss on fakes"):
        checks.check_generator_loss(lambda fake: tf.reduce_mean(tf.nn.softplus(fake)))


# ----------------------------------------------------------------------------
# Notebook 02: conditional generation
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conditional_gan():
    tf.keras.utils.set_random_seed(0)
    generator = gan.build_generator(8, projection_filters=8, generator_blocks=[[4, 2]], num_classes=10)
    discriminator = gan.build_discriminator(discriminator_filters=[4, 8], num_classes=10)
    return gan.GAN(generator, discriminator, latent_dim=8, num_classes=10)


def test_digit_row_correct_passes(conditional_gan, capsys):
    def make_digit_row(model, digit, noise):
        return model.generate(noise=noise, labels=np.full(len(noise), digit))

    checks.check_digit_row(make_digit_row, conditional_gan)
    assert capsys.readouterr().out.startswith("Correct:")


def test_digit_row_in_tanh_range_fails(conditional_gan):
    def raw(model, digit, noise):
        return model.generator.predict([noise, np.full(len(noise), digit)], verbose=0)

    with pytest.raises(ExerciseCheckFailed, match=r"\(x \+ 1\) / 2"):
        checks.check_digit_row(raw, conditional_gan)


def test_digit_row_with_wrong_digit_fails(conditional_gan):
    def off_by_one(model, digit, noise):
        return model.generate(noise=noise, labels=np.full(len(noise), (digit + 1) % 10))

    with pytest.raises(ExerciseCheckFailed, match="asked for digit 3, got the images of digit 4"):
        checks.check_digit_row(off_by_one, conditional_gan)


def test_label_interpolation_correct_passes(capsys):
    checks.check_label_interpolation(
        lambda start, end, num_steps: np.linspace(0, 1, num_steps)[:, None] * (end - start) + start
    )
    assert capsys.readouterr().out.startswith("Correct:")


def test_label_interpolation_missing_endpoint_fails():
    def arange(start, end, num_steps):
        weights = np.arange(num_steps)[:, None] / num_steps
        return (1 - weights) * start + weights * end

    with pytest.raises(ExerciseCheckFailed, match="both ends"):
        checks.check_label_interpolation(arange)


# ----------------------------------------------------------------------------
# Notebook 03: the gradient penalty
# ----------------------------------------------------------------------------


def _uniform_interpolation(real, fake, seed):
    epsilon = tf.random.stateless_uniform([real.shape[0], 1, 1, 1], seed=[seed, 0])
    return epsilon * real + (1.0 - epsilon) * fake, epsilon


def test_penalty_interpolation_uniform_passes(capsys):
    checks.check_penalty_interpolation(_uniform_interpolation)
    assert capsys.readouterr().out.startswith("Correct:")


def test_penalty_interpolation_normal_epsilon_fails():
    def normal(real, fake, seed):  # the mistake of several public tutorials
        epsilon = tf.random.stateless_normal([real.shape[0], 1, 1, 1], seed=[seed, 0])
        return epsilon * real + (1.0 - epsilon) * fake, epsilon

    with pytest.raises(ExerciseCheckFailed, match=r"U\(0, 1\).*not N\(0, 1\)"):
        checks.check_penalty_interpolation(normal)


def test_penalty_interpolation_per_pixel_epsilon_fails():
    def per_pixel(real, fake, seed):
        epsilon = tf.random.stateless_uniform(real.shape, seed=[seed, 0])
        return epsilon * real + (1.0 - epsilon) * fake, epsilon

    with pytest.raises(ExerciseCheckFailed, match="one weight per example.*pixel by pixel"):
        checks.check_penalty_interpolation(per_pixel)


def test_penalty_interpolation_not_uniform_fails():
    def clustered(real, fake, seed):  # in [0, 1] but bunched in the middle
        epsilon = 0.5 + 0.1 * tf.tanh(tf.random.stateless_normal([real.shape[0], 1, 1, 1], seed=[seed, 0]))
        return epsilon * real + (1.0 - epsilon) * fake, epsilon

    with pytest.raises(ExerciseCheckFailed, match="does not look uniform"):
        checks.check_penalty_interpolation(clustered)


def test_gradient_penalty_library_passes(capsys):
    checks.check_gradient_penalty(gan.gradient_penalty)
    assert "Correct: penalty 0 for a unit-norm linear critic" in capsys.readouterr().out


def _penalty_with(norm_of):
    def penalty(critic, real, fake, epsilon):
        interpolated = epsilon * real + (1.0 - epsilon) * fake
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            scores = critic(interpolated, training=True)
        return norm_of(tape.gradient(scores, interpolated))

    return penalty


def test_gradient_penalty_with_squared_norm_fails():
    squared = _penalty_with(lambda g: tf.reduce_mean(tf.square(tf.reduce_sum(tf.square(g), axis=[1, 2, 3]) - 1.0)))
    with pytest.raises(ExerciseCheckFailed, match="squared norm"):
        checks.check_gradient_penalty(squared)


def test_gradient_penalty_with_batch_norm_fails():
    whole_batch = _penalty_with(lambda g: tf.square(tf.norm(g) - 1.0))
    with pytest.raises(ExerciseCheckFailed, match="one norm per example"):
        checks.check_gradient_penalty(whole_batch)


def test_linear_critic_penalty_known_values():
    # Independent of the checks: the library itself gives (||w|| - 1)^2 on a linear critic.
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (4, 4, 4, 1)).astype("float32")
    fake = rng.uniform(-1, 1, (4, 4, 4, 1)).astype("float32")
    epsilon = rng.uniform(0, 1, (4, 1, 1, 1)).astype("float32")
    direction = np.zeros((4, 4, 1), "float32")
    direction[0, 0, 0] = 1.0
    for norm, expected in ((1.0, 0.0), (0.5, 0.25), (3.0, 4.0)):
        critic = checks._linear_critic(norm * direction)
        assert float(gan.gradient_penalty(critic, real, fake, epsilon)) == pytest.approx(expected, abs=1e-5)
