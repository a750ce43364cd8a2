"""Exercise checks of the VAE chapter (notebooks 04-06).

Each check runs the student's function on fixed inputs and compares it with the
reference in `lib.vae` and with the same hand-computed values as tests/test_vae.py.

Public names: check_gaussian_kl, check_reparameterize, check_iwae_from_log_weights,
check_classify_by_elbo, classify_by_elbo.
"""

import math

import numpy as np
import tensorflow as tf

from lib import vae
from lib.exercises import ExerciseCheckFailed, expect_close, expect_shape, passed

# The same value as tests/test_vae.py::test_kl_hand_computed.
_KL_MEAN = np.array([[1.0, 0.0]], np.float32)
_KL_LOG_VAR = np.array([[0.0, math.log(2.0)]], np.float32)
_KL_VALUE = 0.5 + 0.5 * (1.0 - math.log(2.0))


def check_gaussian_kl(student_kl):
    """Checks student_kl(mean, log_var) -> (batch,) KLs against N(0, I), summed over dims."""
    expect_close("KL(N(0, I) || N(0, I))", student_kl(np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32)),
                 np.zeros(3))
    expect_close("KL for mean [1, 0], variance [1, 2]", student_kl(_KL_MEAN, _KL_LOG_VAR), [_KL_VALUE])
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    got = student_kl(mean, log_var)
    expect_shape("KL of a batch of 5 with 3 latent dims (one value per example)", got, (5,))
    expect_close("KL of random Gaussians", got, vae.gaussian_kl(mean, log_var), rtol=1e-4)
    passed("the KL is 0 for the prior, 0.6534 nats for the hand-computed case, one value per example.")


def check_reparameterize(student_fn):
    """Checks student_fn(mean, log_var, noise) -> mean + exp(log_var / 2) * noise."""
    mean = np.array([[1.0, -2.0]], np.float32)
    log_var = np.array([[math.log(4.0), math.log(0.25)]], np.float32)
    noise = np.array([[0.5, -1.0]], np.float32)
    got = student_fn(mean, log_var, noise)
    if np.allclose(np.asarray(got), mean + np.exp(log_var) * noise):
        raise ExerciseCheckFailed("You multiplied by the variance; the noise scales with the standard "
                                  "deviation exp(log_var / 2).")
    expect_close("z for mean [1, -2], variance [4, 0.25], noise [0.5, -1]", got, [[2.0, -2.5]])
    passed("z = mean + exp(log_var / 2) * noise, differentiable in mean and log_var.")


def check_iwae_from_log_weights(student_fn):
    """Checks student_fn(log_weights (k, batch)) -> (batch,) logsumexp - log k, stable for large |log w|."""
    log_weights = np.array([[-100.0, -1000.0], [-101.0, -1002.0], [-99.0, -1001.0]], np.float64)
    want = np.array([np.log(np.mean(np.exp(column - column.max()))) + column.max() for column in log_weights.T])
    got = np.asarray(student_fn(log_weights), np.float64)
    if not np.all(np.isfinite(got)):
        raise ExerciseCheckFailed("Got -inf or nan: exp(-1000) underflows. Subtract the maximum before "
                                  "exponentiating (that is what tf.reduce_logsumexp does).")
    expect_close("IWAE bound of log-weights [[-100,-1000],[-101,-1002],[-99,-1001]]", got, want, rtol=1e-6)
    expect_close("k = 1 gives the log-weight itself", np.asarray(student_fn(log_weights[:1]), np.float64),
                 log_weights[0], rtol=1e-6)
    passed("log mean exp of the log-weights, computed stably; with k = 1 it is the single-sample ELBO.")


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
    got = np.asarray(student_fn(model, images))
    expect_shape("predicted labels", got, (len(images),))
    want = classify_by_elbo(model, images, model.num_classes)
    agreement = float(np.mean(got == want))
    if agreement < 1.0:
        raise ExerciseCheckFailed(f"Your labels agree with the reference on {agreement:.0%} of the images. "
                                  "Use z = the posterior mean for each candidate label and pick the "
                                  "label with the SMALLEST negative ELBO (reconstruction + KL).")
    passed(f"the CVAE classifies by comparing ELBOs across labels ({len(images)} images).")
