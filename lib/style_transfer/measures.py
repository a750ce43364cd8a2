"""How good is a stylised image? Measures that no method optimised against.

A style-transfer result should keep the content photograph's structure and take
the style image's colours and texture. Four numbers say how far it got:

- `structure`: the correlation of the edge maps of the blurred content and the
  blurred result (1: the same edges; about 0: unrelated pictures). The
  luminance is blurred with a Gaussian (`STRUCTURE_BLUR` of the longest side:
  3 pixels at 256 px) before its Sobel gradient magnitude is taken, so the
  fine grain a style adds does not count, and the outlines of the picture do.
- `color_progress`: how far the colours moved from the content's towards the
  style's, 0 (not at all) to 1 (all the way), measured with `color_distance`
  (|mean_a - mean_b| + ||cov_a - cov_b||_F over RGB pixels).
- `judge_content_loss`, `judge_style_loss`: the Gatys losses under a *judge*,
  a VGG19 with other random weights (seed `JUDGE_SEED`) that none of the
  methods used, each made relative: the content loss is divided by the mean
  square of the content's features, and each style layer by its value for the
  unchanged content image, so the content image itself scores (0, 1) and a
  perfect style match scores 0 style loss.

Imports TensorFlow and NumPy, and `common.py` beside it.

Public names: `JUDGE_SEED`, `STRUCTURE_BLUR`, `build_judge`, `structure`,
`color_distance`, `color_progress`, `judge_losses`, `quality_measures`.
"""

import numpy as np
import tensorflow as tf

try:
    from . import common
except ImportError:  # copied next to common.py, outside the package
    import common

JUDGE_SEED = 12345  # the seed of the random VGG19 that scores results (never optimised against)
STRUCTURE_BLUR = 3 / 256  # the Gaussian's standard deviation, as a fraction of the longest side


def _image(array, name):
    array = np.asarray(array, dtype=np.float32)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"Expected {name} as an RGB image (height, width, 3). Received: shape={array.shape}")
    return array


def _gaussian_blur(gray, sigma):
    """Blurs (1, H, W, 1) with a separable Gaussian of standard deviation `sigma` pixels."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps = tf.constant(taps / taps.sum(), tf.float32)
    padded = tf.pad(gray, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    blurred = tf.nn.conv2d(padded, tf.reshape(taps, (-1, 1, 1, 1)), 1, "VALID")  # along the height
    return tf.nn.conv2d(blurred, tf.reshape(taps, (1, -1, 1, 1)), 1, "VALID")  # along the width


def _edges_of_blurred(image, sigma):
    """Sobel gradient magnitude of the blurred luminance: (H, W) float64."""
    gray = _gaussian_blur(tf.image.rgb_to_grayscale(image[None]), sigma)  # (1, H, W, 1)
    gradients = tf.image.sobel_edges(gray)  # (1, H, W, 1, 2): d/dy, d/dx
    return tf.norm(gradients, axis=-1).numpy()[0, :, :, 0].astype(np.float64)


def structure(image, content, blur=STRUCTURE_BLUR):
    """Correlation of the edge maps of the blurred `image` and the blurred `content` (same size).

    Formula:
        E(x) = |sobel(gaussian_blur(luminance(x), blur * longest side))|
        structure = pearson_correlation(E(image), E(content))

    Args:
        image, content: float arrays (H, W, 3) in [0, 1].
        blur: the Gaussian's standard deviation as a fraction of the longest side.

    Returns:
        float in [-1, 1]; 1 for the content itself.

    Raises:
        ValueError: for images of different shapes.
    """
    image, content = _image(image, "image"), _image(content, "content")
    if image.shape != content.shape:
        raise ValueError(f"Expected the result and the content of one shape. Received: {image.shape}, {content.shape}")
    sigma = max(blur * max(content.shape[:2]), 0.5)
    first, second = _edges_of_blurred(image, sigma).ravel(), _edges_of_blurred(content, sigma).ravel()
    if first.std() == 0 or second.std() == 0:
        return 0.0
    return float(np.corrcoef(first, second)[0, 1])


def color_distance(image, reference):
    """|mean_a - mean_b| + ||cov_a - cov_b||_F of the RGB pixels of two images (any sizes)."""
    pixels = _image(image, "image").reshape(-1, 3).astype(np.float64)
    reference = _image(reference, "reference").reshape(-1, 3).astype(np.float64)
    return float(np.linalg.norm(pixels.mean(0) - reference.mean(0))
                 + np.linalg.norm(np.cov(pixels, rowvar=False) - np.cov(reference, rowvar=False)))


def color_progress(image, content, style):
    """How far the colours moved from the content's to the style's: 1 - d(image, style) / d(content, style)."""
    start = color_distance(content, style)
    return float(1.0 - color_distance(image, style) / start) if start > 0 else 0.0


def build_judge(seed=JUDGE_SEED):
    """The judge: a random VGG19 (seed `JUDGE_SEED`) returning the Gatys content and style layers."""
    return common.build_vgg_feature_extractor(common.CONTENT_LAYERS + common.STYLE_LAYERS, weights="random",
                                              seed=seed)


def judge_losses(image, content, style, judge):
    """The judge's relative content and style losses of `image` (see the module docstring).

    Returns:
        dict: "judge_content_loss" (0 for the content image) and
        "judge_style_loss" (1 for the content image, 0 for a perfect match).
    """
    batch = [common.as_image_batch(_image(x, name), name) for x, name in
             ((image, "image"), (content, "content"), (style, "style"))]
    features, content_features, style_features = (judge(x) for x in batch)
    targets = [content_features[name] for name in common.CONTENT_LAYERS]
    content_value = common.content_loss([features[name] for name in common.CONTENT_LAYERS], targets,
                                        common.content_layer_weights(targets))
    style_grams = [common.gram_matrix(style_features[name]) for name in common.STYLE_LAYERS]
    reference = common.style_layer_losses([common.gram_matrix(content_features[name])
                                           for name in common.STYLE_LAYERS], style_grams)
    style_value = common.style_loss([common.gram_matrix(features[name]) for name in common.STYLE_LAYERS],
                                    style_grams, common.balanced_layer_weights(reference))
    return {"judge_content_loss": float(content_value), "judge_style_loss": float(style_value)}


def quality_measures(image, content, style, judge=None):
    """All four measures of a stylised image.

    Args:
        image: float array (H, W, 3) in [0, 1], the result.
        content: the content image (H, W, 3).
        style: the style image (h, w, 3).
        judge: `build_judge()` (built here when None; pass one to score many images).

    Returns:
        dict of floats: "structure", "color_progress", "color_distance" (to the
        style), "judge_content_loss", "judge_style_loss".
    """
    judge = build_judge() if judge is None else judge
    return {"structure": structure(image, content), "color_progress": color_progress(image, content, style),
            "color_distance": color_distance(image, style), **judge_losses(image, content, style, judge)}
