"""Neural style transfer: Gatys optimisation, fast feed-forward networks and AdaIN.

This one file is the whole model side of the course's style-transfer chapter; it
imports only TensorFlow, Keras and NumPy, so it can be copied on its own.

Three ways to paint a content photograph in the style of another image:

1. Optimisation (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using
   Convolutional Neural Networks", https://arxiv.org/abs/1508.06576): start from
   the content image and change its pixels until its VGG19 features match the
   content image's (content loss) and its Gram matrices match the style image's
   (style loss). Adam or L-BFGS; colour preservation from Gatys et al. 2016,
   "Preserving Color in Neural Artistic Style Transfer",
   https://arxiv.org/abs/1606.05897.
2. Fast style transfer (Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for
   Real-Time Style Transfer and Super-Resolution", https://arxiv.org/abs/1603.08155):
   train a feed-forward transformation network with the same losses, then
   stylise any photograph in one forward pass. Instance normalisation from
   Ulyanov, Vedaldi & Lempitsky 2016, https://arxiv.org/abs/1607.08022.
3. Arbitrary style (Huang & Belongie 2017, "Arbitrary Style Transfer in
   Real-time with Adaptive Instance Normalization", https://arxiv.org/abs/1703.06868):
   encode with VGG19 up to block4_conv1, give the content features the style
   features' per-channel mean and standard deviation (AdaIN), decode.

Weights: VGG19's ImageNet weights come through Keras with network access;
without it, `weights="random"` gives a seeded He-initialised VGG19. Random
convolutional features still carry texture statistics (He, Wang & Hopcroft
2016, https://arxiv.org/abs/1606.04801; Ustyuzhaninov, Brendel, Gatys & Bethge
2017, https://arxiv.org/abs/1606.00021), so textures transfer, but expect
noisier, less "painterly" results than with ImageNet weights.

Images everywhere are float32 RGB in [0, 1], shaped (height, width, 3) or
(batch, height, width, 3).

Public names:
    preprocess_for_vgg, VGGPreprocessing, build_vgg_feature_extractor,
    describe_vgg_weights, gram_matrix, content_loss, style_loss,
    total_variation_loss, channel_mean_std, mean_std_style_loss, gatys_losses, stylize_gatys,
    lbfgs_minimize, rgb_to_yiq, yiq_to_rgb, keep_content_colors,
    match_color_statistics, InstanceNormalization, ResidualBlock,
    build_transform_network, FastStyleTransfer, stylize_fast, adain,
    AdaptiveInstanceNormalization, adain_feature_scale, build_adain_decoder, AdaINStyleTransfer,
    AdaINStylizer, stylize_adain, CONTENT_LAYERS, STYLE_LAYERS, FAST_CONTENT_LAYERS,
    ADAIN_LAYERS, VGG19_LAYERS.
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf

# keras.applications.vgg19 fetches these; the hash pins the file.
VGG19_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
)
VGG19_NOTOP_HASH = "253f8cb515780f3b799900260a226db6"

# The ImageNet mean pixel in BGR order, on a 0-255 scale ("caffe" mode).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

VGG19_LAYERS = (
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool",
)
# Gatys et al.: content from conv5_2 (here block4_conv2, which keeps more detail
# and is also what most re-implementations use), style from conv1_1 ... conv5_1.
CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Johnson et al. take content from relu2_2 (keeps edges, lets colours change).
FAST_CONTENT_LAYERS = ("block2_conv2",)
# Huang & Belongie: relu1_1 ... relu4_1; relu4_1 is the AdaIN encoder's output.
ADAIN_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")


def _register(cls):
    return keras.saving.register_keras_serializable(package="course")(cls)


# ----------------------------------------------------------------------------
# VGG19: preprocessing, weights, feature extractor
# ----------------------------------------------------------------------------


def preprocess_for_vgg(images):
    """Turns RGB images in [0, 1] into VGG19's input: 0-255 BGR minus the ImageNet mean.

    Equals `keras.applications.vgg19.preprocess_input(255 * images)` ("caffe"
    mode), which is what the ImageNet weights were trained with; a wrong range
    or channel order would silently ruin results with real weights.

    Args:
        images: float tensor or array (..., 3), RGB in [0, 1].

    Returns:
        float32 tensor of the same shape, BGR, mean-subtracted, roughly in
        [-124, 152].

    Raises:
        ValueError: if the last axis is not 3 channels.
    """
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    if images.shape[-1] != 3:
        raise ValueError(
            f"Expected RGB images with 3 channels in the last axis. Received: shape={images.shape}"
        )
    bgr = tf.reverse(images * 255.0, axis=[-1])  # (..., 3): RGB -> BGR
    return bgr - tf.constant(IMAGENET_MEAN_BGR, dtype=tf.float32)


@_register
class VGGPreprocessing(keras.layers.Layer):
    """A layer applying `preprocess_for_vgg`, so a model can take [0, 1] RGB images."""

    def call(self, images):
        return preprocess_for_vgg(images)


def _seeded_he_weights(vgg, seed):
    """Fills every Conv2D of `vgg` with He-normal kernels from `seed` and zero biases."""
    rng = np.random.default_rng(seed)
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_shape = tuple(layer.kernel.shape)  # (3, 3, in_channels, out_channels)
            fan_in = kernel_shape[0] * kernel_shape[1] * kernel_shape[2]
            # He et al. 2015: std sqrt(2 / fan_in) keeps activations at the same
            # scale through ReLUs, so deep layers neither vanish nor explode.
            kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=kernel_shape)
            layer.set_weights([kernel.astype("float32"), np.zeros(kernel_shape[-1], "float32")])


def describe_vgg_weights(weights="imagenet", seed=0):
    """Returns one plain sentence saying which VGG19 weights `weights` means."""
    if weights == "imagenet":
        return "VGG19 ImageNet weights (keras.applications, downloaded once and cached)"
    if weights == "random":
        return (
            f"RANDOM VGG19 weights (He-normal, seed {seed}): offline mode; textures "
            "transfer, but expect noisier results than with ImageNet weights"
        )
    return f"VGG19 weights from the local file {weights}"


def _build_vgg19(weights, seed):
    """Returns keras.applications.VGG19 (no top, any image size) with the chosen weights."""
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if weights == "random":
        _seeded_he_weights(vgg, seed)
        return vgg
    if weights == "imagenet":
        try:
            path = keras.utils.get_file(
                "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                VGG19_NOTOP_URL,
                cache_subdir="models",
                file_hash=VGG19_NOTOP_HASH,
            )
        except Exception as error:  # no network, proxy, disk full ...
            raise OSError(
                "Could not download the VGG19 ImageNet weights "
                f"({type(error).__name__}: {error}). Without network access pass "
                "weights='random' (command line: --weights random; a seeded random VGG19, lower quality) or "
                "weights='/path/to/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5'."
            ) from error
    else:
        path = os.fspath(weights)
        if not os.path.isfile(path):
            raise ValueError(
                "Expected weights='imagenet', 'random' or the path of a VGG19 (no top) "
                f"weights file. Received: weights={weights!r} (no such file)"
            )
    try:
        vgg.load_weights(path)
    except Exception as error:
        raise ValueError(
            f"Could not load VGG19 (include_top=False) weights from {path}: {error}"
        ) from error
    return vgg


def build_vgg_feature_extractor(layer_names, weights="imagenet", seed=0):
    """Builds a frozen VGG19 model returning the activations of the named layers.

    The model takes RGB images in [0, 1] of any size, applies
    `preprocess_for_vgg` (a `VGGPreprocessing` layer) and returns a dict
    {layer_name: features}, features shaped (batch, height / 2**k, width / 2**k,
    channels). Only the layers up to the deepest requested one are computed.

    Args:
        layer_names: VGG19 layer names, e.g. ("block1_conv1", "block4_conv2").
        weights: "imagenet" (download through Keras, cached), "random" (seeded
            He-normal kernels: the offline mode) or a path to a VGG19 no-top
            weights file (`vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`).
        seed: seed of the random weights (used only with weights="random").

    Returns:
        A non-trainable `keras.Model` named "vgg19_features".

    Raises:
        ValueError: for an unknown layer name, an empty list, or a weights path
            that does not exist or does not hold VGG19 weights.
        OSError: if weights="imagenet" and the download fails; the message says
            to pass weights="random" or a local file.
    """
    layer_names = tuple(layer_names)
    if not layer_names:
        raise ValueError("Expected at least one VGG19 layer name. Received: layer_names=()")
    unknown = [name for name in layer_names if name not in VGG19_LAYERS]
    if unknown:
        raise ValueError(
            f"Expected VGG19 layer names from {VGG19_LAYERS}. Received unknown: {unknown}"
        )
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"Expected weights to be 'imagenet', 'random' or a path. Received: weights={weights!r}")
    vgg = _build_vgg19(weights, seed)
    vgg.trainable = False
    unique_names = tuple(dict.fromkeys(layer_names))
    # A sub-model from VGG19's input to the requested layers only.
    truncated = keras.Model(
        vgg.input, {name: vgg.get_layer(name).output for name in unique_names}, name="vgg19"
    )
    images = keras.Input((None, None, 3), name="image")  # RGB in [0, 1]
    preprocessed = VGGPreprocessing(name="vgg_preprocessing")(images)
    outputs = truncated(preprocessed)
    extractor = keras.Model(images, outputs, name="vgg19_features")
    extractor.trainable = False
    return extractor


# ----------------------------------------------------------------------------
# Losses (pure functions)
# ----------------------------------------------------------------------------


def gram_matrix(features):
    """Returns the Gram matrices of feature maps, normalised by height * width * channels.

    Formula:
        G[b, c, d] = sum_{i, j} F[b, i, j, c] * F[b, i, j, d] / (H * W * C)

    Dividing by H * W makes G independent of the image size (a feature map tiled
    2x2 has the same Gram matrix); dividing also by C makes the summed squared
    Gram difference in `style_loss` independent of the channel count (repeating
    every channel k times leaves it unchanged) and gives trace(G) = mean(F ** 2).
    This is Gatys et al.'s 1 / (N_l M_l) normalisation.

    Args:
        features: float tensor (batch, height, width, channels), any channel count.

    Returns:
        float tensor (batch, channels, channels), symmetric.

    Raises:
        ValueError: if `features` is not rank 4.
    """
    features = tf.convert_to_tensor(features)
    if features.shape.rank != 4:
        raise ValueError(
            "Expected features shaped (batch, height, width, channels). "
            f"Received: shape={features.shape}"
        )
    shape = tf.shape(features)
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    return tf.einsum("bijc,bijd->bcd", features, features) / size  # (batch, C, C)


def _as_list(values, what):
    if isinstance(values, dict):
        raise ValueError(f"Expected a list of {what}, not a dict; pick the layers in order.")
    if isinstance(values, (list, tuple)):
        return list(values)
    return [values]


def _paired_layers(values, targets, layer_weights, what):
    """Checks per-layer values against their targets; returns (weight, value, target) triples."""
    values = _as_list(values, what)
    targets = _as_list(targets, what)
    if len(values) != len(targets):
        raise ValueError(
            f"Expected as many targets as {what}. Received: {len(values)} and {len(targets)}"
        )
    weights = [1.0] * len(values) if layer_weights is None else list(layer_weights)
    if len(weights) != len(values):
        raise ValueError(
            f"Expected one weight per layer ({len(values)}). Received: layer_weights={weights}"
        )
    return list(zip(weights, values, targets))


def content_loss(features, target_features, layer_weights=None):
    """Mean squared difference between feature maps, summed over layers.

    Formula:
        L_content = sum_l w_l * mean_{b, i, j, c} (F_l[b, i, j, c] - P_l[b, i, j, c]) ** 2

    Args:
        features: one tensor or a list of tensors (batch, height, width, channels),
            the features of the image being made.
        target_features: the same structure, the content image's features
            (a batch of 1 broadcasts).
        layer_weights: optional list of floats w_l, one per layer (default 1).

    Returns:
        scalar float tensor; 0 for identical features.

    Raises:
        ValueError: if the lists differ in length.
    """
    total = 0.0
    for weight, feature, target in _paired_layers(features, target_features, layer_weights, "feature maps"):
        total += weight * tf.reduce_mean(tf.square(feature - target))
    return tf.convert_to_tensor(total, dtype=tf.float32)


def style_loss(grams, target_grams, layer_weights=None):
    """Squared Frobenius distance between Gram matrices, summed over layers.

    Formula:
        L_style = sum_l w_l * mean_b sum_{c, d} (G_l[b, c, d] - A_l[c, d]) ** 2

    With `gram_matrix`'s H * W * C normalisation each term is 4 E_l of Gatys
    et al. (their E_l = 1 / (4 N_l^2 M_l^2) sum (G - A)^2 on unnormalised Grams),
    and it does not change with the image size or the channel count.

    Args:
        grams: one tensor or a list of tensors (batch, channels, channels), from
            `gram_matrix` of the image being made.
        target_grams: the same structure, the style image's Gram matrices
            ((1, C, C) broadcasts over the batch).
        layer_weights: optional list of floats w_l, one per layer (default 1).

    Returns:
        scalar float tensor.

    Raises:
        ValueError: if the lists differ in length.
    """
    total = 0.0
    for weight, gram, target in _paired_layers(grams, target_grams, layer_weights, "Gram matrices"):
        per_image = tf.reduce_sum(tf.square(gram - target), axis=[-2, -1])  # (batch,)
        total += weight * tf.reduce_mean(per_image)
    return tf.convert_to_tensor(total, dtype=tf.float32)


def total_variation_loss(images):
    """Mean absolute difference between neighbouring pixels (anisotropic total variation).

    Formula:
        L_tv = mean_{b, i, j, c} |x[b, i+1, j, c] - x[b, i, j, c]|
             + mean_{b, i, j, c} |x[b, i, j+1, c] - x[b, i, j, c]|

    Means rather than sums, so the weight does not depend on the image size.

    Args:
        images: float tensor (batch, height, width, channels).

    Returns:
        scalar float tensor; 0 for a constant image.

    Raises:
        ValueError: if `images` is not rank 4.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"Expected images shaped (batch, height, width, channels). Received: shape={images.shape}")
    vertical = tf.reduce_mean(tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :]))
    horizontal = tf.reduce_mean(tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :]))
    return vertical + horizontal


