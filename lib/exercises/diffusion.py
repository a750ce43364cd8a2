"""Exercise checks of the diffusion chapter (notebooks 10 and 11).

Each check runs the student's function on fixed inputs, compares it with the
reference in `lib.diffusion` (and with values derived independently, as
tests/test_diffusion.py does) and either prints `Correct: ...` or raises
`ExerciseCheckFailed` naming the mistake it recognises: a variance used where a
standard deviation belongs, the signal and noise swapped, the clean image as
the target, noise added at the last step, Ho and Salimans' (1 + w) scale where
the course uses w, ...

Exercises:
- notebook 10: `check_q_sample`, `check_noise_prediction_loss`, `check_ddpm_step`
- notebook 11: `check_ddim_step`, `check_guidance`, `check_guidance_prediction`

Public names: the six checks above.
"""

import math

import numpy as np
import tensorflow as tf

from lib import diffusion
from lib.exercises import ExerciseCheckFailed, _as_numpy, passed

# A three-step schedule with round numbers, and fixed images and noise.
_TABLE = np.array([0.9, 0.5, 0.1], np.float32)  # alpha_bar_0, alpha_bar_1, alpha_bar_2
_IMAGES = np.stack([np.full((2, 2, 1), value, np.float32) for value in (0.8, -0.4, 0.2)])  # (3, 2, 2, 1)
_NOISE = np.stack([np.array([[[0.5], [-1.0]], [[1.5], [0.25]]], np.float32) * sign for sign in (1, -1, 2)])
_TIMESTEPS = np.array([2, 0, 1], np.int32)  # a different step for each image


def _call(name, function, *args):
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseCheckFailed(f"{name}: not implemented yet (replace `raise NotImplementedError`).") from None


def _first_match(name, got, expected, mistakes, *, atol=1e-5):
    """Passes if got == expected; else raises with the message of the first mistake got equals."""
    got = np.asarray(got, np.float64)
    if got.shape == np.shape(expected) and np.allclose(got, expected, atol=atol, rtol=1e-4):
        return
    for value, message in mistakes:
        if got.shape == np.shape(value) and np.allclose(got, value, atol=atol, rtol=1e-4):
            raise ExerciseCheckFailed(f"{name}: {message}")
    if got.shape != np.shape(expected):
        raise ExerciseCheckFailed(f"{name}: expected shape {np.shape(expected)}, got {got.shape}.")
    worst = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape) if got.ndim else ()
    raise ExerciseCheckFailed(f"{name}: expected {np.asarray(expected)[worst]:.6f}, got {got[worst]:.6f}"
                              + (f" at index {tuple(int(i) for i in worst)}." if got.ndim else "."))


def _per_image(values):
    return np.asarray(values, np.float64).reshape(-1, 1, 1, 1)


# ----------------------------------------------------------------------------
# Notebook 10
# ----------------------------------------------------------------------------


def check_q_sample(student_q_sample):
    """Checks `q_sample(images, timesteps, noise, alpha_bar_table)` -> x_t, one step per image."""
    name = "q_sample"
    got = _as_numpy(_call(name, student_q_sample, _IMAGES, _TIMESTEPS, _NOISE, _TABLE))
    alpha_bar = _per_image(_TABLE[_TIMESTEPS])
    x0, eps = _IMAGES.astype(np.float64), _NOISE.astype(np.float64)
    expected = np.sqrt(alpha_bar) * x0 + np.sqrt(1 - alpha_bar) * eps
    shifted = _per_image(_TABLE[np.clip(_TIMESTEPS - 1, 0, 2)])
    mistakes = [
        (alpha_bar * x0 + (1 - alpha_bar) * eps,
         "you scaled by alpha_bar and 1 - alpha_bar, which are variances. The signal is scaled by "
         "sqrt(alpha_bar) and the noise by sqrt(1 - alpha_bar), so that the variance stays 1."),
        (np.sqrt(alpha_bar) * x0 + (1 - alpha_bar) * eps,
         "the noise's scale is its standard deviation sqrt(1 - alpha_bar), not the variance 1 - alpha_bar."),
        (alpha_bar * x0 + np.sqrt(1 - alpha_bar) * eps,
         "the signal's scale is sqrt(alpha_bar), not alpha_bar."),
        (np.sqrt(1 - alpha_bar) * x0 + np.sqrt(alpha_bar) * eps,
         "signal and noise are swapped: at small t (alpha_bar near 1) x_t must be almost the clean image."),
        (np.sqrt(shifted) * x0 + np.sqrt(1 - shifted) * eps,
         "off by one step: look up alpha_bar_table[t] for timestep t."),
        (np.sqrt(_TABLE[_TIMESTEPS[0]]) * x0 + np.sqrt(1 - _TABLE[_TIMESTEPS[0]]) * eps,
         "every image used the first image's timestep: gather alpha_bar for each image's own t "
         "(tf.gather) and reshape it to (batch, 1, 1, 1)."),
    ]
    _first_match(name, got, expected, mistakes)
    passed("x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps, with each image's own timestep.")


