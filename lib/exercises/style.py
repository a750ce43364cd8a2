"""Exercise checks of the style-transfer chapter (notebooks 07-09).

Each `check_*` takes the student's function or number, runs it on fixed inputs,
compares it with the reference in `lib.style_transfer` (and the hand-computed
values of tests/test_style_transfer_common.py), and either prints
`Correct: ...` or raises `ExerciseCheckFailed` naming the mistake it
recognises ("divided by height * width only"), because "expected 3.75, got
7.5" does not tell a student what to fix. tests/test_exercises_style.py runs
every check on the solution, on a blank stub and on each named mistake.

Exercises:
- notebook 07: `check_gram_matrix`, `check_total_variation`,
  `check_keep_content_colors`, `check_start_style_loss` (predict the balanced
  style loss of the starting image)
- notebook 08: `check_instance_normalization`, `check_balanced_layer_weights`,
  `check_diagnosis` (which weight is too large, from a run's curves)
- notebook 09: `check_adain`, `check_channel_mean_std`, `check_style_mix`

Public names: the ten checks above and `DIAGNOSIS_ANSWERS`.
"""

import numpy as np

from lib import style_transfer as st
from lib.exercises import ExerciseCheckFailed, _as_numpy, expect_close, expect_shape, passed

# The same tensor and value as tests/test_style_transfer_common.py::test_gram_matrix_of_a_hand_made_tensor.
_GRAM_FEATURES = np.array([[[[1, 0], [2, 1]], [[3, 1], [4, 0]]]], dtype="float32")
_GRAM_VALUE = np.array([[[3.75, 0.625], [0.625, 0.25]]])


def _call(name, function, *args):
    """Calls the student's function; a stub that still raises NotImplementedError fails the check by name."""
    try:
        return function(*args)
    except NotImplementedError:
        raise ExerciseCheckFailed(f"{name}: not implemented yet (replace `raise NotImplementedError`).") from None


