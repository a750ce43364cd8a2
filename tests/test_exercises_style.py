"""Tests of the style chapter's exercise checks: right answers pass, stubs and named mistakes fail by name."""

import numpy as np
import pytest
import tensorflow as tf

from lib import style_transfer as st
from lib.exercises import ExerciseCheckFailed
from lib.exercises import style as checks


def _stub(*args):
    raise NotImplementedError("Exercise: write this part.")


def _passes(check, answer, capsys):
    check(answer)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize("check", [checks.check_gram_matrix, checks.check_total_variation,
                                   checks.check_keep_content_colors, checks.check_instance_normalization,
                                   checks.check_balanced_layer_weights, checks.check_adain,
                                   checks.check_channel_mean_std, checks.check_style_mix])
def test_a_blank_stub_fails_with_not_implemented(check):
    with pytest.raises(ExerciseCheckFailed, match="not implemented yet"):
        check(_stub)


# --- notebook 07 ----------------------------------------------------------------


def _gram(features, divide_by_channels=True, normalise=True):
    features = tf.convert_to_tensor(features, tf.float32)
    shape = tf.shape(features)
    size = shape[1] * shape[2] * (shape[3] if divide_by_channels else 1)
    gram = tf.einsum("bijc,bijd->bcd", features, features)
    return gram / tf.cast(size, tf.float32) if normalise else gram


def test_gram_matrix(capsys):
    _passes(checks.check_gram_matrix, _gram, capsys)
    with pytest.raises(ExerciseCheckFailed, match="not normalised"):
        checks.check_gram_matrix(lambda f: _gram(f, normalise=False))
    with pytest.raises(ExerciseCheckFailed, match="height \\* width only"):
        checks.check_gram_matrix(lambda f: _gram(f, divide_by_channels=False))
    with pytest.raises(ExerciseCheckFailed, match="not the image's 3"):
        checks.check_gram_matrix(lambda f: tf.einsum("bijc,bijd->bcd", f, f) / tf.cast(
            tf.shape(f)[1] * tf.shape(f)[2] * 3, tf.float32))


def test_total_variation(capsys):
    _passes(checks.check_total_variation, st.total_variation_loss, capsys)

    def summed(x):
        return tf.reduce_sum(tf.abs(x[:, 1:] - x[:, :-1])) + tf.reduce_sum(tf.abs(x[:, :, 1:] - x[:, :, :-1]))

    def squared(x):
        return tf.reduce_mean(tf.square(x[:, 1:] - x[:, :-1])) + tf.reduce_mean(tf.square(x[:, :, 1:] - x[:, :, :-1]))

    def horizontal_only(x):
        return tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]))

    for mistake, message in ((summed, "summed"), (squared, "squared"), (horizontal_only, "vertical differences")):
        with pytest.raises(ExerciseCheckFailed, match=message):
            checks.check_total_variation(mistake)


def test_keep_content_colors(capsys):
    _passes(checks.check_keep_content_colors, st.keep_content_colors, capsys)
    for mistake, message in ((lambda s, c: st.keep_content_colors(c, s), "swapped"),
                             (lambda s, c: s, "stylised image came back unchanged"),
                             (lambda s, c: c, "content came back unchanged")):
        with pytest.raises(ExerciseCheckFailed, match=message):
            checks.check_keep_content_colors(mistake)


def test_start_style_loss(capsys):
    _passes(checks.check_start_style_loss, 1.0, capsys)
    for wrong, message in ((5, "1 / 5"), (0.0, "content loss"), (3.0, "write out")):
        with pytest.raises(ExerciseCheckFailed, match=message):
            checks.check_start_style_loss(wrong)


# --- notebook 08 ----------------------------------------------------------------


