"""Exercise checks of the VAE chapter (notebooks 04-06).

Each `check_*` function takes the student's function, runs it on fixed inputs,
compares the result with the reference in `lib.vae` (and with the same
hand-computed values as tests/test_vae.py) and either prints `Correct: ...` or
raises `ExerciseCheckFailed` naming the mistake it recognises ("the KL is
averaged over latent dimensions instead of summed"), because "expected 0.65,
got 0.33" does not tell a student what to fix. `tests/test_exercises_vae.py`
runs every check on the solution, on a blank stub and on each mistake named here.

Exercises:
- notebook 04: `check_gaussian_kl`, `check_reparameterize`,
  `check_untrained_reconstruction` (predict a number)
- notebook 05: `check_negative_elbo`, `check_iwae_from_log_weights`,
  `check_diagnosis` (diagnose broken runs from their curves, `BROKEN_RUNS`)
- notebook 06: `check_conditional_sampler`, `check_classify_by_elbo`,
  `check_label_worth` (predict a number)

Public names: the nine checks above, `classify_by_elbo` (the reference
classifier), `BROKEN_RUNS`, `DIAGNOSES`.
"""

import math

import numpy as np
import tensorflow as tf

from lib import vae
from lib.exercises import ExerciseCheckFailed, _as_numpy, expect_close, expect_shape, passed

# The same value as tests/test_vae.py::test_kl_hand_computed.
_KL_MEAN = np.array([[1.0, 0.0]], np.float32)
_KL_LOG_VAR = np.array([[0.0, math.log(2.0)]], np.float32)
_KL_VALUE = 0.5 + 0.5 * (1.0 - math.log(2.0))  # 0.6534 nats
_PIXELS = int(np.prod(vae.IMAGE_SHAPE))  # 784


def _call(name, function, *args):
    """Calls the student's function; a blank stub becomes a plain message."""
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseCheckFailed(f"{name}: not implemented yet (replace `raise NotImplementedError`).") from None


def _number(name, value):
    """The student's answer as a float, or a message saying a number is expected."""
    try:
        number = float(_as_numpy(value))
    except (TypeError, ValueError):
        raise ExerciseCheckFailed(f"{name}: expected a number. Received: {value!r}") from None
    if not math.isfinite(number):
        raise ExerciseCheckFailed(f"{name}: expected a finite number. Received: {number}")
    return number


def _is(got, value, rtol=1e-4, atol=1e-5):
    return np.allclose(np.asarray(got, np.float64), np.asarray(value, np.float64), rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------
# Notebook 04
# ----------------------------------------------------------------------------
def check_gaussian_kl(student_kl):
    """Checks student_kl(mean, log_var) -> (batch,) KLs against N(0, I), summed over latent dimensions."""
    name = "gaussian_kl"
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    want = vae.gaussian_kl(mean, log_var).numpy()  # (5,)
    got = _as_numpy(_call(name, student_kl, mean, log_var)).astype(np.float64)
    if got.shape == () and _is(got, want.mean()):
        raise ExerciseCheckFailed(f"{name}: expected one KL per example, shape (5,), got a scalar: the KL is "
                                  "averaged over the batch here; the loss takes that mean later.")
    expect_shape(f"{name} of a batch of 5 with 3 latent dimensions (one value per example)", got, (5,))
    per_dimension = 0.5 * (np.exp(log_var) + mean**2 - 1.0 - log_var)  # (5, 3)
    mistakes = [
        (per_dimension.mean(axis=1), "The KL is averaged over latent dimensions instead of summed: the "
                                     "dimensions are independent, so their KLs add up."),
        (want / _PIXELS, "The KL is divided by the number of pixels (784): that is a beta-VAE with beta ~ 0.001, "
                         "not the ELBO. Sum over latent dimensions and divide by nothing."),
        (2.0 * want, "The factor 1/2 is missing."),
        (-want, "The sign is wrong: a KL is never negative."),
        (0.5 * np.sum(np.exp(log_var) + mean**2 - log_var, axis=1), "The -1 inside the sum is missing."),
    ]
    if not np.all(np.isfinite(got)):
        raise ExerciseCheckFailed(f"{name}: got nan or inf. log_var is the LOG of the variance (it can be negative): "
                                  "the variance is exp(log_var), and its log is log_var itself.")
    for value, message in mistakes:
        if _is(got, value):
            raise ExerciseCheckFailed(f"{name}: {message}")
    expect_close(f"{name} of N(0, I) against itself",
                 _call(name, student_kl, np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)), np.zeros(3))
    expect_close(f"{name} for mean [1, 0], variance [1, 2]", _call(name, student_kl, _KL_MEAN, _KL_LOG_VAR),
                 [_KL_VALUE])
    expect_close(f"{name} of random Gaussians", got, want, rtol=1e-4)
    passed("the KL is 0 for the prior, 0.6534 nats for the hand-computed case, one value per example "
           "(summed over latent dimensions).")


