"""Style transfer by optimising the image (Gatys et al.), with colour preservation.

Gatys, Ecker & Bethge 2016, "Image Style Transfer Using Convolutional Neural
Networks", https://arxiv.org/abs/1508.06576: start from the content photograph
p and change its pixels x until VGG19 sees p's content and the style image s's
Gram matrices:

    minimise over x in [0, 1]^(H x W x 3):
        content_weight * L_content(x, p) + style_weight * L_style(x, s) + tv_weight * L_tv(x)

(the losses are in `common.py`). Two optimisers:

- L-BFGS (Gatys et al.'s choice): `scipy.optimize.minimize(method="L-BFGS-B")`,
  fed the loss and the flattened gradient of one `tf.function`, with bounds
  [0, 1] on every pixel. It keeps the last few steps and gradient changes and
  builds from them an estimate of the curvature, so each step is scaled per
  direction; with one VGG19 forward and backward pass per iteration (about 1
  on average) it gets much further per iteration than Adam. SciPy is imported
  only when L-BFGS runs.
- Adam, with the pixels clipped to [0, 1] after every step.

Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016, "Preserving
Color in Neural Artistic Style Transfer", https://arxiv.org/abs/1606.05897):
`keep_content_colors` (luminance-only transfer in YIQ) and
`match_color_statistics` (give the style the content's colour mean and
covariance first).

Copy this file with `common.py` into any folder and `import gatys` works.
Images are float32 RGB in [0, 1], (height, width, 3).

Public names: `PRESETS`, `gatys_targets`, `gatys_loss_weights`, `gatys_losses`,
`minimize_lbfgs_b`, `stylize_gatys`, `keep_content_colors`, `match_color_statistics`.
"""

import time

import keras
import numpy as np
import tensorflow as tf

try:
    from . import common
except ImportError:  # copied next to common.py, outside the package
    import common

if keras.backend.backend() != "tensorflow":
    raise ImportError(f"gatys.py needs Keras' TensorFlow backend. Received: {keras.backend.backend()!r}")

# Optimisation settings (the loss weights are common.LOSS_WEIGHTS["gatys"]).
PRESETS = {
    "lbfgs": {"steps": 100, "history_size": 10},  # history: the (step, gradient change) pairs kept
    "adam": {"steps": 1000, "learning_rate": 0.02},  # pixels in [0, 1]
}
OPTIMIZERS = tuple(PRESETS)
EXECUTIONS = ("eager", "function", "jit")


def gatys_targets(extractor, content, style, *, content_layers=common.CONTENT_LAYERS,
                  style_layers=common.STYLE_LAYERS):
    """Returns what the image is pulled towards: the content's features and the style's Gram matrices.

    Args:
        extractor: `common.build_vgg_feature_extractor(content_layers + style_layers, ...)`.
        content: float array (H, W, 3) in [0, 1].
        style: float array (h, w, 3) in [0, 1], any size (Gram matrices do not depend on it).
        content_layers, style_layers: VGG19 layer names.

    Returns:
        dict: "content_layers", "style_layers" (tuples), "content" (list of
        (1, H/k, W/k, C) features) and "style" (list of (1, C, C) Gram matrices).
    """
    content_features = extractor(common.as_image_batch(content, "content"))
    style_features = extractor(common.as_image_batch(style, "style"))
    return {
        "content_layers": tuple(content_layers),
        "style_layers": tuple(style_layers),
        "content": [content_features[name] for name in content_layers],
        "style": [common.gram_matrix(style_features[name]) for name in style_layers],
    }


