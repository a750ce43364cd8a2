"""Exercise checks for the GAN chapter (notebooks 01-03).

Each `check_*` function takes the student's function, runs it on fixed inputs,
compares the result with the reference in `lib.gan` and either prints
`Correct: ...` or raises `ExerciseCheckFailed` naming the mistake. The usual
mistakes are recognised by name (a loss with the wrong sign or with the labels
swapped, an interpolation weight drawn from N(0, 1), a norm over the whole
batch), because "expected 1.38, got -0.69" does not tell a student what to fix.
`tests/test_exercises_gan.py` runs every check on a correct solution and on
those mistakes, with the same reference values.

Exercises:
- notebook 01: `check_discriminator_loss`, `check_generator_loss`,
  `check_undecided_losses` (predict the losses when D cannot tell: 2 log 2, log 2)
- notebook 02: `check_digit_row`, `check_label_interpolation`,
  `check_conditional_input` (noise and label embedding, as the generator joins them)
- notebook 03: `check_penalty_interpolation`, `check_gradient_penalty`,
  `check_critic_loss`, `check_diagnosis` (which of three runs is broken, and how,
  from their loss curves; `diagnosis_runs` trains them)

Public names: the ten checks above, `diagnosis_runs`, `DIAGNOSES`, and
`REFERENCE_LOGITS` (the hand-picked logits the loss checks use).
"""

import numpy as np
import tensorflow as tf

from lib import gan
from lib.exercises import ExerciseCheckFailed, _as_numpy, expect_close, expect_shape, passed

# Hand-picked logits: a discriminator that is sure (+-3), unsure (0) and wrong.
REFERENCE_LOGITS = {
    "real": np.array([[3.0], [0.0], [-1.0], [2.0]], dtype=np.float32),  # (4, 1)
    "fake": np.array([[-2.5], [0.0], [1.0], [-0.5]], dtype=np.float32),  # (4, 1)
}


def _softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


def _scalar(name, value):
    array = _as_numpy(value)
    if array.shape != ():
        raise ExerciseCheckFailed(
            f"{name}: expected a scalar (the mean over the batch), got shape {array.shape}. "
            "Did you forget tf.reduce_mean?"
        )
    if not np.isfinite(array):
        raise ExerciseCheckFailed(f"{name}: got a non-finite value {array}. Use tf.nn.softplus, not log(sigmoid).")
    return float(array)


def _call(name, function, *args):
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseCheckFailed(f"{name}: not implemented yet (replace `raise NotImplementedError`).") from None


def _match_mistake(name, got, expected, mistakes):
    """Raises with the message of the first known mistake `got` equals, else a generic one."""
    if np.isclose(got, expected, rtol=1e-4, atol=1e-5):
        return
    for value, message in mistakes:
        if np.isclose(got, value, rtol=1e-4, atol=1e-5):
            raise ExerciseCheckFailed(f"{name}: expected {expected:.6f}, got {got:.6f}. {message}")
    raise ExerciseCheckFailed(f"{name}: expected {expected:.6f}, got {got:.6f}.")


# ----------------------------------------------------------------------------
# Notebook 01
# ----------------------------------------------------------------------------


def check_discriminator_loss(discriminator_loss):
    """Checks `discriminator_loss(real_logits, fake_logits) -> scalar` (binary cross-entropy).

    The reference is L_D = mean(softplus(-real)) + mean(softplus(fake)) on
    `REFERENCE_LOGITS`, and the discriminator's loss must fall when it gets
    more sure of the right answer.
    """
    name = "discriminator_loss"
    real, fake = REFERENCE_LOGITS["real"], REFERENCE_LOGITS["fake"]
    expected = float(np.mean(_softplus(-real)) + np.mean(_softplus(fake)))
    got = _scalar(name, _call(name, discriminator_loss, tf.constant(real), tf.constant(fake)))
    mistakes = [
        (float(np.mean(_softplus(real)) + np.mean(_softplus(-fake))),
         "Real and fake are swapped: real images should be labelled 1, fakes 0."),
        (-expected, "The sign is wrong: a cross-entropy is -log(p), a positive number to minimise."),
        (float(np.mean(_softplus(-real))), "Only the real term is there; add the loss on the fake logits."),
        (float(np.mean(_softplus(fake))), "Only the fake term is there; add the loss on the real logits."),
        (expected / 2, "You averaged the two terms; the course's loss is their sum."),
        (float(np.mean(1 / (1 + np.exp(-fake))) - np.mean(1 / (1 + np.exp(-real)))),
         "You used probabilities, not log-probabilities: take -log sigmoid (softplus)."),
    ]
    _match_mistake(name, got, expected, mistakes)
    # Behaviour: a more confident, correct discriminator has a lower loss.
    better = _scalar(name, discriminator_loss(tf.constant(real + 2.0), tf.constant(fake - 2.0)))
    if not better < got:
        raise ExerciseCheckFailed(
            f"{name}: the loss should fall when real logits rise and fake logits fall; "
            f"got {got:.4f} then {better:.4f}."
        )
    expect_close(name, got, gan.discriminator_loss(real, fake))
    passed(f"discriminator loss {got:.4f} on the hand-picked logits, as lib.gan.discriminator_loss.")