def check_reparameterize(student_fn):
    """Checks student_fn(mean, log_var, noise) -> mean + exp(log_var / 2) * noise, differentiable."""
    name = "reparameterize"
    mean = np.array([[1.0, -2.0]], np.float32)
    log_var = np.array([[math.log(4.0), math.log(0.25)]], np.float32)
    noise = np.array([[0.5, -1.0]], np.float32)
    got = _as_numpy(_call(name, student_fn, mean, log_var, noise))
    mistakes = [
        (mean + np.exp(log_var) * noise, "You multiplied by the variance; the noise scales with the standard "
                                         "deviation exp(log_var / 2)."),
        (mean + log_var * noise, "log_var is not the standard deviation: the standard deviation is "
                                 "exp(log_var / 2)."),
        (mean, "z is the mean: the noise is missing, so the model is an ordinary autoencoder."),
        (np.exp(0.5 * log_var) * noise, "The mean is missing: z = mean + std * noise."),
    ]
    for value, message in mistakes:
        if got.shape == np.shape(value) and _is(got, value):
            raise ExerciseCheckFailed(f"{name}: {message}")
    expect_shape(name, got, (1, 2))
    if not _is(got, [[2.0, -2.5]]):
        if not _is(_as_numpy(_call(name, student_fn, mean, log_var, noise)), got):
            raise ExerciseCheckFailed(f"{name}: two calls with the same noise gave different z: use the `noise` "
                                      "argument instead of drawing your own.")
    expect_close(f"{name} for mean [1, -2], variance [4, 0.25], noise [0.5, -1]", got, [[2.0, -2.5]])
    mean_t, log_var_t = tf.Variable(mean), tf.Variable(log_var)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(tf.convert_to_tensor(_call(name, student_fn, mean_t, log_var_t, noise)))
    gradients = tape.gradient(total, [mean_t, log_var_t])
    if any(gradient is None for gradient in gradients):
        raise ExerciseCheckFailed(f"{name}: no gradient reaches mean and log_var (was z computed in NumPy?). "
                                  "Use TensorFlow operations so the encoder can learn.")
    expect_close(f"{name}: d z / d log_var", gradients[1], 0.5 * np.exp(0.5 * log_var) * noise)
    passed("z = mean + exp(log_var / 2) * noise, and the gradient reaches mean and log_var.")


def check_untrained_reconstruction(predict):
    """Checks a predicted reconstruction loss (nats per image) of a decoder whose logits are all 0.

    Every pixel then has probability 1/2 whatever its value, so -log p(x|z) is
    784 * log 2 = 543.4 nats, for any binary image.
    """
    name = "your prediction"
    answer = _PIXELS * math.log(2.0)
    got = _number(name, _call(name, predict))
    mistakes = [
        (math.log(2.0), "That is the cost of ONE pixel; the reconstruction term sums over the 784 pixels."),
        (float(_PIXELS), "That is 784 BITS (log base 2). The course counts in nats: log base e."),
        (0.5, "0.5 is a probability, not a loss: the loss is -log of the probability of all 784 pixels."),
        (_PIXELS * 0.5, "The loss is -log p, not p: each pixel costs -log(1/2) nats."),
    ]
    for value, message in mistakes:
        if math.isclose(got, value, rel_tol=0.02):
            raise ExerciseCheckFailed(f"{name}: {got:g}. {message}")
    if not math.isclose(got, answer, rel_tol=0.02):
        raise ExerciseCheckFailed(f"{name}: {got:g} nats. Hint: a logit of 0 gives each pixel probability "
                                  "sigmoid(0) = 1/2, black or white.")
    passed(f"784 pixels x log 2 = {answer:.1f} nats per image, whatever the image: the untrained model knows "
           "nothing, and training starts from there.")