def gatys_loss_weights(extractor, targets, start, *, balance):
    """Per-layer weights of the content and style losses.

    With `balance` (random VGG19 weights) every style layer gets the same share
    of the style loss at `start` (`common.balanced_layer_weights`) and the
    content loss becomes a relative error (`common.content_layer_weights`);
    without it (ImageNet weights) every style layer weighs 1 / n and the content
    loss is plain, as in Gatys et al.

    Args:
        extractor: the feature extractor.
        targets: from `gatys_targets`.
        start: the starting image (1, H, W, 3), usually the content image.
        balance: bool.

    Returns:
        (content_layer_weights, style_layer_weights): lists of floats.
    """
    count = len(targets["style_layers"])
    if not balance:
        return [1.0] * len(targets["content_layers"]), [1.0 / count] * count
    features = extractor(start)
    start_losses = common.style_layer_losses(
        [common.gram_matrix(features[name]) for name in targets["style_layers"]], targets["style"])
    return common.content_layer_weights(targets["content"]), common.balanced_layer_weights(start_losses)


def gatys_losses(image, extractor, targets, *, content_weight, style_weight, tv_weight,
                 content_layer_weights=None, style_layer_weights=None):
    """Returns Gatys et al.'s loss and its terms for a batch of images.

    Formula:
        loss = content_weight * content_loss + style_weight * style_loss + tv_weight * tv_loss

    Args:
        image: float tensor (batch, height, width, 3) in [0, 1].
        extractor: the feature extractor of `targets`.
        targets: from `gatys_targets`.
        content_weight, style_weight, tv_weight: floats >= 0.
        content_layer_weights, style_layer_weights: per-layer weights (from
            `gatys_loss_weights`; default 1).

    Returns:
        dict of float32 scalars: "loss" (what is minimised) and the terms
        "content_loss", "style_loss", "tv_loss" (before the three weights).
    """
    features = extractor(image)
    terms = {
        "content_loss": common.content_loss([features[name] for name in targets["content_layers"]],
                                            targets["content"], content_layer_weights),
        "style_loss": common.style_loss([common.gram_matrix(features[name]) for name in targets["style_layers"]],
                                        targets["style"], style_layer_weights),
        "tv_loss": common.total_variation_loss(image),
    }
    terms["loss"] = (content_weight * terms["content_loss"] + style_weight * terms["style_loss"]
                     + tv_weight * terms["tv_loss"])
    return terms


def minimize_lbfgs_b(value_and_gradient, start, *, steps, history_size, on_iteration=None):
    """Minimises a function of pixels in [0, 1] with SciPy's L-BFGS-B.

    L-BFGS remembers the last `history_size` steps s_k and gradient changes
    y_k and builds from them an estimate of the inverse curvature, so each
    step is scaled per direction (Nocedal 1980); L-BFGS-B keeps every
    coordinate inside its bounds (Byrd, Lu, Nocedal & Zhu 1995).

    Args:
        value_and_gradient: callable x (float64 array, flat) -> (value, flat gradient).
        start: float array, the starting point (any shape), inside [0, 1].
        steps: the most iterations; it also stops earlier when no step lowers the value.
        history_size: the (s, y) pairs kept.
        on_iteration: optional callable(x shaped like `start`) after each
            iteration; returning True stops.

    Returns:
        The last iterate, shaped like `start` (float64).
    """
    import scipy.optimize  # only L-BFGS needs SciPy

    shape = np.shape(start)

    def callback(intermediate_result):
        if on_iteration is not None and on_iteration(intermediate_result.x.reshape(shape)):
            raise StopIteration  # SciPy stops and returns the current iterate

    result = scipy.optimize.minimize(
        value_and_gradient, np.asarray(start, np.float64).ravel(), jac=True, method="L-BFGS-B",
        bounds=scipy.optimize.Bounds(0.0, 1.0), callback=callback,
        # ftol = gtol = 0: run `steps` iterations, not stop when the loss flattens.
        options={"maxiter": int(steps), "maxcor": int(history_size), "ftol": 0.0, "gtol": 0.0},
    )
    return result.x.reshape(shape)


