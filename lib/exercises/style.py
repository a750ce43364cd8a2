"""Exercise checks of the style-transfer chapter (notebooks 07-09).

Each check runs the student's function on fixed inputs and compares it with the
reference in `lib.style_transfer` and with the same hand-computed values as
tests/test_style_transfer.py.

Public names: check_gram_matrix, check_total_variation, check_instance_normalization,
check_adain.
"""

import numpy as np

from lib import style_transfer as st
from lib.exercises import ExerciseCheckFailed, expect_close, expect_shape, passed

# The same tensor and value as tests/test_style_transfer.py::test_gram_matrix_of_a_hand_made_tensor.
_GRAM_FEATURES = np.array([[[[1, 0], [2, 1]], [[3, 1], [4, 0]]]], dtype="float32")
_GRAM_VALUE = np.array([[[3.75, 0.625], [0.625, 0.25]]])


def check_gram_matrix(student_gram):
    """Checks student_gram(features (B, H, W, C)) -> (B, C, C) normalised by H * W * C."""
    got = student_gram(_GRAM_FEATURES)
    expect_shape("Gram matrix of a (1, 2, 2, 2) tensor", got, (1, 2, 2))
    if np.allclose(np.asarray(got), _GRAM_VALUE * 8):
        raise ExerciseCheckFailed("Gram matrix: not normalised; divide by height * width * channels (here 8).")
    if np.allclose(np.asarray(got), _GRAM_VALUE * 2):
        raise ExerciseCheckFailed("Gram matrix: divided by height * width only; divide by the channel count too.")
    expect_close("Gram matrix of the hand-made tensor", got, _GRAM_VALUE)
    features = np.random.default_rng(0).normal(size=(2, 5, 4, 7)).astype("float32")
    expect_close("Gram matrix with 7 channels (not 3!)", student_gram(features), st.gram_matrix(features))
    expect_close("Gram matrix of the same texture tiled 2x2", student_gram(np.tile(features, (1, 2, 2, 1))),
                 st.gram_matrix(features), rtol=1e-4)
    passed("[[3.75, 0.625], [0.625, 0.25]] for the hand-made tensor, any channel count, independent of size.")


def check_total_variation(student_tv):
    """Checks student_tv(images (B, H, W, C)) -> mean |vertical diff| + mean |horizontal diff|."""
    expect_close("TV of a constant image", student_tv(np.full((1, 8, 8, 3), 0.3, "float32")), 0.0, atol=1e-7)
    ramp = np.tile(np.arange(5, dtype="float32")[None, :, None, None] * 0.1, (1, 1, 4, 3))
    expect_close("TV of a vertical ramp with steps of 0.1", student_tv(ramp), 0.1)
    images = np.random.default_rng(1).uniform(size=(2, 6, 5, 3)).astype("float32")
    expect_close("TV of random images", student_tv(images), st.total_variation_loss(images))
    passed("0 for a constant image, 0.1 for the ramp, means (not sums) of absolute differences.")


def check_instance_normalization(student_norm):
    """Checks student_norm(x (B, H, W, C)) -> per image and channel zero mean, unit std (epsilon 1e-5)."""
    x = np.random.default_rng(2).normal(5.0, 2.0, (2, 6, 6, 3)).astype("float32")
    got = np.asarray(student_norm(x))
    expect_shape("instance-normalised batch", got, x.shape)
    expect_close("per-image, per-channel means", got.mean(axis=(1, 2)), np.zeros((2, 3)), atol=1e-4)
    expect_close("per-image, per-channel standard deviations", got.std(axis=(1, 2)), np.ones((2, 3)), atol=1e-3)
    passed("every image's every channel has mean 0 and standard deviation 1.")


def check_adain(student_adain):
    """Checks student_adain(content (B, H, W, C), style (B, h, w, C)) -> AdaIN with alpha 1."""
    rng = np.random.default_rng(3)
    content = rng.normal(2.0, 3.0, (2, 6, 5, 4)).astype("float32")
    style = rng.normal([-1.0, 0.0, 4.0, 10.0], [0.5, 2.0, 1.0, 0.1], (2, 9, 7, 4)).astype("float32")
    got = np.asarray(student_adain(content, style))
    expect_shape("AdaIN output (the content's shape)", got, content.shape)
    expect_close("per-channel means of the output (the style's)", got.mean(axis=(1, 2)), style.mean(axis=(1, 2)),
                 atol=1e-3)
    expect_close("per-channel standard deviations (the style's)", got.std(axis=(1, 2)), style.std(axis=(1, 2)),
                 rtol=1e-2)
    expect_close("AdaIN output", got, st.adain(content, style), rtol=1e-3, atol=1e-3)
    passed("the output has the style's per-channel mean and standard deviation, and the content's layout.")