def check_generator_loss(generator_loss):
    """Checks the non-saturating `generator_loss(fake_logits) -> scalar`.

    Reference: L_G = mean(softplus(-fake)) = -mean(log sigmoid(fake)); the
    minimax form mean(log(1 - sigmoid(fake))) = -mean(softplus(fake)) is
    recognised and explained.
    """
    name = "generator_loss"
    fake = REFERENCE_LOGITS["fake"]
    expected = float(np.mean(_softplus(-fake)))
    got = _scalar(name, _call(name, generator_loss, tf.constant(fake)))
    mistakes = [
        (float(-np.mean(_softplus(fake))),
         "This is the minimax (saturating) loss log(1 - D(G(z))): its gradient vanishes when D "
         "rejects the fakes. Use -log D(G(z)) = softplus(-logits)."),
        (float(np.mean(_softplus(fake))),
         "This is the discriminator's loss on fakes (label 0). The generator wants its fakes "
         "labelled 1: softplus(-logits)."),
        (-expected, "The sign is wrong: minimise -log D(G(z)), a positive number."),
    ]
    _match_mistake(name, got, expected, mistakes)
    # Behaviour: strong gradient where D rejects the fakes (logit -5), where the minimax loss has none.
    logits = tf.constant([[-5.0]])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        value = generator_loss(logits)
    gradient = float(np.asarray(tape.gradient(value, logits)).ravel()[0])
    if not gradient < -0.9:
        raise ExerciseCheckFailed(
            f"{name}: at a fake logit of -5 the gradient should be about -0.99 (push the logit up); got {gradient:.4f}."
        )
    passed(f"non-saturating generator loss {got:.4f}; gradient {gradient:.3f} at a rejected fake (logit -5).")


# ----------------------------------------------------------------------------
# Notebook 02
# ----------------------------------------------------------------------------


def _reference_noise(count, latent_dim, seed=2024):
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype("float32")


def check_digit_row(make_digit_row, model):
    """Checks `make_digit_row(model, digit, noise) -> (n, 28, 28, 1)` images in [0, 1].

    The reference is `model.generate(noise=noise, labels=[digit] * n)`: the same
    noise, the chosen label for every image, pixels mapped from [-1, 1] to [0, 1].
    """
    name = "make_digit_row"
    if model.num_classes is None:
        raise ExerciseCheckFailed(f"{name}: the check needs a conditional GAN (num_classes=10).")
    noise = _reference_noise(6, model.latent_dim)
    for digit in (3, 7):
        got = _as_numpy(_call(name, make_digit_row, model, digit, noise))
        expect_shape(name, got, (len(noise), *model.image_shape))
        expected = model.generate(noise=noise, labels=np.full(len(noise), digit))
        raw = model.generate(noise=noise, labels=np.full(len(noise), digit), averaged=False)
        if model.ema_decay is not None and not np.allclose(got, expected, atol=1e-4) and np.allclose(
                got, raw, atol=1e-4):
            raise ExerciseCheckFailed(
                f"{name}: these are the raw generator's images; the course samples the averaged generator, "
                "model.sampling_generator() (which model.generate uses).")
        if got.min() < -1e-6:
            raise ExerciseCheckFailed(
                f"{name}: pixels go down to {got.min():.3f}; the generator's tanh gives [-1, 1], "
                "map them to [0, 1] with (x + 1) / 2 (or use model.generate)."
            )
        for other in range(model.num_classes):
            if other != digit and np.allclose(got, model.generate(noise=noise, labels=np.full(len(noise), other)),
                                              atol=1e-4):
                raise ExerciseCheckFailed(f"{name}: asked for digit {digit}, got the images of digit {other}.")
        if not np.allclose(got, expected, atol=1e-4):
            raise ExerciseCheckFailed(
                f"{name}: for digit {digit} the images differ from the generator's output on the same "
                f"noise (largest difference {np.abs(got - expected).max():.3f}). Use the noise you are "
                "given, one label per image, and training=False."
            )
    passed("one row of a chosen digit from fixed noise, as model.generate.")