# ----------------------------------------------------------------------------
# Notebook 05
# ----------------------------------------------------------------------------
def _elbo_inputs():
    """Fixed binary images, logits and posterior parameters for check_negative_elbo."""
    rng = np.random.default_rng(3)
    images = (rng.uniform(size=(3, 28, 28, 1)) < 0.3).astype(np.float32)
    logits = rng.normal(0.0, 3.0, size=(3, 28, 28, 1)).astype(np.float32)
    logits[0, 0, 0, 0] = 60.0  # a very sure pixel: sigmoid rounds to 1 in float32
    images[0, 0, 0, 0] = 0.0   # ... and it is wrong, so the loss is large but finite
    mean = rng.normal(0.0, 3.0, size=(3, 8)).astype(np.float32)  # a KL of tens of nats, so each term shows
    log_var = rng.normal(0.0, 0.5, size=(3, 8)).astype(np.float32)
    return images, logits, mean, log_var


def check_negative_elbo(student_fn):
    """Checks student_fn(images, logits, mean, log_var) -> (batch,) negative ELBO per image, in nats."""
    name = "negative_elbo"
    images, logits, mean, log_var = _elbo_inputs()
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits).numpy()  # (3, 28, 28, 1)
    reconstruction = cross_entropy.sum(axis=(1, 2, 3))
    kl = vae.gaussian_kl(mean, log_var).numpy()
    want = reconstruction + kl
    got = _as_numpy(_call(name, student_fn, images, logits, mean, log_var)).astype(np.float64)
    if got.shape == () and _is(got, want.mean()):
        raise ExerciseCheckFailed(f"{name}: expected one value per image, shape (3,), got the batch mean.")
    if not np.all(np.isfinite(got)):
        raise ExerciseCheckFailed(f"{name}: got {got}: a pixel with logit 60 makes sigmoid round to exactly 1, and "
                                  "log(1 - 1) = -inf. Compute the cross-entropy from the logits "
                                  "(tf.nn.sigmoid_cross_entropy_with_logits).")
    expect_shape(f"{name} of 3 images", got, (3,))
    mistakes = [
        (cross_entropy.mean(axis=(1, 2, 3)) + kl, "The reconstruction is averaged over pixels instead of summed: "
                                                  "that weights the KL 784 times too much."),
        (reconstruction + kl / _PIXELS, "The KL is divided by the number of pixels: the ELBO adds the whole KL."),
        (reconstruction, "The KL term is missing."),
        (reconstruction - kl, "The KL is subtracted: the negative ELBO ADDS it (the ELBO subtracts it)."),
        (-want, "The sign is wrong: a negative ELBO of binary images is positive, in nats."),
        (tf.nn.sigmoid_cross_entropy_with_logits(labels=logits, logits=images).numpy().sum(axis=(1, 2, 3)) + kl,
         "labels= and logits= are swapped in the cross-entropy: the images are the labels."),
    ]
    for value, message in mistakes:
        if _is(got, value, rtol=1e-5):
            raise ExerciseCheckFailed(f"{name}: {message}")
    expect_close(f"{name} (nats per image)", got, want, rtol=1e-5)
    passed("reconstruction summed over the 784 pixels plus the KL summed over latent dimensions, per image, "
           "computed stably from the logits.")