def test_instance_normalization(capsys):
    def instance_norm(x):
        mean, variance = tf.nn.moments(tf.convert_to_tensor(x), axes=[1, 2], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-5)

    def batch_norm(x):
        mean, variance = tf.nn.moments(tf.convert_to_tensor(x), axes=[0, 1, 2], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-5)

    def layer_norm(x):
        mean, variance = tf.nn.moments(tf.convert_to_tensor(x), axes=[1, 2, 3], keepdims=True)
        return (x - mean) * tf.math.rsqrt(variance + 1e-5)

    _passes(checks.check_instance_normalization, instance_norm, capsys)
    with pytest.raises(ExerciseCheckFailed, match="batch normalisation"):
        checks.check_instance_normalization(batch_norm)
    with pytest.raises(ExerciseCheckFailed, match="layer"):
        checks.check_instance_normalization(layer_norm)


def test_balanced_layer_weights(capsys):
    _passes(checks.check_balanced_layer_weights, st.balanced_layer_weights, capsys)
    with pytest.raises(ExerciseCheckFailed, match="divide by the number of layers"):
        checks.check_balanced_layer_weights(lambda losses: [1.0 / loss for loss in losses])
    with pytest.raises(ExerciseCheckFailed, match="grows with the layer's loss"):
        checks.check_balanced_layer_weights(lambda losses: [loss / len(losses) for loss in losses])


def test_diagnosis(capsys):
    _passes(checks.check_diagnosis, "style_weight", capsys)
    _passes(checks.check_diagnosis, "Style weight", capsys)
    for wrong in ("content_weight", "tv_weight", "learning_rate"):
        with pytest.raises(ExerciseCheckFailed, match=f"not {wrong}"):
            checks.check_diagnosis(wrong)
    with pytest.raises(ExerciseCheckFailed, match="answer one of"):
        checks.check_diagnosis("the moon")


# --- notebook 09 ----------------------------------------------------------------


def test_adain(capsys):
    _passes(checks.check_adain, lambda c, s: st.adain(c, s), capsys)
    with pytest.raises(ExerciseCheckFailed, match="swapped"):
        checks.check_adain(lambda c, s: st.adain(s, c))

    def batch_statistics(c, s):
        mean, variance = tf.nn.moments(tf.convert_to_tensor(s), axes=[0, 1, 2], keepdims=True)
        return st.adain(c, (mean, tf.sqrt(variance + 1e-5)))

    with pytest.raises(ExerciseCheckFailed, match="whole batch"):
        checks.check_adain(batch_statistics)


def test_channel_mean_std(capsys):
    _passes(checks.check_channel_mean_std, st.channel_mean_std, capsys)

    def epsilon_outside(x):
        mean, variance = tf.nn.moments(tf.convert_to_tensor(x), axes=[1, 2], keepdims=True)
        return mean, tf.sqrt(variance) + 1e-5

    def sample_variance(x):
        x = np.asarray(x)
        return x.mean(axis=(1, 2), keepdims=True), np.sqrt(x.var(axis=(1, 2), ddof=1, keepdims=True) + 1e-5)

    def no_keepdims(x):
        mean, variance = tf.nn.moments(tf.convert_to_tensor(x), axes=[1, 2])
        return mean, tf.sqrt(variance + 1e-5)

    def one_mean(x):
        x = np.asarray(x)
        mean = np.repeat(x.mean(axis=(1, 2, 3), keepdims=True), x.shape[-1], axis=-1)
        return mean, np.sqrt(x.var(axis=(1, 2), keepdims=True) + 1e-5)

    for mistake, message in ((epsilon_outside, "outside the square root"), (sample_variance, "n - 1"),
                             (no_keepdims, "keepdims"), (one_mean, "one mean over all channels"),
                             (lambda x: x, "pair")):
        with pytest.raises(ExerciseCheckFailed, match=message):
            checks.check_channel_mean_std(mistake)


def test_style_mix(capsys):
    def mix(content, style_a, style_b, weight):
        return weight * st.adain(content, style_a) + (1 - weight) * st.adain(content, style_b)

    _passes(checks.check_style_mix, mix, capsys)
    with pytest.raises(ExerciseCheckFailed, match="swapped"):
        checks.check_style_mix(lambda c, a, b, w: mix(c, b, a, w))
    with pytest.raises(ExerciseCheckFailed, match="blended before AdaIN"):
        checks.check_style_mix(lambda c, a, b, w: st.adain(c, w * a + (1 - w) * b))