class _FakeNetwork:
    """A stand-in denoiser with a known output: 0.5 x_t + 0.01 t (and it records its inputs)."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs, training=False):
        noisy_images, timesteps = inputs[0], inputs[1]
        self.calls.append((np.asarray(noisy_images), np.asarray(timesteps)))
        steps = tf.reshape(tf.cast(timesteps, tf.float32), [-1, 1, 1, 1])
        return 0.5 * tf.cast(noisy_images, tf.float32) + 0.01 * steps


def check_noise_prediction_loss(student_loss):
    """Checks `loss(network, images, timesteps, noise, alpha_bar_table)` -> Ho et al.'s L_simple.

    The student noises the images with q_sample, asks the network for the
    noise, and returns the mean squared error against the true noise.
    """
    name = "noise_prediction_loss"
    network = _FakeNetwork()
    got = _as_numpy(_call(name, student_loss, network, _IMAGES, _TIMESTEPS, _NOISE, _TABLE))
    if got.shape != ():
        raise ExerciseCheckFailed(f"{name}: expected a scalar (the mean over the batch and pixels), got shape "
                                  f"{got.shape}. Did you forget tf.reduce_mean?")
    alpha_bar = _per_image(_TABLE[_TIMESTEPS])
    x0, eps = _IMAGES.astype(np.float64), _NOISE.astype(np.float64)
    noisy = np.sqrt(alpha_bar) * x0 + np.sqrt(1 - alpha_bar) * eps
    steps = _TIMESTEPS.reshape(-1, 1, 1, 1)
    predicted = 0.5 * noisy + 0.01 * steps
    expected = np.mean((predicted - eps) ** 2)
    on_clean = 0.5 * x0 + 0.01 * steps
    mistakes = [
        (np.mean((predicted - x0) ** 2), "the target is the noise eps that made x_t, not the clean image x_0."),
        (np.mean((predicted - noisy) ** 2), "the target is the noise eps, not the noisy image x_t."),
        (np.mean((on_clean - eps) ** 2), "the network must see the noisy image x_t (from q_sample), not x_0."),
        (np.sum((predicted - eps) ** 2), "you summed over the batch and pixels; take the mean."),
        (np.mean(np.sum((predicted - eps) ** 2, axis=(1, 2, 3))),
         "you summed over the pixels; L_simple is the mean over pixels too (it only rescales the loss, but "
         "then the learning rate means something else)."),
        (np.mean(np.abs(predicted - eps)), "that is the mean absolute error; L_simple is the mean squared error."),
        (np.sqrt(np.mean((predicted - eps) ** 2)), "you took the square root (RMSE); L_simple is the mean square."),
    ]
    _first_match(name, got, expected, mistakes)
    if network.calls and not np.array_equal(network.calls[-1][1].reshape(-1), _TIMESTEPS):
        raise ExerciseCheckFailed(f"{name}: pass the timesteps to the network: network([x_t, timesteps]).")
    passed(f"L_simple = mean (eps_theta(x_t, t) - eps)^2 = {expected:.4f} on the check's batch.")


# Five steps of a toy schedule for the DDPM step.
_BETAS = np.array([0.05, 0.1, 0.2, 0.3, 0.4])
_ALPHA_BARS = np.cumprod(1 - _BETAS)


def _ddpm_reference(noisy, eps, t, z):
    """Ho et al.'s Algorithm 2, sigma_t^2 = beta_tilde_t, no noise at t = 0."""
    beta, alpha_bar = _BETAS[t], _ALPHA_BARS[t]
    mean = (noisy - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(1 - beta)
    if t == 0:
        return mean
    beta_tilde = (1 - _ALPHA_BARS[t - 1]) / (1 - alpha_bar) * beta
    return mean + math.sqrt(beta_tilde) * z


def check_ddpm_step(student_step):
    """Checks `ddpm_step(noisy_images, predicted_noise, t, betas, alpha_bar_table, z)` -> x_{t-1}.

    Ho et al.'s Algorithm 2: x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)
    + sigma_t z, with sigma_t^2 the posterior variance beta_tilde_t, and no noise at t = 0.
    """
    name = "ddpm_step"
    rng = np.random.default_rng(3)
    noisy, eps, z = (rng.standard_normal((2, 2, 2, 1)).astype(np.float32) for _ in range(3))
    noisy64, eps64, z64 = (array.astype(np.float64) for array in (noisy, eps, z))
    for t in (3, 0):
        got = _as_numpy(_call(name, student_step, noisy, eps, t, _BETAS.astype(np.float32),
                              _ALPHA_BARS.astype(np.float32), z))
        expected = _ddpm_reference(noisy64, eps64, t, z64)
        beta, alpha_bar = _BETAS[t], _ALPHA_BARS[t]
        mean = (noisy64 - beta / math.sqrt(1 - alpha_bar) * eps64) / math.sqrt(1 - beta)
        mistakes = [
            (mean + math.sqrt(beta) * z64 if t else None,
             "that is the paper's other choice sigma_t^2 = beta_t; here use the posterior variance "
             "beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t."),
            (mean, "you added no noise; every step but the last adds sigma_t z."),
            ((noisy64 - beta / math.sqrt(1 - alpha_bar) * eps64) / math.sqrt(alpha_bar)
             + (math.sqrt((1 - _ALPHA_BARS[t - 1]) / (1 - alpha_bar) * beta) * z64 if t else 0),
             "divide by sqrt(alpha_t) = sqrt(1 - beta_t), this step's own alpha, not by sqrt(alpha_bar_t)."),
            ((noisy64 - beta / (1 - alpha_bar) * eps64) / math.sqrt(1 - beta)
             + (math.sqrt((1 - _ALPHA_BARS[t - 1]) / (1 - alpha_bar) * beta) * z64 if t else 0),
             "the noise's coefficient is beta_t / sqrt(1 - alpha_bar_t): you forgot the square root."),
        ]
        if t == 0 and got.shape == mean.shape:
            residual = (np.asarray(got, np.float64) - mean).ravel()
            scale = float(residual @ z64.ravel() / (z64.ravel() @ z64.ravel()))
            if abs(scale) > 1e-4 and np.allclose(residual, scale * z64.ravel(), atol=1e-4):
                raise ExerciseCheckFailed(f"{name} at t = 0: no noise at the last step: x_0 is the mean itself "
                                          f"(you added {scale:.3g} z).")
        _first_match(f"{name} at t = {t}", got, expected, [(v, m) for v, m in mistakes if v is not None])
    # The same step, read as the DDPM posterior q(x_{t-1} | x_t, x0_hat) of lib.diffusion.
    x0_hat = (noisy64 - math.sqrt(1 - _ALPHA_BARS[3]) * eps64) / math.sqrt(_ALPHA_BARS[3])
    posterior_mean, _ = diffusion.posterior_mean_variance(x0_hat, noisy64, _ALPHA_BARS[3], _ALPHA_BARS[2])
    np.testing.assert_allclose(_ddpm_reference(noisy64, eps64, 3, 0 * z64), posterior_mean.numpy(), rtol=1e-4,
                               atol=1e-5)
    passed("x_{t-1} = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sigma_t z, no noise at t = 0 "
           "(the same as the posterior mean with x0_hat from eps).")


# ----------------------------------------------------------------------------
# Notebook 11
# ----------------------------------------------------------------------------


def check_ddim_step(student_step):
    """Checks `ddim_step(noisy_images, predicted_noise, alpha_bar, alpha_bar_previous)` with eta = 0."""
    name = "ddim_step"
    rng = np.random.default_rng(4)
    x0 = rng.uniform(-1, 1, (2, 2, 2, 1))
    eps = rng.standard_normal((2, 2, 2, 1))
    alpha_bar, previous = 0.3, 0.8
    noisy = math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * eps
    got = _as_numpy(_call(name, student_step, noisy.astype(np.float32), eps.astype(np.float32), alpha_bar, previous))
    expected = math.sqrt(previous) * x0 + math.sqrt(1 - previous) * eps  # lands on q_sample(x_0, s, eps)
    mistakes = [
        (x0, "you returned x0_hat; the step goes to x_s = sqrt(alpha_bar_s) x0_hat + sqrt(1 - alpha_bar_s) eps_hat."),
        (math.sqrt(previous) * x0 + math.sqrt(1 - alpha_bar) * eps,
         "the noise keeps the NEW step's scale sqrt(1 - alpha_bar_s), not the old sqrt(1 - alpha_bar_t)."),
        (previous * x0 + (1 - previous) * eps, "use square roots: sqrt(alpha_bar_s) and sqrt(1 - alpha_bar_s)."),
        (math.sqrt(previous) * (noisy - math.sqrt(1 - alpha_bar) * eps) + math.sqrt(1 - previous) * eps,
         "x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps_hat) / sqrt(alpha_bar_t): you forgot to divide."),
        (math.sqrt(alpha_bar) * x0 + math.sqrt(1 - alpha_bar) * eps,
         "you went back to x_t: use alpha_bar_s (the earlier, less noisy step) for the new point."),
    ]
    _first_match(name, got, expected, mistakes)
    clean = _as_numpy(_call(name, student_step, noisy.astype(np.float32), eps.astype(np.float32), alpha_bar, 1.0))
    _first_match(f"{name} to the clean image (alpha_bar_s = 1)", clean, x0, [], atol=1e-4)
    passed("with the true noise DDIM lands exactly on q_sample(x_0, s, eps), and on x_0 at the end.")


def check_guidance(student_guide):
    """Checks `guide(conditional, unconditional, scale)` -> the classifier-free guided prediction."""
    name = "guide"
    conditional = np.array([[1.0, -2.0, 0.5]], np.float32)
    unconditional = np.array([[0.0, 1.0, 0.5]], np.float32)
    for scale in (3.0, 1.0, 0.0):
        got = _as_numpy(_call(name, student_guide, conditional, unconditional, scale))
        expected = unconditional + scale * (conditional - unconditional)
        mistakes = [
            (conditional + scale * (unconditional - conditional) if scale != 1.0 else None,
             "conditional and unconditional are swapped: guidance pushes AWAY from the unconditional prediction."),
            (conditional + scale * (conditional - unconditional) if scale != 1.0 else None,
             "that is Ho and Salimans' (1 + w) form; this course uses the scale where 1 means no guidance: "
             "unconditional + scale (conditional - unconditional)."),
            (scale * conditional if scale not in (0.0, 1.0) else None,
             "you dropped the unconditional prediction."),
        ]
        _first_match(f"{name} with scale {scale}", got, expected, [(v, m) for v, m in mistakes if v is not None])
    passed("f = f_uncond + w (f_cond - f_uncond): w = 0 is unconditional, 1 conditional, w > 1 guided.")


def check_guidance_prediction(prediction, measured):
    """Checks a prediction of how the guidance scale changes the samples, against the notebook's measurements.

    Args:
        prediction: {"label_accuracy": "up" or "down", "confidently_read": "up" or "down"}:
            what the student expects as the scale grows from 1 to the largest one measured.
        measured: {scale: {"label_accuracy": ..., "confidently_read": ..., "fid": ...}} from the notebook.
    """
    name = "guidance prediction"
    keys = ("label_accuracy", "confidently_read")
    if not isinstance(prediction, dict) or set(prediction) != set(keys) or \
            not set(prediction.values()) <= {"up", "down"}:
        raise ExerciseCheckFailed(f"{name}: expected {{'label_accuracy': 'up' or 'down', 'confidently_read': "
                                  f"'up' or 'down'}}, got {prediction!r}.")
    measured = {float(scale): values for scale, values in measured.items()}
    scales = sorted(measured)
    if 1.0 not in scales or scales[-1] <= 1.0:
        raise ExerciseCheckFailed(f"{name}: the measurements must include scale 1 and a larger one; got {scales}.")
    low, high, top = measured[1.0], measured[scales[-1]], scales[-1]
    actual = {key: "up" if high[key] > low[key] else "down" for key in keys}
    if prediction["label_accuracy"] != actual["label_accuracy"]:
        raise ExerciseCheckFailed(
            f"{name}: the share read as the asked-for digit went {actual['label_accuracy']} "
            f"({low['label_accuracy']:.1%} at scale 1, {high['label_accuracy']:.1%} at {top:g}). Guidance moves "
            "each sample further in the direction that makes its label likely, so the classifier reads the "
            "asked-for digit more often.")
    if prediction["confidently_read"] != actual["confidently_read"]:
        raise ExerciseCheckFailed(
            f"{name}: the share confidently read went {actual['confidently_read']} "
            f"({low['confidently_read']:.1%} at scale 1, {high['confidently_read']:.1%} at {top:g}). Guided "
            "samples are the most typical members of their class (bold, clean strokes), which a classifier "
            "reads with more certainty.")
    if high["fid"] > low["fid"]:
        about_fid = (f"FID went up ({low['fid']:.1f} -> {high['fid']:.1f}): it rewards variety as well as quality, "
                     "and strong guidance trades variety away, so the best FID sits at a moderate scale.")
    else:
        about_fid = (f"FID went down ({low['fid']:.1f} -> {high['fid']:.1f}): up to this scale guidance gains more "
                     "in quality than it costs in variety; at larger scales FID rises again.")
    passed(f"from scale 1 to {top:g} label accuracy went {actual['label_accuracy']} and so did the share "
           f"confidently read. {about_fid}")