def check_iwae_from_log_weights(student_fn):
    """Checks student_fn(log_weights (k, batch)) -> (batch,) logsumexp - log k, stable for large |log w|."""
    name = "iwae_bound"
    log_weights = np.array([[-100.0, -1000.0], [-101.0, -1002.0], [-99.0, -1001.0]], np.float64)
    want = np.array([np.log(np.mean(np.exp(column - column.max()))) + column.max() for column in log_weights.T])
    got = _as_numpy(_call(name, student_fn, log_weights)).astype(np.float64)
    if not np.all(np.isfinite(got)):
        raise ExerciseCheckFailed(f"{name}: got -inf or nan: exp(-1000) underflows. Subtract the maximum before "
                                  "exponentiating (that is what tf.reduce_logsumexp does).")
    mistakes = [
        (log_weights.mean(axis=0), "That is the mean of the log-weights: the ELBO estimate. The bound takes the "
                                   "log of the MEAN of the weights: logsumexp(log w) - log k."),
        (want + math.log(3), "log k is missing: logsumexp adds the k weights; the bound averages them."),
        (np.array([np.log(np.mean(np.exp(row - row.max()))) + row.max() for row in log_weights]),
         "You reduced over the wrong axis: log_weights is (k, batch); reduce over axis 0, the k samples."),
        (log_weights.max(axis=0), "The maximum log-weight is not the bound: the other samples count too."),
    ]
    for value, message in mistakes:
        if got.shape == value.shape and _is(got, value, rtol=1e-6):
            raise ExerciseCheckFailed(f"{name}: {message}")
    expect_close(f"{name} of log-weights [[-100,-1000],[-101,-1002],[-99,-1001]]", got, want, rtol=1e-6)
    expect_close(f"{name}: k = 1 gives the log-weight itself",
                 _as_numpy(_call(name, student_fn, log_weights[:1])).astype(np.float64), log_weights[0], rtol=1e-6)
    passed("log mean exp of the log-weights, computed stably; with k = 1 it is the single-sample ELBO.")


# Training curves of three short runs (reconstruction_loss and kl_loss per epoch,
# nats per image), recorded with `record_broken_runs()` below: an MLP VAE (latent 8)
# on the first 2,000 offline training digits, batch 100, Adam 1e-3, 10 epochs.
# One is healthy, one has its KL divided by the number of pixels (beta = 1/784),
# one has its KL weighted 20 times (its code collapses).
BROKEN_RUNS = {
    "A": {"reconstruction_loss": [386.0, 221.38, 203.56, 189.85, 176.3, 161.07, 150.1, 143.88, 139.16, 135.04],
          "kl_loss": [100.42, 230.72, 192.0, 195.06, 206.9, 225.28, 248.09, 247.75, 248.92, 251.53]},
    "B": {"reconstruction_loss": [398.55, 225.86, 206.93, 193.99, 182.77, 172.52, 164.69, 158.66, 152.9, 147.6],
          "kl_loss": [24.13, 23.25, 12.3, 11.46, 11.96, 12.83, 13.52, 13.65, 14.06, 14.54]},
    "C": {"reconstruction_loss": [465.37, 307.66, 245.39, 228.57, 220.89, 216.68, 212.75, 210.76, 209.37, 208.33],
          "kl_loss": [0.54, 0.99, 0.69, 0.39, 0.24, 0.14, 0.09, 0.07, 0.06, 0.06]},
}
DIAGNOSES = ("healthy", "kl_divided_by_pixels", "posterior_collapse")
_BROKEN_RUN_BETAS = {"A": 1.0 / _PIXELS, "B": 1.0, "C": 20.0}
_BROKEN_RUN_ANSWERS = {"A": "kl_divided_by_pixels", "B": "healthy", "C": "posterior_collapse"}


