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
    model = gan.ConditionalGAN(generator, discriminator)
    # Move the raw generator away from its average, as training does, so the two can be told apart.
    rng = np.random.default_rng(1)
    model.generator.set_weights([w + 0.05 * rng.standard_normal(w.shape).astype(w.dtype)
                                 for w in model.generator.get_weights()])
    return model


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


def test_digit_row_from_the_raw_generator_fails(conditional_gan):
    def raw(model, digit, noise):
        return model.generate(noise=noise, labels=np.full(len(noise), digit), averaged=False)

    with pytest.raises(ExerciseCheckFailed, match="raw generator's images"):
        checks.check_digit_row(raw, conditional_gan)


def test_digit_row_unfinished_says_so(conditional_gan):
    def unfinished(model, digit, noise):
        raise NotImplementedError

    with pytest.raises(ExerciseCheckFailed, match="not implemented yet"):
        checks.check_digit_row(unfinished, conditional_gan)


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


def test_penalty_interpolation_and_penalty_unfinished_say_so():
    def unfinished(*args):
        raise NotImplementedError

    for check in (checks.check_penalty_interpolation, checks.check_gradient_penalty, checks.check_critic_loss,
                  checks.check_undecided_losses, checks.check_diagnosis, checks.check_generator_loss,
                  checks.check_label_interpolation):
        with pytest.raises(ExerciseCheckFailed, match="not implemented yet"):
            check(unfinished)


# ----------------------------------------------------------------------------
# Notebook 01: predicting the losses of a discriminator that cannot tell
# ----------------------------------------------------------------------------


def test_undecided_losses_two_log_two_and_log_two_pass(capsys):
    checks.check_undecided_losses(lambda: (1.386, 0.693))
    assert "2 log 2 = 1.3863" in capsys.readouterr().out


@pytest.mark.parametrize("prediction, message", [
    ((np.log(2), np.log(2)), "That is one term"),
    ((2 * np.log(2), -np.log(2)), "minimax"),
    ((0.5, 0.5), "D's probability"),
    ((2 * np.log10(2), np.log10(2)), "log base 10"),
    ((2 * np.log(2), 2 * np.log(2)), "That is D's loss"),
    ((0.0, np.log(2)), "Zero loss means D is sure and right"),
    ((2.0, 1.0), "in bits"),
    ((3.0, 0.693), "not it"),
])
def test_undecided_losses_mistakes_are_named(prediction, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_undecided_losses(lambda: prediction)


def test_undecided_losses_need_a_pair():
    with pytest.raises(ExerciseCheckFailed, match="expected a pair"):
        checks.check_undecided_losses(lambda: 1.386)


# ----------------------------------------------------------------------------
# Notebook 02: the class-conditional input
# ----------------------------------------------------------------------------


def test_conditional_input_correct_passes(conditional_gan, capsys):
    checks.check_conditional_input(lambda noise, labels, table: np.concatenate([noise, table[labels]], axis=1),
                                   conditional_gan)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake, message", [
    (lambda noise, labels, table: np.concatenate([table[labels], noise], axis=1), "embedding comes first"),
    (lambda noise, labels, table: np.concatenate([noise, labels[:, None].astype("float32")], axis=1), "as a number"),
    (lambda noise, labels, table: np.concatenate([noise, np.eye(10, dtype="float32")[labels]], axis=1), "one-hot"),
    (lambda noise, labels, table: noise, "The label is missing"),
    (lambda noise, labels, table: np.concatenate([noise, table[:len(noise)]], axis=1), "first rows of the table"),
    (lambda noise, labels, table: np.concatenate([noise, table[labels] * 2], axis=1), "values differ"),
])
def test_conditional_input_mistakes_are_named(conditional_gan, mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_conditional_input(mistake, conditional_gan)


def test_conditional_input_unfinished_says_so(conditional_gan):
    def unfinished(noise, labels, table):
        raise NotImplementedError

    with pytest.raises(ExerciseCheckFailed, match="not implemented yet"):
        checks.check_conditional_input(unfinished, conditional_gan)


# ----------------------------------------------------------------------------
# Notebook 03: the critic's loss and the diagnosis of runs
# ----------------------------------------------------------------------------


def test_critic_loss_correct_passes(capsys):
    def critic_loss(real_scores, fake_scores, penalty, penalty_weight):
        return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores) + penalty_weight * penalty

    checks.check_critic_loss(critic_loss)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake, message", [
    (lambda r, f, p, w: tf.reduce_mean(r) - tf.reduce_mean(f) + w * p, "wrong sign"),
    (lambda r, f, p, w: tf.reduce_mean(f) - tf.reduce_mean(r) - w * p, "penalty is subtracted"),
    (lambda r, f, p, w: tf.reduce_mean(f) - tf.reduce_mean(r) + p, "not multiplied by its weight"),
    (lambda r, f, p, w: tf.reduce_mean(f) - tf.reduce_mean(r), "penalty is missing"),
    (lambda r, f, p, w: gan.discriminator_loss(r, f) + w * p, "cross-entropy"),
    (lambda r, f, p, w: -tf.reduce_mean(f) + w * p, "generator's loss"),
    (lambda r, f, p, w: f - r + w * p, "expected a scalar"),
])
def test_critic_loss_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_critic_loss(mistake)


def test_diagnosis_correct_passes(capsys):
    checks.check_diagnosis(lambda: {"A": "real and fake swapped", "B": "healthy", "C": "discriminator wins"})
    assert "both losses fall towards 0" in capsys.readouterr().out


@pytest.mark.parametrize("answer, message", [
    ({"A": "healthy", "B": "real and fake swapped", "C": "discriminator wins"}, "run A is not 'healthy'"),
    ({"A": "discriminator wins", "B": "healthy", "C": "real and fake swapped"}, "run A is not 'discriminator wins'"),
    ({"A": "real and fake swapped", "B": "healthy", "C": "mode collapse"}, "expected one of"),
    ({"A": "real and fake swapped", "B": "healthy"}, "expected a dict with the keys"),
])
def test_diagnosis_mistakes_are_named(answer, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_diagnosis(lambda: answer)


def test_diagnosis_runs_show_the_signs_the_check_names():
    from lib import data

    digits = data.load_digits("mnist", offline=True, verbose=False)
    runs = checks.diagnosis_runs(data.to_float_images(digits.train_images[:640], (-1.0, 1.0)), steps=80)
    last = {letter: {key: float(np.mean(values[-20:])) for key, values in curves.items()}
            for letter, curves in runs.items()}
    assert last["A"]["discriminator_loss"] < 0.3 and last["A"]["generator_loss"] < 0.3  # both "win"
    assert 0.8 < last["B"]["discriminator_loss"] < 1.5 and 0.4 < last["B"]["generator_loss"] < 1.5  # balanced
    assert last["C"]["discriminator_loss"] < 0.3 and last["C"]["generator_loss"] > 2.5  # D wins
