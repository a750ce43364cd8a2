"""What the three style-transfer methods share: VGG19 features and the perceptual losses.

This file, plus one method file beside it (`gatys.py`, `fast.py` or
`adain.py`), is a whole style-transfer method: copy the two into any folder
and `import gatys` works with only TensorFlow, Keras and NumPy installed (and
SciPy for Gatys' L-BFGS).

The idea (Gatys, Ecker & Bethge 2016, "Image Style Transfer Using
Convolutional Neural Networks", https://arxiv.org/abs/1508.06576): a
convolutional network's feature maps F_l describe an image's content (what is
where), and their Gram matrices G_l (which channels fire together, wherever
they are) describe its style. With x the image being made, p the content
photograph and s the style image:

    L(x) = content_weight * sum_l c_l * mean (F_l(x) - F_l(p))^2
         + style_weight   * sum_l w_l * ||G(F_l(x)) - G(F_l(s))||_F^2
         + tv_weight      * TV(x)

Offline, VGG19 has seeded random He-normal weights instead of ImageNet's.
Random convolutional features still carry texture statistics (He, Wang &
Hopcroft 2016, https://arxiv.org/abs/1606.04801; Ustyuzhaninov, Brendel, Gatys
& Bethge 2017, https://arxiv.org/abs/1606.00021), but only when no layer
drowns the others, and their raw style terms differ by a factor of 4 to 20 on
the course's images. So with random weights every layer is *balanced*: its
weight is 1 / (n * its loss on a reference image), and the content loss is
divided by the mean square of its target, so the style loss starts at 1, the
content loss is a relative error, and the weights below mean the same for any
photograph (`balanced_layer_weights`, `content_layer_weights`).
`LOSS_WEIGHTS` is the one table of default loss weights, per method and
weight source; ImageNet's follow the published settings.

Images everywhere are float32 RGB in [0, 1], shaped (height, width, 3) or
(batch, height, width, 3).

Public names:
- VGG19: `VGG19_LAYERS`, `CONTENT_LAYERS`, `STYLE_LAYERS`, `FAST_CONTENT_LAYERS`,
  `ADAIN_LAYERS`, `preprocess_for_vgg`, `VGGPreprocessing`,
  `build_vgg_feature_extractor`, `describe_vgg_weights`, `weight_source`
- losses: `gram_matrix`, `content_loss`, `style_loss`, `style_layer_losses`,
  `total_variation_loss`, `channel_mean_std`, `mean_std_style_loss`,
  `mean_std_layer_losses`
- balance and defaults: `LOSS_WEIGHTS`, `loss_weights`, `balanced_layer_weights`,
  `content_layer_weights`
- small helpers for the method files: `as_image_batch`, `pad_to_multiple`,
  `check_loss_weight`, `LOSS_NAMES`
"""

import os

import keras
import numpy as np
import tensorflow as tf

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "lib/style_transfer needs Keras' TensorFlow backend (it uses tf.GradientTape and "
        f"tf.function). Received: KERAS_BACKEND={keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow."
    )

# The ImageNet mean pixel in BGR order, on a 0-255 scale ("caffe" mode).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

VGG19_LAYERS = (
    "block1_conv1", "block1_conv2", "block1_pool",
    "block2_conv1", "block2_conv2", "block2_pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block3_pool",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4", "block4_pool",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool",
)
# Gatys et al.: content from conv4_2 (block4_conv2), style from conv1_1 ... conv5_1.
CONTENT_LAYERS = ("block4_conv2",)
STYLE_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
# Johnson et al. take content from relu2_2 (keeps edges, lets colours change).
FAST_CONTENT_LAYERS = ("block2_conv2",)
# Huang & Belongie: relu1_1 ... relu4_1; relu4_1 is the AdaIN encoder's output
# (with random weights the course stops at relu3_1: adain.py ENCODER_LAYERS).
ADAIN_LAYERS = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1")

# The names of the loss terms every method returns and logs.
LOSS_NAMES = ("loss", "content_loss", "style_loss", "tv_loss")