def record_broken_runs(epochs=10, seed=0):
    """Trains the three runs of `BROKEN_RUNS` again and returns their curves (about a minute on a CPU)."""
    from lib import data

    digits = data.load_digits("mnist", offline=True, verbose=False)
    images = data.to_float_images(digits.train_images[:2000])
    runs = {}
    for letter, beta in _BROKEN_RUN_BETAS.items():
        model = vae.make_vae("vae", architecture="mlp", hidden_units=[256], latent_dim=8, beta=beta, seed=seed)
        model.compile(optimizer="adam")
        history = model.fit(images, batch_size=100, epochs=epochs, verbose=0, shuffle=False).history
        runs[letter] = {key: [round(float(value), 2) for value in history[key]]
                        for key in ("reconstruction_loss", "kl_loss")}
    return runs


def check_diagnosis(diagnose):
    """Checks diagnose() -> {"A": ..., "B": ..., "C": ...}, each one of `DIAGNOSES`."""
    name = "diagnosis"
    answer = _call(name, diagnose)
    if not isinstance(answer, dict) or sorted(answer) != sorted(_BROKEN_RUN_ANSWERS):
        raise ExerciseCheckFailed(f"{name}: expected a dict with the keys 'A', 'B', 'C'. Received: {answer!r}")
    unknown = [value for value in answer.values() if value not in DIAGNOSES]
    if unknown:
        raise ExerciseCheckFailed(f"{name}: expected each value among {DIAGNOSES}. Received: {unknown}")
    hints = {
        "healthy": "a healthy run keeps a moderate KL (here about 10-25 nats) while its reconstruction keeps falling",
        "kl_divided_by_pixels": "with the KL divided by 784 the code is almost free: the KL climbs far above a "
                                "healthy run's while the reconstruction drops lowest; the samples from the prior "
                                "are then poor, because q(z|x) no longer looks like N(0, I)",
        "posterior_collapse": "a collapsed code has a KL near 0 nats: the decoder ignores z and draws one blurry "
                              "average digit, so the reconstruction stays high",
    }
    wrong = {letter: value for letter, value in answer.items() if value != _BROKEN_RUN_ANSWERS[letter]}
    if wrong:
        letter = sorted(wrong)[0]
        truth = _BROKEN_RUN_ANSWERS[letter]
        raise ExerciseCheckFailed(f"{name}: run {letter} is not '{wrong[letter]}'. Look at its kl_loss curve: "
                                  f"{hints[truth]}.")
    passed("B is healthy, A's KL was divided by the number of pixels (its code is nearly free, so it grows), "
           "C's code collapsed (KL ~ 0). The KL curve tells them apart at a glance.")


# ----------------------------------------------------------------------------
# Notebook 06
# ----------------------------------------------------------------------------
def check_conditional_sampler(student_fn, model, digit=7, count=200):
    """Checks student_fn(model, digit, n, seed) -> (n, 28, 28, 1) mean images of `digit` from z ~ N(0, I).

    The reference is the model's own sampler: the student's images must look
    like the model's images of `digit` (their average is nearer the average of
    `model.generate(labels=digit)` than of any other label's), vary with z, and
    be pixel probabilities.
    """
    name = "sample_digit"
    got = _as_numpy(_call(name, student_fn, model, digit, count, 0)).astype(np.float64)
    expect_shape(f"{name}(model, {digit}, {count}, seed=0)", got, (count, 28, 28, 1))
    if got.min() < 0 or got.max() > 1:
        raise ExerciseCheckFailed(f"{name}: values from {got.min():.3g} to {got.max():.3g}: these are logits. "
                                  "The mean image is sigmoid(logits), in [0, 1].")
    if np.allclose(got, got[:1], atol=1e-4):
        raise ExerciseCheckFailed(f"{name}: all {count} images are the same: z is fixed (zeros?). Draw z from the "
                                  "prior N(0, I), one row per image.")
    if np.allclose(got, _as_numpy(_call(name, student_fn, model, digit, count, 1)), atol=1e-6):
        raise ExerciseCheckFailed(f"{name}: seeds 0 and 1 gave the same images: draw z from the `seed` argument.")
    averages = [model.generate(count, labels=np.full(count, label), seed=5).mean(axis=0)
                for label in range(model.num_classes)]
    distances = [float(np.sum((got.mean(axis=0) - average) ** 2)) for average in averages]
    nearest = int(np.argmin(distances))
    if nearest != digit:
        raise ExerciseCheckFailed(f"{name}: your images look like the model's {nearest}s, not its {digit}s. "
                                  f"Decode every z with the label {digit} (an integer array of length n).")
    passed(f"{count} different {digit}s: z from N(0, I), the label fixed, sigmoid of the decoder's logits.")