def mean_std_style_loss(features, target_features, epsilon=1e-5):
    """AdaIN's style loss: distance between per-channel means and standard deviations.

    Formula:
        L_style = sum_l mean_{b, c} (mu_l(F)[b, c] - mu_l(S)[b, c]) ** 2
                      + mean_{b, c} (sigma_l(F)[b, c] - sigma_l(S)[b, c]) ** 2
        mu, sigma over the spatial axes; sigma = sqrt(var + epsilon).

    Huang & Belongie sum L2 norms; squared means (as here) weigh every channel
    count alike and have smooth gradients at zero.

    Args:
        features: list of tensors (batch, height, width, channels) of the output.
        target_features: list of tensors, the style images' features (same batch).
        epsilon: small float added to the variance.

    Returns:
        scalar float tensor.
    """
    features = _as_list(features, "feature maps")
    target_features = _as_list(target_features, "feature maps")
    if len(features) != len(target_features):
        raise ValueError(
            f"Expected as many target layers as layers. Received: {len(features)} and {len(target_features)}"
        )
    total = 0.0
    for feature, target in zip(features, target_features):
        mean, std = channel_mean_std(feature, epsilon)  # (batch, 1, 1, channels) each
        target_mean, target_std = channel_mean_std(target, epsilon)
        total += tf.reduce_mean(tf.square(mean - target_mean))
        total += tf.reduce_mean(tf.square(std - target_std))
    return tf.convert_to_tensor(total, dtype=tf.float32)