# The one table of default loss weights: method -> VGG19 weight source -> weights.
# "balance": divide each layer by its loss on a reference image (random weights;
# see the module docstring). The ImageNet rows follow the published settings,
# with plain layers: Gatys as in the TensorFlow tutorial (content 1e4, style
# 1e-2, each style layer 1 / n), Johnson et al. (content 1, style 5, the style
# layers summed) and Huang & Belongie (content 1, style 10, the layers summed).
# The random rows were chosen on the course's offline images: Gatys with style
# weight 3 keeps the astronaut's face and moves her colours about half way to
# the Hubble field's (benchmarks/bench_style.py; notebook 07's weight grid).
# AdaIN with style weight 0.1 (its relu3_1 encoder, adain.py ENCODER_LAYERS):
# the AdaIN target already carries the style, and a larger style weight buries
# the photograph under texture (benchmarks/adain_study.py, 300 steps, held-out
# chelsea, three styles, alpha 1: structure 0.22 at style weight 1, 0.36 at 0.3,
# 0.52 at 0.1).
LOSS_WEIGHTS = {
    "gatys": {
        "imagenet": {"content_weight": 1e4, "style_weight": 1e-2, "tv_weight": 0.0, "balance": False},
        "random": {"content_weight": 1.0, "style_weight": 3.0, "tv_weight": 0.0, "balance": True},
    },
    "fast": {
        "imagenet": {"content_weight": 1.0, "style_weight": 5.0, "tv_weight": 0.0, "balance": False},
        "random": {"content_weight": 1.0, "style_weight": 3.0, "tv_weight": 0.0, "balance": True},
    },
    "adain": {
        "imagenet": {"content_weight": 1.0, "style_weight": 10.0, "tv_weight": 0.0, "balance": False},
        "random": {"content_weight": 1.0, "style_weight": 0.1, "tv_weight": 0.0, "balance": True},
    },
}


def weight_source(weights):
    """Returns the row of `LOSS_WEIGHTS` for VGG19 weights: "random" or "imagenet".

    A local weights file holds VGG19's ImageNet weights (that is what
    keras.applications publishes), so it counts as "imagenet".
    """
    return "random" if weights == "random" else "imagenet"


def loss_weights(method, weights):
    """Returns a copy of the default loss weights of `method` for VGG19 `weights`.

    Args:
        method: "gatys", "fast" or "adain".
        weights: "imagenet", "random" or a weights file (counts as "imagenet").

    Returns:
        dict with "content_weight", "style_weight", "tv_weight" and "balance".

    Raises:
        ValueError: for an unknown method.
    """
    if method not in LOSS_WEIGHTS:
        raise ValueError(f"Expected a method in {tuple(LOSS_WEIGHTS)}. Received: method={method!r}")
    return dict(LOSS_WEIGHTS[method][weight_source(weights)])