def check_label_interpolation(interpolate):
    """Checks `interpolate(start, end, num_steps) -> (num_steps, dim)`: a straight line, both ends included."""
    name = "interpolate"
    start = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    end = np.array([3.0, 2.0, -0.5], dtype=np.float32)
    got = _as_numpy(_call(name, interpolate, start, end, 5))
    expect_shape(name, got, (5, 3))
    weights = np.linspace(0.0, 1.0, 5)[:, None]
    expected = (1.0 - weights) * start + weights * end
    if np.allclose(got, expected[::-1], atol=1e-5):
        raise ExerciseCheckFailed(f"{name}: the line runs backwards: the first row should be `start`.")
    if np.allclose(got[0], start, atol=1e-5) and not np.allclose(got[-1], end, atol=1e-5):
        raise ExerciseCheckFailed(
            f"{name}: the last row should be `end`, got {np.round(got[-1], 3)}. "
            "np.linspace(0, 1, num_steps) includes both ends; np.arange(num_steps) / num_steps does not."
        )
    expect_close(name, got, expected)
    passed("5 evenly spaced points from start to end, both ends included.")


# ----------------------------------------------------------------------------
# Notebook 03
# ----------------------------------------------------------------------------


def check_penalty_interpolation(interpolate_for_penalty):
    """Checks `interpolate_for_penalty(real, fake, seed) -> (x_hat, epsilon)`.

    epsilon must be (batch, 1, 1, 1), one weight per example, drawn from
    U(0, 1); x_hat = epsilon * real + (1 - epsilon) * fake.
    """
    name = "interpolate_for_penalty"
    rng = np.random.default_rng(5)
    batch = 2000
    real = tf.constant(rng.uniform(-1, 1, (batch, 4, 4, 1)).astype("float32"))
    fake = tf.constant(rng.uniform(-1, 1, (batch, 4, 4, 1)).astype("float32"))
    result = _call(name, interpolate_for_penalty, real, fake, 0)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ExerciseCheckFailed(f"{name}: expected a pair (x_hat, epsilon), got {type(result).__name__}.")
    x_hat, epsilon = _as_numpy(result[0]), _as_numpy(result[1])
    expect_shape(f"{name} x_hat", x_hat, real.shape)
    if epsilon.shape != (batch, 1, 1, 1):
        hint = (
            " One weight per pixel mixes the two images pixel by pixel: the point is no longer on the "
            "line between them." if epsilon.shape == tuple(real.shape) else
            " A single weight for the whole batch puts every point at the same place on its line."
        )
        raise ExerciseCheckFailed(
            f"{name}: expected epsilon of shape ({batch}, 1, 1, 1), one weight per example; "
            f"got {epsilon.shape}.{hint}"
        )
    if epsilon.min() < 0.0 or epsilon.max() > 1.0:
        raise ExerciseCheckFailed(
            f"{name}: epsilon has values outside [0, 1] (min {epsilon.min():.2f}, max {epsilon.max():.2f}). "
            "It must come from U(0, 1) (tf.random.uniform), not N(0, 1): a normal weight puts points "
            "beyond the real and fake images, where the 1-Lipschitz constraint is not needed."
        )
    # U(0, 1): mean 1/2, about a tenth in each tenth of [0, 1].
    counts = np.histogram(epsilon.ravel(), bins=10, range=(0.0, 1.0))[0] / batch
    if abs(epsilon.mean() - 0.5) > 0.03 or counts.min() < 0.06 or counts.max() > 0.14:
        raise ExerciseCheckFailed(
            f"{name}: epsilon does not look uniform on [0, 1] (mean {epsilon.mean():.3f}, fraction per "
            f"tenth {np.round(counts, 2)}). Draw it with tf.random.uniform([batch, 1, 1, 1])."
        )
    expected = epsilon * _as_numpy(real) + (1.0 - epsilon) * _as_numpy(fake)
    swapped = (1.0 - epsilon) * _as_numpy(real) + epsilon * _as_numpy(fake)
    if not np.allclose(x_hat, expected, atol=1e-5):
        if np.allclose(x_hat, swapped, atol=1e-5):
            raise ExerciseCheckFailed(
                f"{name}: x_hat = (1 - epsilon) * real + epsilon * fake; write it as "
                "epsilon * real + (1 - epsilon) * fake, as lib.gan.gradient_penalty does."
            )
        raise ExerciseCheckFailed(
            f"{name}: x_hat is not epsilon * real + (1 - epsilon) * fake "
            f"(largest difference {np.abs(x_hat - expected).max():.3f})."
        )
    passed(f"one epsilon per example from U(0, 1) (mean {epsilon.mean():.3f}); x_hat on the line from fake to real.")


