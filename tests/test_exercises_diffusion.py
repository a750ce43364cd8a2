"""Tests of the diffusion chapter's exercise checks: right answers pass, typical mistakes fail by name."""

import math

import numpy as np
import pytest
import tensorflow as tf

from lib import diffusion
from lib.exercises import ExerciseCheckFailed
from lib.exercises import diffusion as checks


def unfinished(*args):
    raise NotImplementedError


def _alpha_bar(timesteps, table):
    return tf.reshape(tf.gather(tf.cast(table, tf.float32), timesteps), [-1, 1, 1, 1])


# ----------------------------------------------------------------------------
# Notebook 10
# ----------------------------------------------------------------------------


def test_q_sample_reference_passes(capsys):
    checks.check_q_sample(diffusion.q_sample)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake, message", [
    (lambda x, t, e, table: _alpha_bar(t, table) * x + (1 - _alpha_bar(t, table)) * e, "which are variances"),
    (lambda x, t, e, table: tf.sqrt(_alpha_bar(t, table)) * x + (1 - _alpha_bar(t, table)) * e,
     "standard deviation sqrt"),
    (lambda x, t, e, table: tf.sqrt(1 - _alpha_bar(t, table)) * x + tf.sqrt(_alpha_bar(t, table)) * e, "swapped"),
    (lambda x, t, e, table: diffusion.q_sample(x, np.maximum(np.asarray(t) - 1, 0), e, table), "off by one"),
    (lambda x, t, e, table: diffusion.q_sample(x, np.full(len(x), t[0]), e, table), "first image's timestep"),
    (unfinished, "not implemented yet"),
])
def test_q_sample_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_q_sample(mistake)


def reference_loss(network, images, timesteps, noise, table):
    noisy = diffusion.q_sample(images, timesteps, noise, table)
    return tf.reduce_mean(tf.square(network([noisy, timesteps]) - noise))


def test_noise_prediction_loss_reference_passes(capsys):
    checks.check_noise_prediction_loss(reference_loss)
    assert "Correct: L_simple" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    (lambda net, x, t, e, table: tf.reduce_mean(tf.square(net([diffusion.q_sample(x, t, e, table), t]) - x)),
     "not the clean image"),
    (lambda net, x, t, e, table: tf.reduce_mean(tf.square(
        net([diffusion.q_sample(x, t, e, table), t]) - diffusion.q_sample(x, t, e, table))), "not the noisy image"),
    (lambda net, x, t, e, table: tf.reduce_mean(tf.square(net([x, t]) - e)), "must see the noisy image"),
    (lambda net, x, t, e, table: tf.reduce_sum(tf.square(net([diffusion.q_sample(x, t, e, table), t]) - e)),
     "summed over the batch"),
    (lambda net, x, t, e, table: tf.reduce_mean(tf.abs(net([diffusion.q_sample(x, t, e, table), t]) - e)),
     "mean absolute error"),
    (lambda net, x, t, e, table: tf.reduce_mean(tf.square(net([diffusion.q_sample(x, t, e, table), t]) - e),
                                                axis=[1, 2, 3]), "expected a scalar"),
    (unfinished, "not implemented yet"),
])
def test_noise_prediction_loss_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_noise_prediction_loss(mistake)


def reference_ddpm_step(noisy, eps, t, betas, alpha_bars, z):
    beta, alpha_bar = betas[t], alpha_bars[t]
    mean = (noisy - beta / np.sqrt(1 - alpha_bar) * eps) / np.sqrt(1 - beta)
    if t == 0:
        return mean
    return mean + np.sqrt((1 - alpha_bars[t - 1]) / (1 - alpha_bar) * beta) * z