def check_loss_weight(name, value):
    """Returns `value` as a float; ValueError unless it is a finite number >= 0."""
    is_number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not (is_number and 0.0 <= float(value) < np.inf):  # NaN fails both comparisons
        raise ValueError(f"Expected {name} to be a finite number >= 0. Received: {name}={value!r}")
    return float(value)


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
        float32 tensor of the same shape, BGR, mean-subtracted, roughly in [-124, 152].

    Raises:
        ValueError: if the last axis is not 3 channels.
    """
    images = tf.convert_to_tensor(images, dtype=tf.float32)
    if images.shape[-1] != 3:
        raise ValueError(f"Expected RGB images with 3 channels in the last axis. Received: shape={images.shape}")
    bgr = tf.reverse(images * 255.0, axis=[-1])  # (..., 3): RGB -> BGR
    return bgr - tf.constant(IMAGENET_MEAN_BGR, dtype=tf.float32)


@keras.saving.register_keras_serializable(package="course")
class VGGPreprocessing(keras.layers.Layer):
    """A layer applying `preprocess_for_vgg`, so a model can take [0, 1] RGB images."""

    def call(self, images):
        return preprocess_for_vgg(images)


def seeded_he_weights(vgg, seed):
    """Fills every Conv2D of `vgg` with He-normal kernels drawn from `seed` and zero biases."""
    rng = np.random.default_rng(seed)
    for layer in vgg.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel_shape = tuple(layer.kernel.shape)  # (3, 3, in_channels, out_channels)
            fan_in = kernel_shape[0] * kernel_shape[1] * kernel_shape[2]
            # He et al. 2015: std sqrt(2 / fan_in) keeps activations at one scale through ReLUs.
            kernel = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=kernel_shape)
            layer.set_weights([kernel.astype("float32"), np.zeros(kernel_shape[-1], "float32")])


def describe_vgg_weights(weights="imagenet", seed=0):
    """Returns one plain sentence saying which VGG19 weights `weights` means."""
    if weights == "imagenet":
        return "VGG19 ImageNet weights (keras.applications, downloaded once and cached)"
    if weights == "random":
        return (f"RANDOM VGG19 weights (He-normal, seed {seed}): the offline mode; colours and textures "
                "transfer, but expect grainier results than with ImageNet weights")
    return f"VGG19 weights from the local file {weights}"


def _build_vgg19(weights, seed):
    """Returns keras.applications.VGG19 (no top, any image size) with the chosen weights."""
    if weights == "imagenet":
        try:
            return keras.applications.VGG19(include_top=False, weights="imagenet", input_shape=(None, None, 3))
        except Exception as error:  # no network, a proxy, a full disk ...
            raise OSError(
                f"Could not download the VGG19 ImageNet weights ({type(error).__name__}: {error}). "
                "Without network access pass weights='random' (command line: --weights random; a seeded "
                "random VGG19, lower quality) or the path of "
                "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5."
            ) from error
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if weights == "random":
        seeded_he_weights(vgg, seed)
        return vgg
    path = os.fspath(weights)
    if not os.path.isfile(path):
        raise ValueError("Expected weights='imagenet', 'random' or the path of a VGG19 (no top) weights "
                         f"file. Received: weights={weights!r} (no such file)")
    try:
        vgg.load_weights(path)
    except Exception as error:
        raise ValueError(f"Could not load VGG19 (include_top=False) weights from {path}: {error}") from error
    return vgg


def build_vgg_feature_extractor(layer_names, weights="imagenet", seed=0):
    """Builds a frozen VGG19 model returning the activations of the named layers.

    The model takes RGB images in [0, 1] of any size, applies
    `preprocess_for_vgg` (a `VGGPreprocessing` layer) and returns a dict
    {layer_name: features}, features shaped (batch, height / 2**k, width / 2**k,
    channels). Only the layers up to the deepest requested one are computed.

    Args:
        layer_names: VGG19 layer names, e.g. ("block1_conv1", "block4_conv2").
        weights: "imagenet" (`keras.applications.VGG19(weights="imagenet")`,
            downloaded once and cached), "random" (seeded He-normal kernels: the
            offline mode) or the path of a VGG19 no-top weights file.
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
        raise ValueError(f"Expected VGG19 layer names from {VGG19_LAYERS}. Received unknown: {unknown}")
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(f"Expected weights to be 'imagenet', 'random' or a path. Received: weights={weights!r}")
    vgg = _build_vgg19(weights, seed)
    vgg.trainable = False
    unique_names = tuple(dict.fromkeys(layer_names))
    truncated = keras.Model(vgg.input, {name: vgg.get_layer(name).output for name in unique_names}, name="vgg19")
    images = keras.Input((None, None, 3), name="image")  # RGB in [0, 1]
    outputs = truncated(VGGPreprocessing(name="vgg_preprocessing")(images))
    extractor = keras.Model(images, outputs, name="vgg19_features")
    extractor.trainable = False
    return extractor


# ----------------------------------------------------------------------------
# Losses (pure functions; each returns a float32 scalar, the batch mean)
# ----------------------------------------------------------------------------


def gram_matrix(features):
    """Returns the Gram matrices of feature maps, normalised by height * width * channels.

    Formula:
        G[b, c, d] = sum_{i, j} F[b, i, j, c] * F[b, i, j, d] / (H * W * C)

    Dividing by H * W makes G independent of the image size (a feature map tiled
    2x2 has the same Gram matrix); dividing also by C makes the summed squared
    Gram difference in `style_loss` independent of the channel count and gives
    trace(G) = mean(F ** 2).

    Args:
        features: float tensor (batch, height, width, channels).

    Returns:
        float tensor (batch, channels, channels), symmetric.

    Raises:
        ValueError: if `features` is not rank 4.
    """
    features = tf.convert_to_tensor(features)
    if features.shape.rank != 4:
        raise ValueError(f"Expected features shaped (batch, height, width, channels). Received: shape={features.shape}")
    shape = tf.shape(features)
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    return tf.einsum("bijc,bijd->bcd", features, features) / size  # (batch, C, C)


def _as_list(values, what):
    if isinstance(values, dict):
        raise ValueError(f"Expected a list of {what}, not a dict; pick the layers in order.")
    return list(values) if isinstance(values, (list, tuple)) else [values]


def _paired_layers(values, targets, layer_weights, what):
    """Checks per-layer values against their targets; returns (weight, value, target) triples."""
    values, targets = _as_list(values, what), _as_list(targets, what)
    if len(values) != len(targets):
        raise ValueError(f"Expected as many targets as {what}. Received: {len(values)} and {len(targets)}")
    weights = [1.0] * len(values) if layer_weights is None else [float(w) for w in layer_weights]
    if len(weights) != len(values):
        raise ValueError(f"Expected one weight per layer ({len(values)}). Received: layer_weights={weights}")
    return list(zip(weights, values, targets))