def _is(got, value, rtol=1e-4, atol=1e-5):
    got, value = _as_numpy(got), _as_numpy(value)
    return got.shape == value.shape and np.allclose(got, value, rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------
# Notebook 07
# ----------------------------------------------------------------------------


def check_gram_matrix(student_gram):
    """Checks student_gram(features (B, H, W, C)) -> (B, C, C) normalised by H * W * C."""
    got = _call("Gram matrix", student_gram, _GRAM_FEATURES)
    expect_shape("Gram matrix of a (1, 2, 2, 2) tensor", got, (1, 2, 2))
    if _is(got, _GRAM_VALUE * 8):
        raise ExerciseCheckFailed("Gram matrix: not normalised; divide by height * width * channels (here 8).")
    if _is(got, _GRAM_VALUE * 2):
        raise ExerciseCheckFailed("Gram matrix: divided by height * width only; divide by the channel count too.")
    if _is(got, _GRAM_VALUE * 8 / 12):
        raise ExerciseCheckFailed("Gram matrix: divided by height * width * 3; the channel count is the "
                                  "features' own (here 2, in VGG19 64 to 512), not the image's 3.")
    expect_close("Gram matrix of the hand-made tensor", got, _GRAM_VALUE)
    features = np.random.default_rng(0).normal(size=(2, 5, 4, 7)).astype("float32")
    expect_close("Gram matrix with 7 channels (not 3!)", _call("Gram matrix", student_gram, features),
                 st.gram_matrix(features))
    expect_close("Gram matrix of the same texture tiled 2x2",
                 _call("Gram matrix", student_gram, np.tile(features, (1, 2, 2, 1))), st.gram_matrix(features),
                 rtol=1e-4)
    passed("[[3.75, 0.625], [0.625, 0.25]] for the hand-made tensor, any channel count, independent of size.")


_RAMP = np.tile(np.arange(5, dtype="float32")[None, :, None, None] * 0.1, (1, 1, 4, 3))  # rows 0, 0.1, ... 0.4


def check_total_variation(student_tv):
    """Checks student_tv(images (B, H, W, C)) -> mean |vertical diff| + mean |horizontal diff|."""
    expect_close("TV of a constant image", _call("total variation", student_tv, np.full((1, 8, 8, 3), 0.3, "float32")),
                 0.0, atol=1e-7)
    got = _as_numpy(_call("total variation", student_tv, _RAMP))
    if _is(got, 0.1 * 4 * 4 * 3):
        raise ExerciseCheckFailed("total variation: summed the differences; take their means, so the weight "
                                  "does not depend on the image size.")
    if _is(got, 0.01):
        raise ExerciseCheckFailed("total variation: squared the differences; take their absolute values.")
    if _is(got, 0.0):
        raise ExerciseCheckFailed("total variation: 0 for a ramp from top to bottom: the vertical differences "
                                  "(along axis 1, the rows) are missing.")
    expect_close("TV of a vertical ramp with steps of 0.1", got, 0.1)
    images = np.random.default_rng(1).uniform(size=(2, 6, 5, 3)).astype("float32")
    expect_close("TV of random images (both directions)", _call("total variation", student_tv, images),
                 st.total_variation_loss(images))
    passed("0 for a constant image, 0.1 for the ramp, means (not sums) of absolute differences in both directions.")


def check_keep_content_colors(student_keep):
    """Checks student_keep(stylized, content) -> the stylised luminance with the content's colours (YIQ)."""
    rng = np.random.default_rng(4)
    stylized = rng.uniform(0.3, 0.7, (6, 5, 3)).astype("float32")  # mid-range: no clipping
    content = rng.uniform(0.3, 0.7, (6, 5, 3)).astype("float32")
    got = _as_numpy(_call("colour preservation", student_keep, stylized, content))
    expect_shape("colour-preserved image", got, stylized.shape)
    expected = st.keep_content_colors(stylized, content)
    if _is(got, st.keep_content_colors(content, stylized), atol=1e-4):
        raise ExerciseCheckFailed("colour preservation: swapped: the luminance (Y) must come from the stylised "
                                  "image and the colours (I, Q) from the content.")
    if _is(got, stylized, atol=1e-4):
        raise ExerciseCheckFailed("colour preservation: the stylised image came back unchanged; put the content's "
                                  "I and Q channels in place of its own.")
    if _is(got, content, atol=1e-4):
        raise ExerciseCheckFailed("colour preservation: the content came back unchanged; keep the stylised "
                                  "image's luminance (Y).")
    expect_close("colour-preserved image", got, expected, atol=1e-4)
    passed("Y from the stylised image, I and Q from the content: the style's textures in the photograph's colours.")


def check_start_style_loss(prediction):
    """Checks the predicted style loss of the starting image with balanced layers (it is 1)."""
    value = float(_as_numpy(prediction))
    layers = len(st.STYLE_LAYERS)
    if np.isclose(value, layers):
        raise ExerciseCheckFailed(f"predicted {value:g}: each of the {layers} layers contributes 1 / {layers} "
                                  f"(w_l = 1 / (n E_l)), not 1, so the sum is 1.")
    if np.isclose(value, 0.0):
        raise ExerciseCheckFailed("predicted 0: that is the content loss at the start (the image is the content "
                                  "image); its Gram matrices are not yet the style's.")
    if not np.isclose(value, 1.0):
        raise ExerciseCheckFailed(f"predicted {value:g}: write out sum_l w_l E_l with w_l = 1 / (n E_l).")
    passed("1: every layer starts at 1 / n of it, whatever the images, so style_weight means the same everywhere.")


# ----------------------------------------------------------------------------
# Notebook 08
# ----------------------------------------------------------------------------


def check_instance_normalization(student_norm):
    """Checks student_norm(x (B, H, W, C)) -> per image and channel zero mean, unit std (epsilon 1e-5)."""
    x = np.random.default_rng(2).normal(5.0, 2.0, (2, 6, 6, 3)).astype("float32")
    x[1] = 3.0 * x[1] - 4.0  # the second image has its own statistics
    got = _as_numpy(_call("instance normalisation", student_norm, x))
    expect_shape("instance-normalised batch", got, x.shape)
    batch_mean, batch_variance = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    if _is(got, (x - batch_mean) / np.sqrt(batch_variance + 1e-5), atol=1e-3):
        raise ExerciseCheckFailed("instance normalisation: that is batch normalisation (statistics over the whole "
                                  "batch); take each image's own statistics, over axes 1 and 2 only.")
    layer_mean, layer_variance = x.mean(axis=(1, 2, 3), keepdims=True), x.var(axis=(1, 2, 3), keepdims=True)
    if _is(got, (x - layer_mean) / np.sqrt(layer_variance + 1e-5), atol=1e-3):
        raise ExerciseCheckFailed("instance normalisation: the channels were normalised together (layer "
                                  "normalisation); keep one mean and variance per channel.")
    expect_close("per-image, per-channel means", got.mean(axis=(1, 2)), np.zeros((2, 3)), atol=1e-4)
    expect_close("per-image, per-channel standard deviations", got.std(axis=(1, 2)), np.ones((2, 3)), atol=1e-3)
    passed("every image's every channel has mean 0 and standard deviation 1.")


def check_balanced_layer_weights(student_weights):
    """Checks student_weights(layer_losses) -> w_l with w_l * E_l = 1 / n for every layer."""
    losses = [2.0, 5e4, 0.5, 80.0]
    got = _as_numpy(_call("balanced layer weights", student_weights, losses)).astype(np.float64)
    expect_shape("one weight per layer", got, (4,))
    shares = got * np.array(losses)
    if np.allclose(shares, 1.0):
        raise ExerciseCheckFailed("balanced layer weights: each layer gives 1, so the style loss starts at n = 4; "
                                  "divide by the number of layers too (each layer 1 / n).")
    if np.allclose(got, np.array(losses) / 4):
        raise ExerciseCheckFailed("balanced layer weights: the weight grows with the layer's loss; it must be "
                                  "1 / (n E_l), so the loudest layer is turned down.")
    expect_close("each layer's share w_l * E_l", shares, np.full(4, 0.25))
    passed("every layer contributes 1 / 4 on the reference image, the loudest (5e4) as much as the quietest (0.5).")


# What check_diagnosis accepts, and what it says to the other answers.
DIAGNOSIS_ANSWERS = {
    "style_weight": None,
    "content_weight": "a larger content weight would pull the content loss down, not let it rise to 0.95.",
    "tv_weight": "total variation smooths; too much of it blurs the photo, it does not replace it with texture.",
    "learning_rate": "a too-large learning rate makes the losses jump or diverge; here both moved smoothly.",
}


def check_diagnosis(answer):
    """Checks the diagnosis of notebook 08's broken run: the style weight is too large."""
    answer = str(answer).strip().lower().replace("-", "_").replace(" ", "_")
    if answer not in DIAGNOSIS_ANSWERS:
        raise ExerciseCheckFailed(f"diagnosis: answer one of {sorted(DIAGNOSIS_ANSWERS)}. Received: {answer!r}")
    message = DIAGNOSIS_ANSWERS[answer]
    if message is not None:
        raise ExerciseCheckFailed(f"diagnosis: not {answer}: {message}")
    passed("style_weight: the network found it cheaper to paint texture and drop the photograph; the content "
           "loss rising while the style loss falls is the sign.")


# ----------------------------------------------------------------------------
# Notebook 09
# ----------------------------------------------------------------------------


def _adain_inputs():
    rng = np.random.default_rng(3)
    content = rng.normal(2.0, 3.0, (2, 6, 5, 4)).astype("float32")
    style = rng.normal([-1.0, 0.0, 4.0, 10.0], [0.5, 2.0, 1.0, 0.1], (2, 9, 7, 4)).astype("float32")
    return content, style


def check_adain(student_adain):
    """Checks student_adain(content (B, H, W, C), style (B, h, w, C)) -> AdaIN with alpha 1."""
    content, style = _adain_inputs()
    got = _as_numpy(_call("AdaIN", student_adain, content, style))
    if got.shape == style.shape:
        raise ExerciseCheckFailed("AdaIN: the output has the style's shape; normalise the CONTENT features and give "
                                  "them the style's statistics (content and style swapped?).")
    expect_shape("AdaIN output (the content's shape)", got, content.shape)
    batch_statistics = st.adain(content, (style.mean(axis=(0, 1, 2), keepdims=True),
                                          np.sqrt(style.var(axis=(0, 1, 2), keepdims=True) + 1e-5)))
    if _is(got, batch_statistics, rtol=1e-3, atol=1e-3):
        raise ExerciseCheckFailed("AdaIN: the style statistics were taken over the whole batch; take each image's "
                                  "own, over axes 1 and 2.")
    expect_close("per-channel means of the output (the style's)", got.mean(axis=(1, 2)), style.mean(axis=(1, 2)),
                 atol=1e-3)
    expect_close("per-channel standard deviations (the style's)", got.std(axis=(1, 2)), style.std(axis=(1, 2)),
                 rtol=1e-2)
    expect_close("AdaIN output", got, st.adain(content, style), rtol=1e-3, atol=1e-3)
    passed("the output has the style's per-channel mean and standard deviation, and the content's layout.")


def check_channel_mean_std(student_statistics):
    """Checks student_statistics(features (B, H, W, C)) -> (mean, std), each (B, 1, 1, C), epsilon 1e-5 inside."""
    features = np.random.default_rng(5).normal(1.0, 0.01, (2, 3, 4, 5)).astype("float32")  # small variances
    result = _call("channel statistics", student_statistics, features)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise ExerciseCheckFailed("channel statistics: return the pair (mean, std).")
    mean, std = (_as_numpy(value) for value in result)
    if mean.shape == (2, 5) or std.shape == (2, 5):
        raise ExerciseCheckFailed("channel statistics: shape (2, 5); keep the spatial axes "
                                  "(keepdims=True) so the result broadcasts against (B, H, W, C).")
    expect_shape("mean", mean, (2, 1, 1, 5))
    expect_shape("std", std, (2, 1, 1, 5))
    expected_mean, expected_std = (_as_numpy(value) for value in st.channel_mean_std(features))
    if _is(mean, features.mean(axis=(1, 2, 3), keepdims=True).repeat(5, axis=-1), rtol=1e-5):
        raise ExerciseCheckFailed("channel statistics: one mean over all channels; take one per channel "
                                  "(axes 1 and 2 only).")
    expect_close("per-channel means", mean, expected_mean, rtol=1e-5)
    variance = features.var(axis=(1, 2), keepdims=True)
    if _is(std, np.sqrt(variance) + 1e-5, rtol=1e-4, atol=1e-7):
        raise ExerciseCheckFailed("channel statistics: epsilon was added outside the square root; use "
                                  "sqrt(variance + epsilon).")
    if _is(std, np.sqrt(features.var(axis=(1, 2), ddof=1, keepdims=True) + 1e-5), rtol=1e-4, atol=1e-7):
        raise ExerciseCheckFailed("channel statistics: the variance divides by n - 1 (ddof=1); AdaIN uses the "
                                  "population variance (divide by n, tf.nn.moments).")
    expect_close("per-channel standard deviations", std, expected_std, rtol=1e-4, atol=1e-7)
    passed("one (mean, sqrt(variance + 1e-5)) pair per image and channel, shaped (B, 1, 1, C).")


def check_style_mix(student_mix):
    """Checks student_mix(content, style_a, style_b, weight) -> weight * AdaIN(c, a) + (1 - weight) * AdaIN(c, b)."""
    content, style_a = _adain_inputs()
    style_b = np.random.default_rng(6).normal(3.0, 0.5, style_a.shape).astype("float32")
    got = _as_numpy(_call("style mix", student_mix, content, style_a, style_b, 0.25))
    expect_shape("mixed features (the content's shape)", got, content.shape)
    expected = 0.25 * st.adain(content, style_a) + 0.75 * st.adain(content, style_b)
    if _is(got, 0.75 * st.adain(content, style_a) + 0.25 * st.adain(content, style_b), atol=1e-3):
        raise ExerciseCheckFailed("style mix: the weights are swapped: `weight` belongs to style_a.")
    if _is(got, st.adain(content, 0.25 * style_a + 0.75 * style_b), atol=1e-3):
        raise ExerciseCheckFailed("style mix: the style FEATURES were blended before AdaIN; blend the two AdaIN "
                                  "outputs (Huang & Belongie mix the stylised feature maps).")
    expect_close("mixed features", got, expected, rtol=1e-3, atol=1e-3)
    for weight, style in ((1.0, style_a), (0.0, style_b)):
        expect_close(f"the mix with weight {weight:g}", _call("style mix", student_mix, content, style_a, style_b,
                                                             weight), st.adain(content, style), rtol=1e-3, atol=1e-3)
    passed("weight * AdaIN(c, a) + (1 - weight) * AdaIN(c, b): 1 gives style a, 0 style b.")

