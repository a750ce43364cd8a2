"""Tests for lib/style_transfer/gatys.py: SciPy's L-BFGS-B on pixels, Adam, colour preservation.

Tiny images (32 px) and random VGG19 weights keep the file fast and offline.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import tensorflow as tf

from lib import style_transfer as st
from lib.style_transfer import gatys


def _image(seed, size=32):
    """A smooth random RGB image in [0, 1] (float32, (size, size, 3))."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (size // 4, size // 4, 3))
    return np.kron(coarse, np.ones((4, 4, 1))).astype("float32")


@pytest.fixture(scope="module")
def extractor():
    return st.build_vgg_feature_extractor(st.CONTENT_LAYERS + st.STYLE_LAYERS, weights="random", seed=0)


RANDOM = st.loss_weights("gatys", "random")


def test_lbfgs_b_reaches_the_known_minimum_of_a_bounded_quadratic():
    # f(x) = sum a_i (x_i - c_i)^2 / 2 on [0, 1]^n: the minimum is clip(c, 0, 1) exactly.
    rng = np.random.default_rng(0)
    curvature = rng.uniform(0.1, 10.0, (4, 5, 3))  # badly scaled on purpose
    centre = rng.uniform(-0.5, 1.5, (4, 5, 3))  # some inside [0, 1], some outside

    def value_and_gradient(x):
        x = x.reshape(centre.shape)
        return float(0.5 * np.sum(curvature * (x - centre) ** 2)), (curvature * (x - centre)).ravel()

    iterates = []
    found = gatys.minimize_lbfgs_b(value_and_gradient, np.full(centre.shape, 0.5), steps=50, history_size=10,
                                   on_iteration=lambda x: iterates.append(x.copy()) and False)
    np.testing.assert_allclose(found, np.clip(centre, 0.0, 1.0), atol=1e-6)
    assert all(x.min() >= 0.0 and x.max() <= 1.0 for x in iterates)  # every iterate in bounds
    assert len(iterates) < 50  # it converged and stopped


def test_lbfgs_keeps_every_pixel_in_bounds_and_lowers_the_loss_in_a_few_iterations(extractor):
    content, style = _image(4), _image(5)
    seen = []

    def callback(step, image, entry):
        seen.append((image.min(), image.max()))

    # a style weight 1,000 times the default pushes pixels hard against the bounds
    weights = {**RANDOM, "style_weight": 1000 * RANDOM["style_weight"]}
    image, history = st.stylize_gatys(content, style, extractor=extractor, steps=5, callback=callback, **weights)
    assert image.shape == (32, 32, 3) and image.dtype == np.float32
    assert all(low >= 0.0 and high <= 1.0 for low, high in seen) and len(seen) == len(history) - 1
    assert image.min() >= 0.0 and image.max() <= 1.0 and (image.min() == 0.0 or image.max() == 1.0)
    assert [entry["step"] for entry in history] == list(range(len(history))) and len(history) == 6
    assert history[0]["content_loss"] == 0.0  # starts at the content image
    assert history[0]["style_loss"] == pytest.approx(1.0, rel=1e-4)  # balanced: 1 at the start
    assert history[-1]["loss"] < 0.5 * history[0]["loss"]
    assert all(b["seconds"] >= a["seconds"] for a, b in zip(history, history[1:]))
    assert set(history[0]) == {"step", "seconds", "evaluations", "loss", "content_loss", "style_loss", "tv_loss"}


def test_lbfgs_needs_about_one_evaluation_per_iteration(extractor):
    _, history = st.stylize_gatys(_image(6), _image(7), extractor=extractor, steps=10, **RANDOM)
    iterations = len(history) - 1
    assert history[-1]["evaluations"] <= 2 * iterations, history[-1]  # the benchmark's bound, on average


def test_adam_runs_the_same_bounded_problem(extractor):
    image, history = st.stylize_gatys(_image(4), _image(5), extractor=extractor, steps=4, optimizer="adam",
                                      learning_rate=0.05, **RANDOM)
    assert [entry["step"] for entry in history] == [0, 1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"]
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_the_weights_reach_the_loss(extractor):
    content, style = _image(8), _image(9)
    targets = st.gatys_targets(extractor, content, style)
    image = tf.constant(_image(10)[None])
    terms = st.gatys_losses(image, extractor, targets, content_weight=2.0, style_weight=3.0, tv_weight=5.0)
    expected = 2.0 * terms["content_loss"] + 3.0 * terms["style_loss"] + 5.0 * terms["tv_loss"]
    assert float(terms["loss"]) == pytest.approx(float(expected), rel=1e-6)
    assert set(terms) == {"loss", "content_loss", "style_loss", "tv_loss"}
    stronger, _ = st.stylize_gatys(content, style, extractor=extractor, steps=3,
                                   **{**RANDOM, "style_weight": 10 * RANDOM["style_weight"]})
    default, _ = st.stylize_gatys(content, style, extractor=extractor, steps=3, **RANDOM)
    assert np.abs(stronger - default).mean() > 1e-3


def test_unbalanced_layers_weigh_one_over_n(extractor):
    targets = st.gatys_targets(extractor, _image(0), _image(1))
    content_weights, style_weights = st.gatys_loss_weights(extractor, targets, _image(0)[None], balance=False)
    assert content_weights == [1.0] and style_weights == [0.2] * 5


def test_stylize_gatys_rejects_bad_arguments(extractor):
    with pytest.raises(ValueError, match="optimizer"):
        st.stylize_gatys(_image(0), _image(1), extractor=extractor, optimizer="sgd", **RANDOM)
    with pytest.raises(ValueError, match="steps > 0"):
        st.stylize_gatys(_image(0), _image(1), extractor=extractor, steps=0, **RANDOM)
    with pytest.raises(ValueError, match="RGB image"):
        st.stylize_gatys(np.zeros((8, 8), "float32"), _image(1), extractor=extractor, **RANDOM)
    with pytest.raises(ValueError, match="style_weight"):
        st.stylize_gatys(_image(0), _image(1), extractor=extractor, **{**RANDOM, "style_weight": -1.0})


# --- colour preservation ----------------------------------------------------


def test_keep_content_colors_takes_luminance_from_the_result_and_colour_from_the_content():
    content, stylized = 0.25 + 0.5 * _image(6), 0.25 + 0.5 * _image(7)  # mid-range: no clipping
    mixed = st.keep_content_colors(stylized, content)
    yiq = tf.image.rgb_to_yiq(mixed).numpy()
    np.testing.assert_allclose(yiq[..., 0], tf.image.rgb_to_yiq(stylized).numpy()[..., 0], atol=1e-4)
    np.testing.assert_allclose(yiq[..., 1:], tf.image.rgb_to_yiq(content).numpy()[..., 1:], atol=1e-4)
    with pytest.raises(ValueError, match="one shape"):
        st.keep_content_colors(stylized[:8], content)


def test_match_color_statistics_copies_mean_and_covariance():
    rng = np.random.default_rng(8)
    source = rng.uniform(0.3, 0.7, (20, 20, 3)).astype("float32")
    reference = np.clip(rng.normal([0.5, 0.4, 0.6], 0.05, (30, 30, 3)), 0, 1).astype("float32")
    matched = st.match_color_statistics(source, reference).reshape(-1, 3)
    np.testing.assert_allclose(matched.mean(0), reference.reshape(-1, 3).mean(0), atol=1e-3)
    np.testing.assert_allclose(np.cov(matched, rowvar=False), np.cov(reference.reshape(-1, 3), rowvar=False), atol=1e-4)