def _linear_critic(weights):
    """A critic C(x) = sum(w * x) with a fixed weight image w (4, 4, 1); its gradient is w everywhere."""
    weights = tf.constant(weights, tf.float32)

    def critic(images, training=False):
        del training
        return tf.reduce_sum(images * weights, axis=[1, 2, 3])[:, None]  # (batch, 1)

    return critic


def check_gradient_penalty(gradient_penalty):
    """Checks `gradient_penalty(critic, real, fake, epsilon) -> scalar`.

    Reference: `lib.gan.gradient_penalty`. On linear critics the answer is
    known by hand: the gradient is the weight w, so GP = (||w|| - 1)^2, which
    is 0 for a unit-norm w and 4 for ||w|| = 3. A second, non-linear critic
    catches a norm taken over the whole batch.
    """
    name = "gradient_penalty"
    rng = np.random.default_rng(11)
    real = tf.constant(rng.uniform(-1, 1, (8, 4, 4, 1)).astype("float32"))
    fake = tf.constant(rng.uniform(-1, 1, (8, 4, 4, 1)).astype("float32"))
    epsilon = tf.constant(rng.uniform(0, 1, (8, 1, 1, 1)).astype("float32"))
    direction = rng.standard_normal((4, 4, 1)).astype("float32")
    direction /= np.linalg.norm(direction)
    for norm in (1.0, 3.0):
        got = _scalar(name, _call(name, gradient_penalty, _linear_critic(norm * direction), real, fake, epsilon))
        expected = (norm - 1.0) ** 2
        mistakes = [
            ((norm**2 - 1.0) ** 2, "You used the squared norm ||g||^2; take the square root: ||g||_2."),
            (abs(norm - 1.0), "Square the difference: (||g|| - 1)^2."),
            ((np.sqrt(8) * norm - 1.0) ** 2,
             "The norm is taken over the whole batch; take one norm per example (axis=[1, 2, 3])."),
            (norm - 1.0, "Square the difference: (||g|| - 1)^2."),
        ]
        _match_mistake(f"{name} (linear critic, ||w|| = {norm:g})", got, expected, mistakes)

    # A small non-linear critic, against the library.
    hidden = tf.constant(rng.standard_normal((16, 5)).astype("float32"))

    def critic(images, training=False):
        del training
        flat = tf.reshape(images, [-1, 16])
        return tf.reduce_sum(tf.tanh(flat @ hidden), axis=1, keepdims=True)  # (batch, 1)

    got = _scalar(name, gradient_penalty(critic, real, fake, epsilon))
    expect_close(f"{name} (non-linear critic)", got, gan.gradient_penalty(critic, real, fake, epsilon), rtol=1e-3)
    passed("penalty 0 for a unit-norm linear critic, 4 for ||w|| = 3, and as lib.gan on a non-linear critic.")


# ----------------------------------------------------------------------------
# Notebook 01: predict the losses of a discriminator that cannot tell
# ----------------------------------------------------------------------------


def _prediction(name, value):
    """A student's predicted number as a float, or a failure that says what is wrong with it."""
    if value is None or value is Ellipsis:
        raise ExerciseCheckFailed(f"{name}: no prediction yet; write a number.")
    try:
        return float(_as_numpy(value))
    except (TypeError, ValueError):
        raise ExerciseCheckFailed(f"{name}: expected one number, got {value!r}.") from None