def classify_by_elbo(model, images, num_classes=10):
    """Reference: the label y with the smallest negative ELBO of (x, y), with z = the posterior mean.

    A conditional VAE is a generative classifier: p(y | x) is proportional to p(x | y) p(y),
    and -negative_elbo(x, y) is a lower bound on log p(x | y).
    """
    scores = []
    for label in range(num_classes):
        labels = np.full(len(images), label)
        mean, log_var = model.encode(images, labels)
        logits = model.decode(mean, labels)
        scores.append(-vae.bernoulli_log_likelihood(images, logits) + vae.gaussian_kl(mean, log_var))
    return np.argmin(tf.stack(scores, axis=1).numpy(), axis=1)


def check_classify_by_elbo(student_fn, model, images):
    """Checks student_fn(model, images) -> (n,) labels against `classify_by_elbo`."""
    name = "classify_by_elbo"
    got = _as_numpy(_call(name, student_fn, model, images))
    expect_shape("predicted labels", got, (len(images),))
    want = classify_by_elbo(model, images, model.num_classes)
    scores = []
    for label in range(model.num_classes):
        labels = np.full(len(images), label)
        mean, log_var = model.encode(images, labels)
        logits = model.decode(mean, labels)
        scores.append(-vae.bernoulli_log_likelihood(images, logits).numpy() + vae.gaussian_kl(mean, log_var).numpy())
    scores = np.stack(scores, axis=1)
    if np.mean(got == np.argmax(scores, axis=1)) == 1.0 and np.mean(got == want) < 1.0:
        raise ExerciseCheckFailed(f"{name}: you picked the label with the LARGEST negative ELBO. The label that "
                                  "explains the image best has the smallest negative ELBO (the largest ELBO).")
    agreement = float(np.mean(got == want))
    if agreement < 1.0:
        raise ExerciseCheckFailed(f"{name}: your labels agree with the reference on {agreement:.0%} of the images. "
                                  "Use z = the posterior mean for each candidate label and pick the "
                                  "label with the SMALLEST negative ELBO (reconstruction + KL).")
    passed(f"the CVAE classifies by comparing ELBOs across labels ({len(images)} images).")


def check_label_worth(predict):
    """Checks the predicted largest saving, in nats, of knowing a digit's label (10 equally likely labels).

    p(x) = sum_y p(y) p(x | y) >= p(y) p(x | y), so -log p(x | y) >= -log p(x) - log 10:
    the label can save at most log 10 = 2.30 nats per image.
    """
    name = "your prediction"
    answer = math.log(10.0)
    got = _number(name, _call(name, predict))
    mistakes = [
        (math.log2(10.0), "That is log2(10) = 3.32 BITS. The course counts in nats: ln(10)."),
        (10.0, "The label is one of 10 values; what it is worth is the log of that count."),
        (0.1, "0.1 is p(y), a probability; the saving is -log p(y) nats."),
        (-answer, "The saving is a positive number of nats: -log p(x|y) can be LOWER than -log p(x) by at most ln 10."),
    ]
    for value, message in mistakes:
        if math.isclose(got, value, rel_tol=0.02):
            raise ExerciseCheckFailed(f"{name}: {got:g}. {message}")
    if not math.isclose(got, answer, rel_tol=0.02):
        raise ExerciseCheckFailed(f"{name}: {got:g} nats. Hint: p(x) = sum over y of p(y) p(x|y) is at least "
                                  "p(y) p(x|y), with p(y) = 1/10.")
    passed(f"at most ln 10 = {answer:.2f} nats per image: the label is one of ten equally likely digits.")