def stylize_gatys(content, style, *, extractor, content_weight, style_weight, tv_weight, balance,
                  steps=None, optimizer="lbfgs", learning_rate=None, history_size=None,
                  content_layers=common.CONTENT_LAYERS, style_layers=common.STYLE_LAYERS,
                  execution="function", callback=None):
    """Paints `content` in the style of `style` by optimising the pixels (Gatys et al.).

    The image starts as the content image. Take the weights from the one table:
    `stylize_gatys(content, style, extractor=extractor, **common.loss_weights("gatys", "random"))`.

    Args:
        content: float array (H, W, 3) in [0, 1].
        style: float array (h, w, 3) in [0, 1], any size.
        extractor: `common.build_vgg_feature_extractor(content_layers + style_layers, ...)`.
        content_weight, style_weight, tv_weight: floats >= 0, the loss weights.
        balance: balance the layers on the content image (random VGG19 weights).
        steps: iterations (default `PRESETS[optimizer]["steps"]`).
        optimizer: "lbfgs" (SciPy's L-BFGS-B) or "adam".
        learning_rate: Adam's (default `PRESETS["adam"]["learning_rate"]`).
        history_size: L-BFGS's remembered steps (default `PRESETS["lbfgs"]["history_size"]`).
        content_layers, style_layers: VGG19 layer names.
        execution: "eager", "function" or "jit" (tf.function with jit_compile).
        callback: optional callable(step, image, entry) after each iteration
            (image (H, W, 3) NumPy, entry the history row); returning True stops.

    Returns:
        (image, history): image float32 (H, W, 3) in [0, 1]; history a list of
        dicts {"step", "seconds", "evaluations", "loss", "content_loss",
        "style_loss", "tv_loss"}; row k describes the image after k iterations
        (row 0: the start), "seconds" counts from the start of the optimisation
        and "evaluations" the VGG19 forward and backward passes so far.

    Raises:
        ValueError: for a bad optimizer, execution, step count, weight or image shape.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Expected optimizer in {OPTIMIZERS}. Received: optimizer={optimizer!r}")
    if execution not in EXECUTIONS:
        raise ValueError(f"Expected execution in {EXECUTIONS}. Received: execution={execution!r}")
    steps = PRESETS[optimizer]["steps"] if steps is None else steps
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps <= 0:
        raise ValueError(f"Expected steps > 0. Received: steps={steps!r}")
    weights = {name: common.check_loss_weight(name, value) for name, value in
               (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight))}
    content = common.as_image_batch(content, "content")  # (1, H, W, 3)
    targets = gatys_targets(extractor, content, style, content_layers=content_layers, style_layers=style_layers)
    content_layer_weights, style_layer_weights = gatys_loss_weights(extractor, targets, content, balance=balance)

    def losses(image):
        return gatys_losses(image, extractor, targets, **weights, content_layer_weights=content_layer_weights,
                            style_layer_weights=style_layer_weights)

    def compiled(function):
        return function if execution == "eager" else tf.function(function, jit_compile=(execution == "jit"))

    history = []
    started = time.perf_counter()

    def record(step, terms, evaluations):
        entry = {"step": step, "seconds": time.perf_counter() - started, "evaluations": evaluations}
        entry.update({name: float(value) for name, value in terms.items()})
        history.append(entry)
        return entry

    if optimizer == "adam":
        image = tf.Variable(content)
        adam = keras.optimizers.Adam(PRESETS["adam"]["learning_rate"] if learning_rate is None else learning_rate)
        adam.build([image])

        def adam_step():
            with tf.GradientTape() as tape:
                terms = losses(image)
            adam.apply_gradients([(tape.gradient(terms["loss"], image), image)])
            image.assign(tf.clip_by_value(image, 0.0, 1.0))  # the same bounds as L-BFGS-B
            return terms  # of the image before this step

        step_function, final_losses = compiled(adam_step), compiled(losses)
        for step in range(steps):
            terms = step_function()
            record(step, terms, step + 1)
            if step > 0 and callback is not None and callback(step, image.numpy()[0], history[-1]):
                break
        record(len(history), final_losses(image), len(history) + 1)
        if callback is not None:
            callback(history[-1]["step"], image.numpy()[0], history[-1])
        return image.numpy()[0], history

    def loss_and_gradient(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = losses(image)
        return terms, tape.gradient(terms["loss"], image)

    loss_and_gradient = compiled(loss_and_gradient)
    last = {"evaluations": 0}

    def value_and_gradient(pixels):
        terms, gradient = loss_and_gradient(tf.constant(pixels.reshape(content.shape), tf.float32))
        last.update(terms=terms, evaluations=last["evaluations"] + 1)
        if not history:
            record(0, terms, 1)  # SciPy's first evaluation is the start
        return float(terms["loss"]), gradient.numpy().astype(np.float64).ravel()

    def on_iteration(pixels):
        # L-BFGS-B's accepted point is the last one its line search evaluated.
        entry = record(len(history), last["terms"], last["evaluations"])
        return callback is not None and callback(entry["step"], pixels[0].astype(np.float32), entry)

    history_size = PRESETS["lbfgs"]["history_size"] if history_size is None else history_size
    pixels = minimize_lbfgs_b(value_and_gradient, content.numpy(), steps=steps, history_size=history_size,
                              on_iteration=on_iteration)
    return np.clip(pixels[0], 0.0, 1.0).astype(np.float32), history


# ----------------------------------------------------------------------------
# Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016)
# ----------------------------------------------------------------------------


def keep_content_colors(stylized, content):
    """Luminance-only transfer: the stylised image's luminance with the content's colours.

    Takes Y (luminance) from `stylized` and I, Q (chrominance) from `content`
    (`tf.image.rgb_to_yiq` / `yiq_to_rgb`), so the style changes textures and
    brightness but not the photograph's colours.

    Args:
        stylized: float array (H, W, 3) or (batch, H, W, 3) in [0, 1].
        content: same shape, the content image.

    Returns:
        float32 NumPy array of the same shape, clipped to [0, 1].

    Raises:
        ValueError: if the shapes differ.
    """
    stylized = np.asarray(stylized, dtype=np.float32)
    content = np.asarray(content, dtype=np.float32)
    if stylized.shape != content.shape:
        raise ValueError(f"Expected images of one shape. Received: {stylized.shape} and {content.shape}")
    luminance = tf.image.rgb_to_yiq(stylized)[..., :1]
    chrominance = tf.image.rgb_to_yiq(content)[..., 1:]
    combined = tf.image.yiq_to_rgb(tf.concat([luminance, chrominance], axis=-1))
    return np.clip(combined.numpy(), 0.0, 1.0)


def match_color_statistics(source, reference, epsilon=1e-5):
    """Gives `source` the mean and covariance of `reference`'s RGB colours.

    The linear colour transfer of Gatys et al. 2016:
    x -> C_r^(1/2) C_s^(-1/2) (x - mu_s) + mu_r, with matrix square roots from
    eigendecompositions. Applied to the style image before transfer, it makes
    the result keep the content photograph's palette.

    Args:
        source: float array (H, W, 3) in [0, 1], the image to recolour.
        reference: float array (h, w, 3) in [0, 1], whose colour statistics to copy.
        epsilon: added to the covariance diagonals (flat images).

    Returns:
        float32 array (H, W, 3), clipped to [0, 1].
    """
    source = np.asarray(source, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    for name, image in (("source", source), ("reference", reference)):
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"Expected {name} shaped (height, width, 3). Received: shape={image.shape}")
    pixels, target = source.reshape(-1, 3), reference.reshape(-1, 3)

    def sqrt_and_inverse_sqrt(covariance):
        values, vectors = np.linalg.eigh(covariance + epsilon * np.eye(3))
        values = np.maximum(values, epsilon)
        return (vectors * np.sqrt(values)) @ vectors.T, (vectors / np.sqrt(values)) @ vectors.T

    _, source_inverse_sqrt = sqrt_and_inverse_sqrt(np.cov(pixels, rowvar=False))
    reference_sqrt, _ = sqrt_and_inverse_sqrt(np.cov(target, rowvar=False))
    matched = (pixels - pixels.mean(0)) @ (reference_sqrt @ source_inverse_sqrt).T + target.mean(0)
    return np.clip(matched.reshape(source.shape), 0.0, 1.0).astype(np.float32)