def check_undecided_losses(predict):
    """Checks `predict() -> (discriminator_loss, generator_loss)` for a D that answers logit 0 everywhere.

    A discriminator that cannot tell real from fake gives sigmoid(0) = 1/2 to
    every image, so each cross-entropy term is -log(1/2) = log 2:
    L_D = log 2 + log 2 = 2 log 2 ~ 1.386 and the non-saturating L_G = log 2 ~ 0.693.
    Predictions are accepted within 1 %.
    """
    name = "predicted losses"
    result = _call(name, predict)
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ExerciseCheckFailed(f"{name}: expected a pair (discriminator_loss, generator_loss), got {result!r}.")
    d_value = _prediction("discriminator loss", result[0])
    g_value = _prediction("generator loss", result[1])
    zero = tf.zeros([1, 1])
    expected_d, expected_g = float(gan.discriminator_loss(zero, zero)), float(gan.generator_loss(zero))

    def close(a, b):
        return abs(a - b) <= 0.01 * abs(b) + 1e-3

    common = [
        (0.5, "0.5 is D's probability sigmoid(0), not a loss: each term is -log(0.5)."),
        (0.0, "Zero loss means D is sure and right; a D that cannot tell pays -log(1/2) per term."),
    ]
    d_mistakes = common + [
        (np.log(2), "That is one term. L_D adds the loss on real images and the loss on fakes: log 2 each."),
        (2 * np.log10(2), "You used log base 10; the losses use the natural logarithm (softplus)."),
        (2.0, "You counted in bits (log base 2); the losses use the natural logarithm (softplus)."),
        (-2 * np.log(2), "The sign is wrong: a cross-entropy -log p is positive."),
        (1.0, "Not 1: each term is -log(1/2) = log 2 ~ 0.693, and there are two."),
    ]
    g_mistakes = common + [
        (2 * np.log(2), "That is D's loss, with two terms; G's loss has only the term on its fakes."),
        (-np.log(2), "That is the minimax loss log(1 - D(G(z))) = log(1/2); the non-saturating loss is "
                     "-log D(G(z)) = +log 2."),
        (np.log10(2), "You used log base 10; the losses use the natural logarithm (softplus)."),
        (1.0, "You counted in bits (log base 2); the losses use the natural logarithm (softplus)."),
    ]
    for label, got, expected, mistakes in (("discriminator loss", d_value, expected_d, d_mistakes),
                                           ("generator loss", g_value, expected_g, g_mistakes)):
        if close(got, expected):
            continue
        for value, message in mistakes:
            if close(got, value):
                raise ExerciseCheckFailed(f"{label}: you predicted {got:.4g}. {message}")
        raise ExerciseCheckFailed(
            f"{label}: you predicted {got:.4g}, which is not it. With logit 0, D(x) = sigmoid(0) = 1/2 for "
            "every image: write the loss as a sum of -log terms and put 1/2 in each."
        )
    passed(f"L_D = 2 log 2 = {expected_d:.4f} and L_G = log 2 = {expected_g:.4f}, as lib.gan computes at logit 0; "
           "a balanced game hovers near these values.")


# ----------------------------------------------------------------------------
# Notebook 02: the generator's class-conditional input
# ----------------------------------------------------------------------------