# ----------------------------------------------------------------------------
# Gatys et al.: optimise the image
# ----------------------------------------------------------------------------


def _as_batch(image, name):
    """Returns a float32 tensor (1, H, W, 3) from (H, W, 3) or (1, H, W, 3)."""
    image = tf.convert_to_tensor(image, dtype=tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[-1] != 3:
        raise ValueError(
            f"Expected {name} as an RGB image (height, width, 3) in [0, 1]. Received: shape={image.shape}"
        )
    return image


def gatys_losses(image, extractor, content_targets, style_targets, *, content_layers,
                 style_layers, content_weight, style_weight, tv_weight):
    """Returns Gatys et al.'s weighted loss terms for a batch of images.

    Formula:
        total = content_weight * L_content + style_weight * L_style + tv_weight * L_tv

    Args:
        image: float tensor (batch, height, width, 3) in [0, 1].
        extractor: a model from `build_vgg_feature_extractor` that returns at
            least `content_layers` and `style_layers`.
        content_targets: list of the content image's features, one per content layer.
        style_targets: list of the style image's Gram matrices, one per style layer.
        content_layers, style_layers: tuples of VGG19 layer names.
        content_weight, style_weight, tv_weight: floats.

    Returns:
        dict of scalar tensors: "total", "content", "style", "tv" (unweighted terms).
    """
    features = extractor(image)
    content = content_loss([features[name] for name in content_layers], content_targets)
    style = style_loss([gram_matrix(features[name]) for name in style_layers], style_targets)
    variation = total_variation_loss(image)
    total = content_weight * content + style_weight * style + tv_weight * variation
    return {"total": total, "content": content, "style": style, "tv": variation}


def lbfgs_minimize(value_and_gradient, initial, *, max_iterations, history_size=10,
                   first_step=0.01, project=None, callback=None):
    """Minimises a function with L-BFGS (two-loop recursion, backtracking line search).

    A small NumPy implementation, so this module needs no SciPy (the tests check
    it against `scipy.optimize.minimize(method="L-BFGS-B")`). Each iteration
    takes one quasi-Newton step; the line search halves the step until the
    Armijo condition f(x + t d) <= f(x) + 1e-4 t g.d holds, which usually
    accepts t = 1 at once, so an iteration costs about one function evaluation.

    Args:
        value_and_gradient: callable x -> (value: float, gradient: array like x),
            x a float64 array.
        initial: float array, the starting point (any shape).
        max_iterations: int > 0.
        history_size: int > 0, how many (s, y) pairs approximate the inverse Hessian.
        first_step: the largest coordinate change of the first step (a plain
            gradient step), since no curvature is known yet; 0.01 suits pixels in [0, 1].
        project: optional callable x -> x mapping a trial point into the feasible
            set (e.g. clipping pixels to [0, 1]); a projected L-BFGS heuristic
            (without it, a bounded problem's result is clipped only at the end and
            can be far from the optimum found).
        callback: optional callable(iteration, x, value) after every iteration;
            returning True stops early.

    Returns:
        (x, value, evaluations): the last iterate (shape of `initial`), its
        value, and the number of function evaluations used.

    Raises:
        ValueError: if max_iterations or history_size is not a positive int.
    """
    if not isinstance(max_iterations, (int, np.integer)) or max_iterations <= 0:
        raise ValueError(f"Expected max_iterations > 0. Received: max_iterations={max_iterations}")
    if not isinstance(history_size, (int, np.integer)) or history_size <= 0:
        raise ValueError(f"Expected history_size > 0. Received: history_size={history_size}")
    shape = np.shape(initial)
    x = np.array(initial, dtype=np.float64).ravel()

    def evaluate(point):
        value, gradient = value_and_gradient(point.reshape(shape))
        return float(value), np.asarray(gradient, dtype=np.float64).ravel()

    value, gradient = evaluate(x)
    evaluations = 1
    pairs = []  # [(s, y, 1 / (y . s))], oldest first
    for iteration in range(1, max_iterations + 1):
        # Two-loop recursion: direction = -H gradient with H the L-BFGS inverse Hessian.
        q = gradient.copy()
        alphas = []
        for s, y, rho in reversed(pairs):
            alpha = rho * np.dot(s, q)
            q -= alpha * y
            alphas.append(alpha)
        if pairs:
            s, y, _ = pairs[-1]
            q *= np.dot(s, y) / np.dot(y, y)  # scale by the latest curvature estimate
        else:
            q *= first_step / max(np.max(np.abs(gradient)), 1e-30)
        for (s, y, rho), alpha in zip(pairs, reversed(alphas)):
            beta = rho * np.dot(y, q)
            q += s * (alpha - beta)
        direction = -q
        slope = np.dot(gradient, direction)
        if not slope < 0:  # not a descent direction: forget the history, go downhill
            pairs.clear()
            direction = -gradient * first_step / max(np.max(np.abs(gradient)), 1e-30)
            slope = np.dot(gradient, direction)
            if slope == 0:
                break  # zero gradient: a stationary point
        found = False
        for attempt in range(2):
            step = 1.0
            for _ in range(30):  # at most 30 halvings
                candidate = x + step * direction
                if project is not None:
                    candidate = np.asarray(project(candidate), dtype=np.float64)
                candidate_value, candidate_gradient = evaluate(candidate)
                evaluations += 1
                # Armijo on the step actually taken (projection may shorten it);
                # if projection made it uphill, ask only for a decrease.
                decrease = min(np.dot(gradient, candidate - x), 0.0)
                if np.isfinite(candidate_value) and candidate_value <= value + 1e-4 * decrease \
                        and (decrease < 0 or candidate_value < value):
                    found = True
                    break
                step *= 0.5
            if found or not pairs:
                break
            # The quasi-Newton step failed (e.g. after projection): forget the
            # history and try a plain gradient step once.
            pairs.clear()
            direction = -gradient * first_step / max(np.max(np.abs(gradient)), 1e-30)
        if not found:
            break  # no step lowers the function: a (projected) stationary point
        s = candidate - x
        y = candidate_gradient - gradient
        curvature = np.dot(s, y)
        if curvature > 1e-10 * np.dot(y, y):  # keep H positive definite
            pairs.append((s, y, 1.0 / curvature))
            if len(pairs) > history_size:
                pairs.pop(0)
        x, value, gradient = candidate, candidate_value, candidate_gradient
        if callback is not None and callback(iteration, x.reshape(shape), value):
            break
    return x.reshape(shape), value, evaluations


def stylize_gatys(content, style, *, extractor, steps=100, optimizer="adam",
                  learning_rate=0.02, content_weight=1.0, style_weight=1e-2,
                  tv_weight=1.0, content_layers=CONTENT_LAYERS, style_layers=STYLE_LAYERS,
                  execution="function", callback=None):
    """Paints `content` in the style of `style` by optimising the pixels (Gatys et al.).

    The image starts as the content image. Adam takes `steps` steps of a
    `tf.function` (or eager / XLA-compiled, see `execution`) and clips pixels to
    [0, 1] after each; L-BFGS (`lbfgs_minimize`) clips every trial point to
    [0, 1] too (projected L-BFGS), so both optimise the same bounded problem.

    Args:
        content: float array (H, W, 3) in [0, 1].
        style: float array (h, w, 3) in [0, 1]; any size (Gram matrices do not
            depend on it).
        extractor: `build_vgg_feature_extractor(content_layers + style_layers, ...)`.
        steps: int > 0, optimiser iterations.
        optimizer: "adam" or "lbfgs".
        learning_rate: Adam's learning rate (pixels are in [0, 1]).
        content_weight, style_weight, tv_weight: floats >= 0, the loss weights.
        content_layers, style_layers: VGG19 layer names.
        execution: "eager", "function" or "jit" (tf.function with jit_compile).
        callback: optional callable(step, image, terms) after each step
            (image (H, W, 3) NumPy, terms a dict of floats).

    Returns:
        (image, history): image float32 (H, W, 3) in [0, 1]; history a list of
        dicts {"step", "seconds", "total", "content", "style", "tv"}, where entry
        k describes the image after k steps (entry 0: the start) and "seconds"
        counts from the start of the optimisation.

    Raises:
        ValueError: for a bad optimizer, execution, step count, weight or image shape.
    """
    if optimizer not in ("adam", "lbfgs"):
        raise ValueError(f"Expected optimizer 'adam' or 'lbfgs'. Received: optimizer={optimizer!r}")
    if execution not in ("eager", "function", "jit"):
        raise ValueError(f"Expected execution 'eager', 'function' or 'jit'. Received: execution={execution!r}")
    if not isinstance(steps, (int, np.integer)) or steps <= 0:
        raise ValueError(f"Expected steps > 0. Received: steps={steps}")
    for name, value in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
        if not value >= 0:
            raise ValueError(f"Expected {name} >= 0. Received: {name}={value}")
    content = _as_batch(content, "content")
    style = _as_batch(style, "style")
    content_layers, style_layers = tuple(content_layers), tuple(style_layers)
    content_features = extractor(content)
    style_features = extractor(style)
    content_targets = [content_features[name] for name in content_layers]
    style_targets = [gram_matrix(style_features[name]) for name in style_layers]

    def losses(image):
        return gatys_losses(
            image, extractor, content_targets, style_targets,
            content_layers=content_layers, style_layers=style_layers,
            content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        )

    def compiled(function):
        if execution == "eager":
            return function
        return tf.function(function, jit_compile=(execution == "jit"))

    history = []
    start = time.perf_counter()

    def record(step, terms):
        entry = {"step": step, "seconds": time.perf_counter() - start}
        entry.update({key: float(value) for key, value in terms.items()})
        history.append(entry)
        return entry

    if optimizer == "adam":
        image = tf.Variable(content)
        adam = keras.optimizers.Adam(learning_rate=learning_rate)
        adam.build([image])

        def adam_step():
            with tf.GradientTape() as tape:
                terms = losses(image)
            gradient = tape.gradient(terms["total"], image)
            adam.apply_gradients([(gradient, image)])
            image.assign(tf.clip_by_value(image, 0.0, 1.0))
            return terms  # the terms of the image before this step

        step_function = compiled(adam_step)
        for step in range(steps):
            terms = step_function()
            record(step, terms)
            if callback is not None and step > 0:
                callback(step, image.numpy()[0], history[-1])
        final = compiled(losses)(image) if execution != "eager" else losses(image)
        record(steps, final)
        if callback is not None:
            callback(steps, image.numpy()[0], history[-1])
        return image.numpy()[0], history

    # L-BFGS: a compiled function returning the loss and its gradient.
    def loss_and_gradient(image):
        with tf.GradientTape() as tape:
            tape.watch(image)
            terms = losses(image)
        return terms, tape.gradient(terms["total"], image)

    loss_and_gradient = compiled(loss_and_gradient)
    last_terms = {}

    def value_and_gradient(pixels):
        terms, gradient = loss_and_gradient(tf.constant(pixels, dtype=tf.float32))
        last_terms["terms"] = terms
        return float(terms["total"]), gradient.numpy()

    def on_iteration(iteration, pixels, value):
        # the terms of the last evaluation, which is the accepted iterate
        entry = record(iteration, last_terms["terms"])
        if callback is not None:
            return callback(iteration, np.clip(pixels[0], 0, 1).astype("float32"), entry)
        return False

    terms0, _ = loss_and_gradient(content)
    record(0, terms0)
    pixels, _, _ = lbfgs_minimize(
        value_and_gradient, content.numpy(), max_iterations=int(steps), callback=on_iteration,
        project=lambda x: np.clip(x, 0.0, 1.0),  # keep pixels valid, as Adam's steps do
    )
    return np.clip(pixels[0], 0.0, 1.0).astype("float32"), history


# ----------------------------------------------------------------------------
# Colour preservation (Gatys, Bethge, Hertzmann & Shechtman 2016)
# ----------------------------------------------------------------------------

_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
    dtype=np.float32,
)