def content_loss(features, target_features, layer_weights=None):
    """Mean squared difference between feature maps, summed over layers.

    Formula:
        L_content = sum_l c_l * mean_{b, i, j, k} (F_l[b, i, j, k] - P_l[b, i, j, k]) ** 2

    Args:
        features: one tensor or a list of tensors (batch, height, width, channels).
        target_features: the same structure (a batch of 1 broadcasts).
        layer_weights: optional floats c_l, one per layer (default 1;
            `content_layer_weights` makes each term a relative error).

    Returns:
        float32 scalar; 0 for identical features.

    Raises:
        ValueError: if the lists differ in length.
    """
    total = 0.0
    for weight, feature, target in _paired_layers(features, target_features, layer_weights, "feature maps"):
        total += weight * tf.reduce_mean(tf.square(feature - target))
    return tf.convert_to_tensor(total, dtype=tf.float32)


def style_layer_losses(grams, target_grams):
    """Each layer's squared Frobenius distance between Gram matrices (batch mean): a list of scalars.

    Formula:
        E_l = mean_b sum_{c, d} (G_l[b, c, d] - A_l[c, d]) ** 2
    """
    return [tf.reduce_mean(tf.reduce_sum(tf.square(gram - target), axis=[-2, -1]))
            for _, gram, target in _paired_layers(grams, target_grams, None, "Gram matrices")]


def style_loss(grams, target_grams, layer_weights=None):
    """Squared Frobenius distance between Gram matrices, weighted and summed over layers.

    Formula:
        L_style = sum_l w_l * mean_b sum_{c, d} (G_l[b, c, d] - A_l[c, d]) ** 2

    With `gram_matrix`'s H * W * C normalisation each term is 4 E_l of Gatys
    et al., and it does not change with the image size or the channel count.

    Args:
        grams: one tensor or a list of tensors (batch, channels, channels).
        target_grams: the same structure ((1, C, C) broadcasts over the batch).
        layer_weights: optional floats w_l, one per layer (default 1;
            `balanced_layer_weights` gives every layer the same share).

    Returns:
        float32 scalar.

    Raises:
        ValueError: if the lists differ in length.
    """
    pairs = _paired_layers(grams, target_grams, layer_weights, "Gram matrices")
    losses = style_layer_losses([gram for _, gram, _ in pairs], [target for _, _, target in pairs])
    return tf.convert_to_tensor(sum(weight * loss for (weight, _, _), loss in zip(pairs, losses)), tf.float32)


def total_variation_loss(images):
    """Mean absolute difference between neighbouring pixels (anisotropic total variation).

    Formula:
        L_tv = mean_{b, i, j, c} |x[b, i+1, j, c] - x[b, i, j, c]|
             + mean_{b, i, j, c} |x[b, i, j+1, c] - x[b, i, j, c]|

    Means rather than sums, so the weight does not depend on the image size.

    Args:
        images: float tensor (batch, height, width, channels).

    Returns:
        float32 scalar; 0 for a constant image.

    Raises:
        ValueError: if `images` is not rank 4.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    if images.shape.rank != 4:
        raise ValueError(f"Expected images shaped (batch, height, width, channels). Received: shape={images.shape}")
    vertical = tf.reduce_mean(tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :]))
    horizontal = tf.reduce_mean(tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :]))
    return vertical + horizontal


def channel_mean_std(features, epsilon=1e-5):
    """Per-image, per-channel mean and standard deviation over the spatial axes.

    Formula:
        mu[b, c] = mean_{i, j} F[b, i, j, c]
        sigma[b, c] = sqrt(mean_{i, j} (F[b, i, j, c] - mu[b, c]) ** 2 + epsilon)

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
        raise ValueError(f"Expected features shaped (batch, height, width, channels). Received: shape={features.shape}")
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)  # (batch, 1, 1, C) each
    return mean, tf.sqrt(variance + epsilon)


def mean_std_layer_losses(features, target_features, epsilon=1e-5):
    """Each layer's AdaIN style distance (batch mean): a list of scalars.

    Formula:
        E_l = mean_{b, c} (mu_l(F)[b, c] - mu_l(S)[b, c]) ** 2 + mean_{b, c} (sigma_l(F)[b, c] - sigma_l(S)[b, c]) ** 2
    """
    losses = []
    for _, feature, target in _paired_layers(features, target_features, None, "feature maps"):
        mean, std = channel_mean_std(feature, epsilon)  # (batch, 1, 1, channels) each
        target_mean, target_std = channel_mean_std(target, epsilon)
        losses.append(tf.reduce_mean(tf.square(mean - target_mean)) + tf.reduce_mean(tf.square(std - target_std)))
    return losses