def check_conditional_input(conditional_input, model):
    """Checks `conditional_input(noise, labels, table) -> (n, latent_dim + embedding_dim)`.

    The conditional generator looks each label up in its embedding table
    (one learned row per digit) and concatenates that row after the noise
    (layer "noise_and_label"): `concat([noise, table[labels]], axis=1)`. The
    check then runs the generator's own layers on the student's input and
    compares the images with `model.generate`.
    """
    name = "conditional_input"
    if model.num_classes is None:
        raise ExerciseCheckFailed(f"{name}: the check needs a conditional GAN (num_classes=10).")
    generator = model.sampling_generator()
    table = generator.get_layer("label_embedding").embeddings.numpy()  # (num_classes, embedding_dim)
    noise = _reference_noise(6, model.latent_dim)
    labels = np.array([7, 0, 3, 3, 9, 1])
    got = _as_numpy(_call(name, conditional_input, noise, labels, table))
    expected = np.concatenate([noise, table[labels]], axis=1)
    width = model.latent_dim + table.shape[1]
    if got.shape != expected.shape:
        hints = {
            (len(noise), model.latent_dim + 1): "You appended the label as a number; the generator looks it up in "
                                                "its embedding table: table[labels].",
            (len(noise), model.latent_dim + model.num_classes): "You appended a one-hot label; this generator "
                                                                "uses its learned embedding: table[labels].",
            (len(noise), model.latent_dim): "The label is missing: concatenate table[labels] after the noise.",
        }
        hint = hints.get(got.shape, "")
        raise ExerciseCheckFailed(f"{name}: expected shape ({len(noise)}, {width}), got {got.shape}. {hint}".rstrip())
    if np.allclose(got, np.concatenate([table[labels], noise], axis=1), atol=1e-5):
        raise ExerciseCheckFailed(
            f"{name}: the embedding comes first; the generator's Concatenate layer takes [noise, embedded], noise first.")
    if np.allclose(got[:, : model.latent_dim], noise, atol=1e-5) and np.allclose(
            got[:, model.latent_dim:], table[: len(noise)], atol=1e-5):
        raise ExerciseCheckFailed(f"{name}: you took the first rows of the table; take the rows of the labels: "
                                  "table[labels].")
    if not np.allclose(got, expected, atol=1e-5):
        raise ExerciseCheckFailed(
            f"{name}: the values differ from concat([noise, table[labels]], axis=1) "
            f"(largest difference {np.abs(got - expected).max():.3g}).")
    # Through the generator's own layers after the concatenation: the digits model.generate draws.
    joined = generator.get_layer("noise_and_label")
    x = tf.constant(got, tf.float32)
    for layer in generator.layers[generator.layers.index(joined) + 1:]:  # project ... to_image, a chain
        x = layer(x, training=False)
    images = (x.numpy() + 1.0) / 2.0
    expect_close(f"{name} (through the generator)", images, model.generate(noise=noise, labels=labels), atol=1e-4)
    passed("noise, then the label's embedding row: the generator's layers turn it into model.generate's digits.")


# ----------------------------------------------------------------------------
# Notebook 03: the critic's loss, and diagnosing runs from their curves
# ----------------------------------------------------------------------------


def check_critic_loss(critic_loss):
    """Checks `critic_loss(real_scores, fake_scores, penalty, penalty_weight) -> scalar`.

    Reference: L_C = mean(fake) - mean(real) + lambda * GP
    (`lib.gan.wasserstein_critic_loss` plus the weighted penalty, as `WGANGP` computes it).
    """
    name = "critic_loss"
    real, fake = REFERENCE_LOGITS["real"], REFERENCE_LOGITS["fake"]
    penalty, weight = 0.3, 10.0
    distance = float(np.mean(fake) - np.mean(real))
    expected = distance + weight * penalty
    got = _scalar(name, _call(name, critic_loss, tf.constant(real), tf.constant(fake), tf.constant(penalty), weight))
    cross_entropy = float(np.mean(_softplus(-real)) + np.mean(_softplus(fake)))
    mistakes = [
        (-distance + weight * penalty,
         "The distance has the wrong sign: the critic minimises mean(fake) - mean(real), so that real images "
         "score high and fakes low."),
        (distance - weight * penalty, "The penalty is subtracted; add it: the critic pays for gradient norms far from 1."),
        (distance + penalty, "The penalty is not multiplied by its weight lambda (penalty_weight)."),
        (distance, "The gradient penalty is missing: add penalty_weight * penalty."),
        (cross_entropy + weight * penalty,
         "That is the DCGAN's cross-entropy; a critic's scores are not logits: use the means of the scores."),
        (-float(np.mean(fake)) + weight * penalty, "That is the generator's loss -mean(fake); the critic's loss "
                                                   "compares real and fake scores."),
    ]
    _match_mistake(name, got, expected, mistakes)
    expect_close(name, got, gan.wasserstein_critic_loss(real, fake) + weight * penalty)
    passed(f"critic loss {got:.4f} = mean(fake) - mean(real) + lambda * GP, as lib.gan.WGANGP computes it.")


# The three runs of the diagnosis exercise: the same networks and data, one change each.
DIAGNOSES = ("healthy", "discriminator wins", "real and fake swapped")
_DIAGNOSIS_RUNS = {  # letter -> (what is changed, the diagnosis)
    "A": ("D's loss labels real images 0 and fakes 1", "real and fake swapped"),
    "B": ("nothing: the course's settings", "healthy"),
    "C": ("the generator's learning rate 1,000 times too small", "discriminator wins"),
}