def rgb_to_yiq(images):
    """Converts RGB (..., 3) to YIQ (..., 3): Y is luminance, I and Q colour."""
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    return tf.tensordot(images, tf.constant(_RGB_TO_YIQ.T), axes=1)


def yiq_to_rgb(images):
    """Converts YIQ (..., 3) back to RGB (..., 3); inverse of `rgb_to_yiq`."""
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    return tf.tensordot(images, tf.constant(np.linalg.inv(_RGB_TO_YIQ).T.astype(np.float32)), axes=1)


def keep_content_colors(stylized, content):
    """Luminance-only transfer: the stylised image's luminance with the content's colours.

    Takes Y (luminance) from `stylized` and I, Q (chrominance) from `content`,
    so the style changes textures and brightness but not the photograph's colours.

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
    luminance = rgb_to_yiq(stylized)[..., :1]
    chrominance = rgb_to_yiq(content)[..., 1:]
    combined = yiq_to_rgb(tf.concat([luminance, chrominance], axis=-1))
    return np.clip(combined.numpy(), 0.0, 1.0)


def match_color_statistics(source, reference, epsilon=1e-5):
    """Gives `source` the mean and covariance of `reference`'s RGB colours.

    The linear colour transfer of Gatys et al. 2016 (their "colour histogram
    matching"): x -> C_r^(1/2) C_s^(-1/2) (x - mu_s) + mu_r, with matrix square
    roots from eigendecompositions. Used on the style image before transfer, it
    makes the result keep the content photograph's palette.

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
    pixels = source.reshape(-1, 3)
    target = reference.reshape(-1, 3)

    def sqrt_and_inverse_sqrt(covariance):
        values, vectors = np.linalg.eigh(covariance + epsilon * np.eye(3))
        values = np.maximum(values, epsilon)
        return (vectors * np.sqrt(values)) @ vectors.T, (vectors / np.sqrt(values)) @ vectors.T

    _, source_inverse_sqrt = sqrt_and_inverse_sqrt(np.cov(pixels, rowvar=False))
    reference_sqrt, _ = sqrt_and_inverse_sqrt(np.cov(target, rowvar=False))
    transform = reference_sqrt @ source_inverse_sqrt
    matched = (pixels - pixels.mean(0)) @ transform.T + target.mean(0)
    return np.clip(matched.reshape(source.shape), 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------
# Johnson et al.: the transformation network and its training
# ----------------------------------------------------------------------------


@_register
class InstanceNormalization(keras.layers.Layer):
    """Normalises each channel of each image over its spatial positions (Ulyanov et al. 2016).

    Formula:
        y = gamma * (x - mean_{i, j} x) / sqrt(var_{i, j} x + epsilon) + beta

    Args:
        epsilon: float > 0 added to the variance.
        **kwargs: base Layer arguments (name, dtype ...).
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"Expected epsilon > 0. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        mean, variance = tf.nn.moments(inputs, axes=[1, 2], keepdims=True)  # (batch, 1, 1, C)
        normalized = (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)
        return normalized * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@_register
class ResidualBlock(keras.layers.Layer):
    """conv-norm-ReLU-conv-norm plus the input (He et al. 2016), as in Johnson et al.

    Args:
        filters: int > 0, channels in and out.
        kernel_size: int > 0.
        **kwargs: base Layer arguments.
    """

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(filters, int) or filters <= 0:
            raise ValueError(f"Expected filters > 0. Received: filters={filters}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.conv1 = keras.layers.Conv2D(filters, kernel_size, padding="same", name="conv1")
        self.norm1 = InstanceNormalization(name="norm1")
        self.conv2 = keras.layers.Conv2D(filters, kernel_size, padding="same", name="conv2")
        self.norm2 = InstanceNormalization(name="norm2")

    def build(self, input_shape):
        inner_shape = tuple(input_shape[:-1]) + (self.filters,)  # (batch, h, w, filters)
        self.conv1.build(tuple(input_shape))
        self.norm1.build(inner_shape)
        self.conv2.build(inner_shape)
        self.norm2.build(inner_shape)

    def call(self, inputs):
        x = tf.nn.relu(self.norm1(self.conv1(inputs)))  # (batch, h, w, filters)
        return inputs + self.norm2(self.conv2(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


def build_transform_network(filters=(16, 32, 64), residual_blocks=5, name="transform_network"):
    """Builds Johnson et al.'s image transformation network.

    Three convolutions (9x9, then two 3x3 with stride 2), residual blocks at a
    quarter of the resolution, two nearest-neighbour upsamplings with 3x3
    convolutions (instead of transposed convolutions, which leave checkerboard
    artefacts; Odena et al. 2016) and a 9x9 convolution to RGB with a sigmoid.
    Johnson et al. use filters=(32, 64, 128); the default halves them so a
    512x512 image takes well under a second on a 2-core CPU.

    Args:
        filters: three ints > 0, channels at full, half and quarter resolution.
        residual_blocks: int >= 0.
        name: the model's name.

    Returns:
        keras.Model mapping (batch, H, W, 3) in [0, 1] to (batch, H, W, 3) in
        (0, 1); H and W must be multiples of 4 (`stylize_fast` pads for you).

    Raises:
        ValueError: for bad filters or residual_blocks.
    """
    filters = tuple(filters)
    if len(filters) != 3 or not all(isinstance(f, int) and f > 0 for f in filters):
        raise ValueError(f"Expected three positive ints as filters. Received: filters={filters}")
    if not isinstance(residual_blocks, int) or residual_blocks < 0:
        raise ValueError(f"Expected residual_blocks >= 0. Received: residual_blocks={residual_blocks}")
    full, half, quarter = filters
    inputs = keras.Input((None, None, 3), name="content_image")
    x = inputs

    def conv_norm_relu(x, channels, kernel_size, strides, prefix):
        x = keras.layers.Conv2D(channels, kernel_size, strides=strides, padding="same", name=f"{prefix}_conv")(x)
        x = InstanceNormalization(name=f"{prefix}_norm")(x)
        return keras.layers.ReLU(name=f"{prefix}_relu")(x)

    x = conv_norm_relu(x, full, 9, 1, "down1")  # (batch, H, W, full)
    x = conv_norm_relu(x, half, 3, 2, "down2")  # (batch, H/2, W/2, half)
    x = conv_norm_relu(x, quarter, 3, 2, "down3")  # (batch, H/4, W/4, quarter)
    for index in range(residual_blocks):
        x = ResidualBlock(quarter, name=f"residual{index + 1}")(x)  # (batch, H/4, W/4, quarter)
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name="up1_upsample")(x)
    x = conv_norm_relu(x, half, 3, 1, "up1")  # (batch, H/2, W/2, half)
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name="up2_upsample")(x)
    x = conv_norm_relu(x, full, 3, 1, "up2")  # (batch, H, W, full)
    outputs = keras.layers.Conv2D(3, 9, padding="same", activation="sigmoid", name="to_rgb")(x)
    return keras.Model(inputs, outputs, name=name)


def _pad_to_multiple(images, multiple):
    """Reflect-pads (batch, H, W, C) so H and W are multiples of `multiple`."""
    height, width = images.shape[1], images.shape[2]
    pad_height = (-height) % multiple
    pad_width = (-width) % multiple
    if pad_height == 0 and pad_width == 0:
        return images
    mode = "REFLECT" if height > pad_height and width > pad_width else "SYMMETRIC"
    return tf.pad(images, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]], mode=mode)


def stylize_fast(transform_network, content):
    """Stylises one image or a batch with a trained transformation network (one forward pass).

    Args:
        transform_network: from `build_transform_network` (trained).
        content: float array (H, W, 3) or (batch, H, W, 3) in [0, 1], any size
            (reflect-padded to multiples of 4 and cropped back).

    Returns:
        float32 NumPy array shaped like `content`, in [0, 1].
    """
    images = tf.convert_to_tensor(content, dtype=tf.float32)
    single = images.shape.rank == 3
    batch = _as_batch(images, "content") if single else images
    height, width = batch.shape[1], batch.shape[2]
    output = transform_network(_pad_to_multiple(batch, 4), training=False)[:, :height, :width, :]
    output = np.clip(output.numpy(), 0.0, 1.0)
    return output[0] if single else output


class _LossTrackers:
    """Mixin: Mean trackers for named loss terms, listed by `metrics` so fit() resets them."""

    def _make_trackers(self, names):
        self._tracker_names = tuple(names)
        self.trackers = [keras.metrics.Mean(name=name) for name in names]

    @property
    def metrics(self):
        return list(self.trackers)

    def _update_trackers(self, values):
        for tracker, name in zip(self.trackers, self._tracker_names):
            tracker.update_state(values[name])
        return {tracker.name: tracker.result() for tracker in self.trackers}


class FastStyleTransfer(_LossTrackers, keras.Model):
    """Trains a transformation network with perceptual losses for one style (Johnson et al.).

    A training wrapper: it holds the transformation network, a frozen VGG19
    feature extractor and the style image's Gram matrices. Save
    `model.transform_network` (a functional model) to keep the result; this
    wrapper itself is checkpointed with tf.train.Checkpoint, not saved as .keras.

    Args:
        transform_network: from `build_transform_network`.
        extractor: `build_vgg_feature_extractor(content_layers + style_layers)`.
        style_image: float array (h, w, 3) in [0, 1].
        content_layers, style_layers: VGG19 layer names.
        content_weight, style_weight, tv_weight: floats >= 0.
        **kwargs: base Model arguments.
    """

    def __init__(self, transform_network, extractor, style_image, *, content_layers=FAST_CONTENT_LAYERS,
                 style_layers=STYLE_LAYERS, content_weight=1.0, style_weight=1e-2, tv_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
            if not value >= 0:
                raise ValueError(f"Expected {name} >= 0. Received: {name}={value}")
        self.transform_network = transform_network
        self.extractor = extractor
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        style_features = extractor(_as_batch(style_image, "style_image"))
        # (1, C, C) per style layer; constants, computed once.
        self.style_grams = tuple(
            tf.constant(gram_matrix(style_features[name])) for name in self.style_layers
        )
        self._make_trackers(("loss", "content_loss", "style_loss", "tv_loss"))

    def call(self, images, training=False):
        return self.transform_network(images, training=training)

    def compute_losses(self, content_images, training=False):
        """Returns (stylised images, dict of the weighted total and unweighted terms)."""
        stylized = self.transform_network(content_images, training=training)  # (batch, H, W, 3)
        targets = self.extractor(content_images)
        features = self.extractor(stylized)
        terms = {
            "content_loss": content_loss(
                [features[name] for name in self.content_layers],
                [targets[name] for name in self.content_layers],
            ),
            "style_loss": style_loss(
                [gram_matrix(features[name]) for name in self.style_layers], list(self.style_grams)
            ),
            "tv_loss": total_variation_loss(stylized),
        }
        terms["loss"] = (
            self.content_weight * terms["content_loss"]
            + self.style_weight * terms["style_loss"]
            + self.tv_weight * terms["tv_loss"]
        )
        return stylized, terms

    def train_step(self, data):
        content_images = data[0] if isinstance(data, (tuple, list)) else data  # (batch, H, W, 3)
        variables = self.transform_network.trainable_variables
        with tf.GradientTape() as tape:
            _, terms = self.compute_losses(content_images, training=True)
            # Under a strategy the optimizer sums replica gradients.
            loss = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_trackers(terms)

    def test_step(self, data):
        content_images = data[0] if isinstance(data, (tuple, list)) else data
        _, terms = self.compute_losses(content_images)
        return self._update_trackers(terms)


# ----------------------------------------------------------------------------
# Huang & Belongie: AdaIN
# ----------------------------------------------------------------------------


def channel_mean_std(features, epsilon=1e-5):
    """Per-image, per-channel mean and standard deviation over the spatial axes.

    Formula:
        mu[b, c] = mean_{i, j} F[b, i, j, c]
        sigma[b, c] = sqrt(mean_{i, j} (F[b, i, j, c] - mu[b, c]) ** 2 + epsilon)

    These two numbers per channel are all that AdaIN keeps of a style image, so
    a style can be encoded once and reused (`AdaINStylizer.encode_style`).

    Args:
        features: float tensor (batch, height, width, channels).
        epsilon: float > 0 added to the variance (flat channels).

    Returns:
        (mean, std), float tensors (batch, 1, 1, channels).

    Raises:
        ValueError: if `features` is not rank 4.
    """
    features = tf.convert_to_tensor(features)
    if features.shape.rank != 4:
        raise ValueError(
            f"Expected features shaped (batch, height, width, channels). Received: shape={features.shape}"
        )
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)  # (batch, 1, 1, C) each
    return mean, tf.sqrt(variance + epsilon)


def adain(content_features, style_features, alpha=1.0, epsilon=1e-5):
    """Adaptive instance normalisation: content features with the style's channel statistics.

    Formula:
        t = sigma(s) * (c - mu(c)) / sigma(c) + mu(s)
        output = alpha * t + (1 - alpha) * c
        mu, sigma per image and channel over the spatial axes, sigma = sqrt(var + epsilon).

    Args:
        content_features: float tensor (batch, H, W, C).
        style_features: float tensor (batch or 1, h, w, C), the size may differ;
            or the style's (mean, std) pair from `channel_mean_std`, each
            (batch or 1, 1, 1, C), to reuse a style without encoding it again.
        alpha: style strength in [0, 1] (0 gives the content features back).
        epsilon: float > 0.

    Returns:
        float tensor (batch, H, W, C).

    Raises:
        ValueError: if alpha is a number outside [0, 1] or the channels differ.
    """
    if isinstance(alpha, (int, float)) and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"Expected alpha between 0 and 1. Received: alpha={alpha}")
    content_features = tf.convert_to_tensor(content_features)
    if isinstance(style_features, (tuple, list)):
        if len(style_features) != 2:
            raise ValueError(
                "Expected style features or their (mean, std) pair. "
                f"Received: a sequence of {len(style_features)}"
            )
        style_mean, style_std = (tf.convert_to_tensor(value) for value in style_features)
    else:
        style_mean, style_std = channel_mean_std(style_features, epsilon)
    if content_features.shape[-1] != style_mean.shape[-1] or style_mean.shape != style_std.shape:
        raise ValueError(
            "Expected content and style features with the same channel count. "
            f"Received: content {content_features.shape}, style statistics {style_mean.shape} "
            f"and {style_std.shape}"
        )
    content_mean, content_std = channel_mean_std(content_features, epsilon)
    target = (content_features - content_mean) / content_std * style_std + style_mean  # (batch, H, W, C)
    return alpha * target + (1.0 - alpha) * content_features


@_register
class AdaptiveInstanceNormalization(keras.layers.Layer):
    """A layer wrapping `adain`: call([content_features, style_features], alpha=...).

    Args:
        epsilon: float > 0 added to the variances.
        **kwargs: base Layer arguments.
    """

    def __init__(self, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not epsilon > 0:
            raise ValueError(f"Expected epsilon > 0. Received: epsilon={epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs, alpha=1.0):
        content_features, style_features = inputs
        return adain(content_features, style_features, alpha=alpha, epsilon=self.epsilon)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


def _check_adain_encoder(encoder):
    """Raises ValueError unless `encoder` returns a dict holding "block4_conv1" (relu4_1)."""
    outputs = getattr(encoder, "output", None)
    if not (isinstance(outputs, dict) and ADAIN_LAYERS[-1] in outputs):
        received = sorted(outputs) if isinstance(outputs, dict) else outputs
        raise ValueError(
            f"Expected an encoder from build_vgg_feature_extractor returning {{{ADAIN_LAYERS[-1]!r}: ...}}. "
            f"Received outputs: {received}"
        )


def adain_feature_scale(encoder, images):
    """The typical size of the encoder's relu4_1 features: the decoder divides by it.

    Formula:
        scale = std over all images, positions and channels of F(images)["block4_conv1"]

    Why it matters: relu4_1 features are far from unit scale (random He-normal
    VGG19 weights on 0-255 inputs give a standard deviation of 80-95), so an
    undivided decoder starts with outputs about 100 times too large and Adam
    spends its first hundreds of steps shrinking them. Dividing by this scale
    (`build_adain_decoder(feature_scale=...)`) starts the decoder at unit-scale
    activations. Measured on the 2-core CPU, one photograph, style weight 0, 250
    Adam steps (1e-3): the content loss fell to 510 with the scale and stayed at
    1,812 without it, and only the scaled decoder drew a recognisable photograph.

    Args:
        encoder: `build_vgg_feature_extractor` returning {"block4_conv1": ...}.
        images: float RGB in [0, 1], (batch, height, width, 3) or (height, width, 3).

    Returns:
        Python float > 0.

    Raises:
        ValueError: for an encoder without "block4_conv1" or all-zero features.
    """
    _check_adain_encoder(encoder)
    features = encoder(_as_batch(images, "images"))[ADAIN_LAYERS[-1]]  # (batch, H/8, W/8, 512)
    scale = float(tf.math.reduce_std(features))
    if not scale > 0.0:
        raise ValueError(f"Expected features with a standard deviation > 0. Received: {scale}")
    return scale


def build_adain_decoder(width=1.0, feature_scale=1.0, name="adain_decoder"):
    """Builds AdaIN's decoder: VGG19 up to block4_conv1, mirrored, with nearest upsampling.

    (batch, H/8, W/8, 512) features -> (batch, H, W, 3) image in [0, 1]
    (linear output; clip for display). Layer names mirror VGG19's
    ("decoder_block3_conv4" undoes "block3_conv4"). Huang & Belongie's decoder
    is width=1.0, feature_scale=1.0; smaller widths scale every channel count
    (not the 512 input) for CPUs. The first layer divides the features by
    `feature_scale` (from `adain_feature_scale`), which trains far faster.

    Args:
        width: float in (0, 1], channel multiplier.
        feature_scale: float > 0, the typical size of the input features.
        name: the model's name.

    Returns:
        keras.Model.

    Raises:
        ValueError: if width is not in (0, 1] or feature_scale is not > 0.
    """
    if not 0.0 < width <= 1.0:
        raise ValueError(f"Expected width in (0, 1]. Received: width={width}")
    is_number = isinstance(feature_scale, (int, float, np.floating)) and not isinstance(feature_scale, bool)
    if not (is_number and 0.0 < feature_scale < np.inf):  # NaN fails both comparisons
        raise ValueError(f"Expected a finite feature_scale > 0. Received: feature_scale={feature_scale!r}")

    def channels(count):
        return max(8, int(round(count * width)))

    inputs = keras.Input((None, None, 512), name="features")  # (batch, H/8, W/8, 512)

    def conv(x, count, layer_name):
        return keras.layers.Conv2D(count, 3, padding="same", activation="relu", name=f"decoder_{layer_name}")(x)

    # A fixed division (Rescaling has no weights and is safe to load, unlike a Lambda).
    x = keras.layers.Rescaling(1.0 / float(feature_scale), name="decoder_feature_scale")(inputs)
    x = conv(x, channels(256), "block4_conv1")  # (batch, H/8, W/8, 256w)
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name="decoder_block3_upsample")(x)
    for layer_name in ("block3_conv4", "block3_conv3", "block3_conv2"):
        x = conv(x, channels(256), layer_name)  # (batch, H/4, W/4, 256w)
    x = conv(x, channels(128), "block3_conv1")
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name="decoder_block2_upsample")(x)
    x = conv(x, channels(128), "block2_conv2")  # (batch, H/2, W/2, 128w)
    x = conv(x, channels(64), "block2_conv1")
    x = keras.layers.UpSampling2D(2, interpolation="nearest", name="decoder_block1_upsample")(x)
    x = conv(x, channels(64), "block1_conv2")  # (batch, H, W, 64w)
    outputs = keras.layers.Conv2D(3, 3, padding="same", name="decoder_block1_conv1")(x)  # (batch, H, W, 3)
    return keras.Model(inputs, outputs, name=name)


class AdaINStyleTransfer(_LossTrackers, keras.Model):
    """Trains AdaIN's decoder (Huang & Belongie 2017); the encoder stays frozen.

    call([content_images, style_images], alpha=1.0) stylises. train_step takes
    a (content_images, style_images) batch: decoder output g = D(AdaIN(f(c), f(s))),
    content loss ||f(g) - t||^2 against the AdaIN target t, style loss
    `mean_std_style_loss` over relu1_1 ... relu4_1. Save `model.decoder`.

    Args:
        encoder: `build_vgg_feature_extractor(ADAIN_LAYERS)`; its "block4_conv1"
            output is the AdaIN input.
        decoder: from `build_adain_decoder`.
        style_weight: float >= 0 (Huang & Belongie: 10 with ImageNet weights).
        epsilon: float > 0 for AdaIN and the style statistics.
        **kwargs: base Model arguments.
    """

    def __init__(self, encoder, decoder, *, style_weight=10.0, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not style_weight >= 0:
            raise ValueError(f"Expected style_weight >= 0. Received: style_weight={style_weight}")
        self.encoder = encoder
        self.decoder = decoder
        self.style_weight = float(style_weight)
        self.epsilon = float(epsilon)
        self.adain_layer = AdaptiveInstanceNormalization(epsilon=epsilon, name="adain")
        self._make_trackers(("loss", "content_loss", "style_loss"))

    def call(self, inputs, alpha=1.0, training=False):
        content_images, style_images = inputs
        content_features = self.encoder(content_images)[ADAIN_LAYERS[-1]]
        style_features = self.encoder(style_images)[ADAIN_LAYERS[-1]]
        target = self.adain_layer([content_features, style_features], alpha=alpha)
        return self.decoder(target, training=training)

    def compute_losses(self, content_images, style_images, training=False):
        """Returns (decoded images, dict of the weighted total and unweighted terms)."""
        content_features = self.encoder(content_images)[ADAIN_LAYERS[-1]]  # (batch, H/8, W/8, 512)
        style_features = self.encoder(style_images)
        target = self.adain_layer([content_features, style_features[ADAIN_LAYERS[-1]]])
        decoded = self.decoder(target, training=training)  # (batch, H, W, 3)
        decoded_features = self.encoder(decoded)
        terms = {
            "content_loss": content_loss(decoded_features[ADAIN_LAYERS[-1]], target),
            "style_loss": mean_std_style_loss(
                [decoded_features[name] for name in ADAIN_LAYERS],
                [style_features[name] for name in ADAIN_LAYERS],
                epsilon=self.epsilon,
            ),
        }
        terms["loss"] = terms["content_loss"] + self.style_weight * terms["style_loss"]
        return decoded, terms

    @staticmethod
    def _unpack(data):
        # fit(x=(content, style)) hands over ((content, style),); a custom loop (content, style).
        if isinstance(data, (tuple, list)) and len(data) == 1:
            data = data[0]
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("Expected batches of (content_images, style_images).")
        return data[0], data[1]

    def train_step(self, data):
        content_images, style_images = self._unpack(data)
        variables = self.decoder.trainable_variables
        with tf.GradientTape() as tape:
            _, terms = self.compute_losses(content_images, style_images, training=True)
            loss = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_trackers(terms)

    def test_step(self, data):
        _, terms = self.compute_losses(*self._unpack(data))
        return self._update_trackers(terms)


class AdaINStylizer:
    """Stylises images with a trained AdaIN decoder: encode a style once, reuse it.

    AdaIN keeps only the per-channel mean and standard deviation of the style's
    relu4_1 features, so stylising many photographs in one style (a folder, the
    frames of a video) needs one style encoding, not one per photograph:

        stylizer = AdaINStylizer(encoder, decoder)
        style = stylizer.encode_style(style_image)        # (mean, std), each (1, 1, 1, 512)
        for photo in photos:
            result = stylizer(photo, style, alpha=0.8)    # encoder + AdaIN + decoder

    With execution="function" (the default) the encoder and the decoder run as
    one compiled graph, traced once for the first image size and once more for
    any other size (`reduce_retracing`); "jit" adds XLA (one compilation per size).

    Args:
        encoder: `build_vgg_feature_extractor(ADAIN_LAYERS or ("block4_conv1",))`.
        decoder: a trained `build_adain_decoder` model.
        execution: "eager", "function" or "jit".
        epsilon: float > 0 for the channel statistics.

    Raises:
        ValueError: for an unknown execution or an encoder without "block4_conv1".
    """

    def __init__(self, encoder, decoder, execution="function", epsilon=1e-5):
        if execution not in ("eager", "function", "jit"):
            raise ValueError(f"Expected execution 'eager', 'function' or 'jit'. Received: execution={execution!r}")
        _check_adain_encoder(encoder)
        self.encoder = encoder
        self.decoder = decoder
        self.execution = execution
        self.epsilon = float(epsilon)
        if execution == "eager":
            self._statistics, self._stylize = self._statistics_of, self._stylize_batch
        else:
            compile_options = dict(jit_compile=(execution == "jit"), reduce_retracing=True)
            self._statistics = tf.function(self._statistics_of, **compile_options)
            self._stylize = tf.function(self._stylize_batch, **compile_options)

    def _statistics_of(self, style_images):
        return channel_mean_std(self.encoder(style_images)[ADAIN_LAYERS[-1]], self.epsilon)

    def _stylize_batch(self, content_images, style_mean, style_std, alpha):
        features = self.encoder(content_images)[ADAIN_LAYERS[-1]]  # (1, H/8, W/8, 512)
        target = adain(features, (style_mean, style_std), alpha=alpha, epsilon=self.epsilon)
        return self.decoder(target, training=False)  # (1, H, W, 3)

    def encode_style(self, style):
        """Returns the style's (mean, std) of relu4_1 features, each (1, 1, 1, 512).

        Args:
            style: float array (h, w, 3) in [0, 1], any size.
        """
        return self._statistics(_as_batch(style, "style"))

    def __call__(self, content, style, alpha=1.0):
        """Stylises one image.

        Args:
            content: float array (H, W, 3) in [0, 1], any size (reflect-padded to
                multiples of 8 and cropped back).
            style: float array (h, w, 3) in [0, 1], or the (mean, std) pair
                from `encode_style`.
            alpha: style strength in [0, 1].

        Returns:
            float32 NumPy array (H, W, 3) in [0, 1].

        Raises:
            ValueError: for alpha outside [0, 1] or images that are not RGB.
        """
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"Expected alpha between 0 and 1. Received: alpha={alpha}")
        content_batch = _as_batch(content, "content")
        height, width = content_batch.shape[1], content_batch.shape[2]
        if isinstance(style, (tuple, list)):
            style_mean, style_std = style
        else:
            style_mean, style_std = self.encode_style(style)
        # alpha as a tensor: a new Python float would trace the graph again.
        output = self._stylize(_pad_to_multiple(content_batch, 8), style_mean, style_std,
                               tf.constant(alpha, tf.float32))
        return np.clip(output.numpy()[0, :height, :width, :], 0.0, 1.0)


def stylize_adain(encoder, decoder, content, style, alpha=1.0, epsilon=1e-5):
    """Stylises `content` with any `style` image using a trained AdaIN decoder (eager, one call).

    The one-image form of `AdaINStylizer`, run eagerly (nothing to trace); use
    the class to stylise many images or to reuse an encoded style.

    Args:
        encoder: `build_vgg_feature_extractor(ADAIN_LAYERS or ("block4_conv1",))`.
        decoder: a trained `build_adain_decoder` model.
        content: float array (H, W, 3) in [0, 1], any size (reflect-padded to
            multiples of 8 and cropped back).
        style: float array (h, w, 3) in [0, 1], or a (mean, std) pair from
            `AdaINStylizer.encode_style`.
        alpha: style strength in [0, 1].
        epsilon: float > 0.

    Returns:
        float32 NumPy array (H, W, 3) in [0, 1].
    """
    return AdaINStylizer(encoder, decoder, execution="eager", epsilon=epsilon)(content, style, alpha)