def mean_std_style_loss(features, target_features, layer_weights=None, epsilon=1e-5):
    """AdaIN's style loss: distance between per-channel means and standard deviations.

    Formula:
        L_style = sum_l w_l * [mean_{b, c} (mu_l(F) - mu_l(S)) ** 2 + mean_{b, c} (sigma_l(F) - sigma_l(S)) ** 2]
        mu, sigma over the spatial axes; sigma = sqrt(var + epsilon).

    Huang & Belongie sum L2 norms; squared means (as here) weigh every channel
    count alike and have smooth gradients at zero.

    Args:
        features: list of tensors (batch, height, width, channels) of the output.
        target_features: list of tensors, the style images' features (same batch).
        layer_weights: optional floats w_l, one per layer (default 1).
        epsilon: small float added to the variance.

    Returns:
        float32 scalar.
    """
    pairs = _paired_layers(features, target_features, layer_weights, "feature maps")
    losses = mean_std_layer_losses([f for _, f, _ in pairs], [t for _, _, t in pairs], epsilon)
    return tf.convert_to_tensor(sum(weight * loss for (weight, _, _), loss in zip(pairs, losses)), tf.float32)


# ----------------------------------------------------------------------------
# Balancing the layers (the offline mode)
# ----------------------------------------------------------------------------


def balanced_layer_weights(layer_losses):
    """Per-layer weights that give every layer the same share of the loss on a reference.

    Formula:
        w_l = 1 / (n * E_l(reference)),  so that  sum_l w_l * E_l(reference) = 1

    With random VGG19 weights one layer's raw term can be 20 times another's,
    and the optimiser then matches that layer first. The reference
    is what the method starts from: the content image for Gatys, the training
    photographs for the fast network and AdaIN.

    Args:
        layer_losses: the per-layer losses on the reference (numbers or scalars).

    Returns:
        list of Python floats, one per layer. A layer whose loss is 0 (the
        reference already matches the style there, e.g. a style image used as
        its own content) gets the mean weight of the others, or 1 / n if all are 0.

    Raises:
        ValueError: for no layers, or a loss that is negative or not finite.
    """
    values = [float(value) for value in layer_losses]
    if not values or not all(0.0 <= value < np.inf for value in values):
        raise ValueError(f"Expected finite per-layer losses >= 0 on the reference. Received: {values}")
    positive = [value for value in values if value > 0.0]
    if not positive:
        return [1.0 / len(values)] * len(values)
    weights = [1.0 / (len(values) * value) if value > 0.0 else None for value in values]
    mean_weight = float(np.mean([weight for weight in weights if weight is not None]))
    return [mean_weight if weight is None else weight for weight in weights]


def content_layer_weights(target_features):
    """Per-layer weights that turn the content loss into a relative error.

    Formula:
        c_l = 1 / (n * mean(P_l ** 2)),  so an all-zero image scores about 1

    Args:
        target_features: list of the content targets P_l (tensors).

    Returns:
        list of Python floats.

    Raises:
        ValueError: for all-zero targets.
    """
    targets = _as_list(target_features, "feature maps")
    squares = [float(tf.reduce_mean(tf.square(tf.cast(target, tf.float32)))) for target in targets]
    if not all(value > 0.0 for value in squares):
        raise ValueError(f"Expected content features that are not all zero. Received mean squares {squares}")
    return [1.0 / (len(squares) * value) for value in squares]


# ----------------------------------------------------------------------------
# Small helpers for the method files
# ----------------------------------------------------------------------------


def as_image_batch(image, name="image"):
    """Returns a float32 tensor (1, H, W, 3) from (H, W, 3), or a (batch, H, W, 3) batch as it is.

    Raises:
        ValueError: unless the image is RGB of rank 3 or 4.
    """
    image = tf.convert_to_tensor(image, dtype=tf.float32)
    if image.shape.rank == 3:
        image = image[tf.newaxis]
    if image.shape.rank != 4 or image.shape[-1] != 3:
        raise ValueError(f"Expected {name} as an RGB image (height, width, 3) in [0, 1]. Received: shape={image.shape}")
    return image


def pad_to_multiple(images, multiple):
    """Reflect-pads (batch, H, W, C) so H and W are multiples of `multiple` (crop the result back)."""
    height, width = images.shape[1], images.shape[2]
    pad_height, pad_width = (-height) % multiple, (-width) % multiple
    if pad_height == 0 and pad_width == 0:
        return images
    mode = "REFLECT" if height > pad_height and width > pad_width else "SYMMETRIC"
    return tf.pad(images, [[0, 0], [0, pad_height], [0, pad_width], [0, 0]], mode=mode)