class _SwappedLabelsGAN(gan.GAN):
    """The DCGAN with real and fake swapped in D's loss: the only change is what it overrides."""

    def discriminator_losses(self, real_scores, fake_scores, real_images, fake_images, labels, step, repeat):
        return {"discriminator_loss": gan.discriminator_loss(fake_scores, real_scores)}


def diagnosis_runs(images, *, steps=80, batch_size=32, seed=0):
    """Trains the three short runs of the diagnosis exercise and returns their loss curves.

    Run letters are fixed (see `check_diagnosis`); each run uses the course's
    DCGAN networks (`lib.gan.PRESETS["dcgan"]`, no averaged generator) on the
    same batches, with one change, so only the curves tell them apart.

    Args:
        images: real training digits (N, 28, 28, 1) in [-1, 1].
        steps: training steps per run.
        batch_size: images per step.
        seed: seed of the weights and of the training randomness.

    Returns:
        {letter: {"discriminator_loss": [...], "generator_loss": [...]}}, one value per step.
    """
    import keras

    from lib import data

    runs = {}
    for letter in sorted(_DIAGNOSIS_RUNS):
        settings = dict(gan.PRESETS["dcgan"], ema_decay=None)
        keras.utils.set_random_seed(seed)
        model = gan.make_gan(settings, seed=seed)
        if letter == "A":
            model = _SwappedLabelsGAN(model.generator, model.discriminator, ema_decay=None, seed=seed)
            model.compile(keras.optimizers.Adam(settings["learning_rate"], beta_1=settings["beta_1"]),
                          keras.optimizers.Adam(settings["learning_rate"], beta_1=settings["beta_1"]))
        elif letter == "C":
            model.generator_optimizer.learning_rate.assign(settings["learning_rate"] / 1000)
        step = tf.function(model.train_step)
        curves = {"discriminator_loss": [], "generator_loss": []}
        epoch = 0
        while len(curves["generator_loss"]) < steps:
            dataset = data.make_dataset(images, batch_size=batch_size, epoch=epoch, seed=seed)
            for batch in dataset.take(steps - len(curves["generator_loss"])):
                model.reset_metrics()  # each value is this step's, not a running mean
                logs = step(batch)
                for key in curves:
                    curves[key].append(float(logs[key]))
            epoch += 1
        runs[letter] = curves
    return runs


_DIAGNOSIS_HINTS = {
    "healthy": "its losses stay near the balance you predicted in notebook 01 (D's a little below "
               "2 log 2 = 1.39, G's a little above log 2 = 0.69): neither player wins outright",
    "discriminator wins": "D's loss falls towards 0 while G's climbs: D rejects every fake and G cannot catch up "
                          "(here G learns 1,000 times too slowly)",
    "real and fake swapped": "both losses fall towards 0: both players win at once, which no real game allows, so "
                             "the losses are wrong (D is taught that fakes are real, and G gets nothing to learn)",
}


def check_diagnosis(diagnose):
    """Checks `diagnose() -> {run letter: one of DIAGNOSES}` for the runs of `diagnosis_runs`."""
    name = "diagnosis"
    diagnosis = _call(name, diagnose)
    if not isinstance(diagnosis, dict) or set(diagnosis) != set(_DIAGNOSIS_RUNS):
        raise ExerciseCheckFailed(
            f"{name}: expected a dict with the keys {sorted(_DIAGNOSIS_RUNS)}, got {diagnosis!r}.")
    for letter in sorted(_DIAGNOSIS_RUNS):
        answer = diagnosis[letter]
        if answer not in DIAGNOSES:
            raise ExerciseCheckFailed(f"{name}: run {letter}: expected one of {list(DIAGNOSES)}, got {answer!r}.")
    for letter in sorted(_DIAGNOSIS_RUNS):
        change, truth = _DIAGNOSIS_RUNS[letter]
        if diagnosis[letter] != truth:
            raise ExerciseCheckFailed(
                f"{name}: run {letter} is not {diagnosis[letter]!r}. In a run of that kind "
                f"{_DIAGNOSIS_HINTS[diagnosis[letter]].split(':')[0]}; run {letter}'s curves do not. "
                "Look at where each loss goes, and with which sign.")
    passed("; ".join(f"run {letter} ({change}): {_DIAGNOSIS_HINTS[truth]}"
                     for letter, (change, truth) in sorted(_DIAGNOSIS_RUNS.items())) + ".")