def test_ddpm_step_reference_passes(capsys):
    checks.check_ddpm_step(reference_ddpm_step)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake, message", [
    (lambda x, e, t, b, a, z: reference_ddpm_step(x, e, t, b, a, z) if t == 0 else
     (x - b[t] / np.sqrt(1 - a[t]) * e) / np.sqrt(1 - b[t]) + np.sqrt(b[t]) * z, "other choice sigma_t"),
    (lambda x, e, t, b, a, z: (x - b[t] / np.sqrt(1 - a[t]) * e) / np.sqrt(1 - b[t]) +
     np.sqrt((1 - a[t - 1]) / (1 - a[t]) * b[t]) * z, "no noise at the last step"),  # a[-1] at t = 0
    (lambda x, e, t, b, a, z: (x - b[t] / np.sqrt(1 - a[t]) * e) / np.sqrt(1 - b[t]), "you added no noise"),
    (lambda x, e, t, b, a, z: (x - b[t] / np.sqrt(1 - a[t]) * e) / np.sqrt(a[t]) +
     (np.sqrt((1 - a[t - 1]) / (1 - a[t]) * b[t]) * z if t else 0), "not by sqrt\\(alpha_bar_t\\)"),
    (lambda x, e, t, b, a, z: (x - b[t] / (1 - a[t]) * e) / np.sqrt(1 - b[t]) +
     (np.sqrt((1 - a[t - 1]) / (1 - a[t]) * b[t]) * z if t else 0), "forgot the square root"),
    (unfinished, "not implemented yet"),
])
def test_ddpm_step_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_ddpm_step(mistake)


# ----------------------------------------------------------------------------
# Notebook 11
# ----------------------------------------------------------------------------


def reference_ddim_step(noisy, eps, alpha_bar, previous):
    x0 = (noisy - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)
    return math.sqrt(previous) * x0 + math.sqrt(1 - previous) * eps


def test_ddim_step_reference_passes(capsys):
    checks.check_ddim_step(reference_ddim_step)
    assert capsys.readouterr().out.startswith("Correct:")


def _x0(noisy, eps, alpha_bar):
    return (noisy - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)


@pytest.mark.parametrize("mistake, message", [
    (lambda x, e, a, p: _x0(x, e, a), "you returned x0_hat"),
    (lambda x, e, a, p: math.sqrt(p) * _x0(x, e, a) + math.sqrt(1 - a) * e, "NEW step's scale"),
    (lambda x, e, a, p: p * _x0(x, e, a) + (1 - p) * e, "use square roots"),
    (lambda x, e, a, p: math.sqrt(p) * (x - math.sqrt(1 - a) * e) + math.sqrt(1 - p) * e, "forgot to divide"),
    (lambda x, e, a, p: math.sqrt(a) * _x0(x, e, a) + math.sqrt(1 - a) * e, "you went back to x_t"),
    (unfinished, "not implemented yet"),
])
def test_ddim_step_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_ddim_step(mistake)


def test_guidance_reference_passes(capsys):
    checks.check_guidance(lambda c, u, w: u + w * (c - u))
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("mistake, message", [
    (lambda c, u, w: c + w * (u - c), "swapped"),
    (lambda c, u, w: c + w * (c - u), r"\(1 \+ w\) form"),
    (lambda c, u, w: w * c, "dropped the unconditional"),
    (unfinished, "not implemented yet"),
])
def test_guidance_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_guidance(mistake)


MEASURED = {0.0: {"fid": 30.0, "label_accuracy": 0.1, "confidently_read": 0.5},
            1.0: {"fid": 20.0, "label_accuracy": 0.8, "confidently_read": 0.7},
            3.0: {"fid": 35.0, "label_accuracy": 0.97, "confidently_read": 0.9}}


def test_guidance_prediction_right_answer_passes(capsys):
    checks.check_guidance_prediction({"label_accuracy": "up", "confidently_read": "up"}, MEASURED)
    output = capsys.readouterr().out
    assert output.startswith("Correct:") and "FID went up" in output
    lower = {**MEASURED, 3.0: {**MEASURED[3.0], "fid": 15.0}}
    checks.check_guidance_prediction({"label_accuracy": "up", "confidently_read": "up"}, lower)
    assert "FID went down" in capsys.readouterr().out


@pytest.mark.parametrize("prediction, message", [
    ({"label_accuracy": "down", "confidently_read": "up"}, "asked-for digit went up"),
    ({"label_accuracy": "up", "confidently_read": "down"}, "confidently read went up"),
    ({"label_accuracy": "more"}, "expected"),
    ("up", "expected"),
])
def test_guidance_prediction_mistakes_are_named(prediction, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_guidance_prediction(prediction, MEASURED)
