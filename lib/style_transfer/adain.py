"""Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie).

Huang & Belongie 2017, "Arbitrary Style Transfer in Real-time with Adaptive
Instance Normalization", https://arxiv.org/abs/1703.06868: encode the content
c and ANY style image s with VGG19 up to relu4_1 (f), give the content
features the style features' per-channel mean and standard deviation, decode:

    t = AdaIN(f(c), f(s)) = sigma(f(s)) * (f(c) - mu(f(c))) / sigma(f(c)) + mu(f(s))
    output = D(alpha * t + (1 - alpha) * f(c))

Only the decoder D learns:

    minimise over D:  content_weight * L_content(f(D(t)), t)
                    + style_weight * sum_l w_l * L_meanstd(f_l(D(t)), f_l(s))

with the mean/std style loss over relu1_1 ... relu4_1 (`common.py`).

Copy this file with `common.py` into any folder and `import adain` works.
Images are float32 RGB in [0, 1]. The training step draws nothing at random
(the crops come from the data pipeline, seeded by epoch).

Public names: `PRESETS`, `adain`, `AdaptiveInstanceNormalization`,
`adain_feature_scale`, `build_adain_decoder`, `adain_layer_weights`,
`AdaINStyleTransfer`, `AdaINStylizer`, `stylize_adain`.
"""

import copy

import keras
import numpy as np
import tensorflow as tf

try:
    from . import common
except ImportError:  # copied next to common.py, outside the package
    import common

if keras.backend.backend() != "tensorflow":
    raise ImportError(f"adain.py needs Keras' TensorFlow backend. Received: {keras.backend.backend()!r}")

# Architecture and training settings by name (the loss weights are
# common.LOSS_WEIGHTS["adain"]). "course" is sized for a CPU: a half-width
# decoder, 128 px crops of 256 px photos; "huang_belongie" is the paper's.
PRESETS = {
    "course": {"decoder_width": 0.5, "crop_size": 128, "load_size": 256, "batch_size": 4,
               "steps_per_epoch": 50, "epochs": 20, "learning_rate": 1e-4},
    "huang_belongie": {"decoder_width": 1.0, "crop_size": 256, "load_size": 512, "batch_size": 8,
                       "steps_per_epoch": 1000, "epochs": 160, "learning_rate": 1e-4},
}
ENCODER_OUTPUT = common.ADAIN_LAYERS[-1]  # "block4_conv1", relu4_1


def adain(content_features, style_features, alpha=1.0, epsilon=1e-5):
    """Adaptive instance normalisation: content features with the style's channel statistics.

    Formula:
        t = sigma(s) * (c - mu(c)) / sigma(c) + mu(s)
        output = alpha * t + (1 - alpha) * c
        mu, sigma per image and channel over the spatial axes, sigma = sqrt(var + epsilon).

    Args:
        content_features: float tensor (batch, H, W, C).
        style_features: float tensor (batch or 1, h, w, C), the size may differ;
            or the style's (mean, std) pair from `common.channel_mean_std`, each
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
            raise ValueError(f"Expected style features or their (mean, std) pair. Received: a sequence of "
                             f"{len(style_features)}")
        style_mean, style_std = (tf.convert_to_tensor(value) for value in style_features)
    else:
        style_mean, style_std = common.channel_mean_std(style_features, epsilon)
    if content_features.shape[-1] != style_mean.shape[-1] or style_mean.shape != style_std.shape:
        raise ValueError("Expected content and style features with the same channel count. Received: content "
                         f"{content_features.shape}, style statistics {style_mean.shape} and {style_std.shape}")
    content_mean, content_std = common.channel_mean_std(content_features, epsilon)
    target = (content_features - content_mean) / content_std * style_std + style_mean  # (batch, H, W, C)
    return alpha * target + (1.0 - alpha) * content_features


@keras.saving.register_keras_serializable(package="course")
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


def _check_encoder(encoder):
    """Raises ValueError unless `encoder` returns a dict holding "block4_conv1" (relu4_1)."""
    outputs = getattr(encoder, "output", None)
    if not (isinstance(outputs, dict) and ENCODER_OUTPUT in outputs):
        received = sorted(outputs) if isinstance(outputs, dict) else outputs
        raise ValueError(f"Expected an encoder from build_vgg_feature_extractor returning {{{ENCODER_OUTPUT!r}: ...}}. "
                         f"Received outputs: {received}")


def adain_feature_scale(encoder, images):
    """The typical size of the encoder's relu4_1 features: the decoder divides by it.

    Formula:
        scale = std over all images, positions and channels of f(images)["block4_conv1"]

    relu4_1 features are far from unit scale (random He-normal VGG19 weights on
    0-255 inputs give a standard deviation of 80-95), so an undivided decoder
    starts with outputs about 100 times too large and Adam spends its first
    hundreds of steps shrinking them (measured on the 2-core CPU, one
    photograph, 250 Adam steps: content loss 510 with the division, 1,812
    without).

    Args:
        encoder: `common.build_vgg_feature_extractor` returning {"block4_conv1": ...}.
        images: float RGB in [0, 1], (batch, height, width, 3) or (height, width, 3).

    Returns:
        Python float > 0.

    Raises:
        ValueError: for an encoder without "block4_conv1" or all-zero features.
    """
    _check_encoder(encoder)
    features = encoder(common.as_image_batch(images, "images"))[ENCODER_OUTPUT]  # (batch, H/8, W/8, 512)
    scale = float(tf.math.reduce_std(features))
    if not scale > 0.0:
        raise ValueError(f"Expected features with a standard deviation > 0. Received: {scale}")
    return scale


def build_adain_decoder(width=1.0, feature_scale=1.0, name="adain_decoder"):
    """Builds AdaIN's decoder: VGG19 up to block4_conv1, mirrored, with nearest upsampling.

    (batch, H/8, W/8, 512) features -> (batch, H, W, 3) image (linear output;
    clip for display). Layer names mirror VGG19's ("decoder_block3_conv4"
    undoes "block3_conv4"). Huang & Belongie's decoder is width=1.0; smaller
    widths scale every channel count (not the 512 input) for CPUs. The first
    layer divides the features by `feature_scale` (`adain_feature_scale`).

    Args:
        width: float in (0, 1], channel multiplier.
        feature_scale: float > 0, the typical size of the input features.
        name: the model's name.

    Returns:
        keras.Model.

    Raises:
        ValueError: if width is not in (0, 1] or feature_scale is not a finite number > 0.
    """
    if not 0.0 < width <= 1.0:
        raise ValueError(f"Expected width in (0, 1]. Received: width={width}")
    is_number = isinstance(feature_scale, (int, float, np.floating)) and not isinstance(feature_scale, bool)
    if not (is_number and 0.0 < feature_scale < np.inf):  # NaN fails both comparisons
        raise ValueError(f"Expected a finite feature_scale > 0. Received: feature_scale={feature_scale!r}")

    def channels(count):
        return max(8, int(round(count * width)))

    def conv(x, count, layer_name):
        return keras.layers.Conv2D(count, 3, padding="same", activation="relu", name=f"decoder_{layer_name}")(x)

    inputs = keras.Input((None, None, 512), name="features")  # (batch, H/8, W/8, 512)
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


def adain_layer_weights(encoder, content_images, style_images, *, balance, epsilon=1e-5):
    """Per-layer loss weights of the AdaIN decoder's training.

    With `balance` (random VGG19 weights) the reference is the photographs
    themselves: each style layer's weight is 1 / (n * its mean/std distance
    between `content_images` and `style_images`), and the content loss becomes
    a relative error of the AdaIN targets. Without it every layer weighs 1, as
    in Huang & Belongie.

    Args:
        encoder: `common.build_vgg_feature_extractor(common.ADAIN_LAYERS, ...)`.
        content_images, style_images: float arrays (batch, H, W, 3) in [0, 1].
        balance: bool.
        epsilon: float > 0.

    Returns:
        (content_weight_scale, style_layer_weights): a float and a list of floats.
    """
    layers = common.ADAIN_LAYERS
    if not balance:
        return 1.0, [1.0] * len(layers)
    content = encoder(common.as_image_batch(content_images, "content_images"))
    style = encoder(common.as_image_batch(style_images, "style_images"))
    losses = common.mean_std_layer_losses([content[name] for name in layers], [style[name] for name in layers],
                                          epsilon)
    target = adain(content[ENCODER_OUTPUT], style[ENCODER_OUTPUT], epsilon=epsilon)
    return common.content_layer_weights([target])[0], common.balanced_layer_weights(losses)


@keras.saving.register_keras_serializable(package="course")
class AdaINStyleTransfer(keras.Model):
    """Trains AdaIN's decoder (Huang & Belongie 2017); the encoder stays frozen.

    call([content_images, style_images], alpha=1.0) stylises. `train_step`
    takes a (content_images, style_images) batch: decoder output
    g = D(AdaIN(f(c), f(s))), content loss against the AdaIN target t, style
    loss `common.mean_std_style_loss` over relu1_1 ... relu4_1. Ship
    `model.decoder`, which is all that stylising needs besides VGG19.

    Args:
        encoder: `common.build_vgg_feature_extractor(common.ADAIN_LAYERS)`.
        decoder: from `build_adain_decoder`.
        content_weight, style_weight: floats >= 0 (`common.loss_weights("adain", ...)`).
        content_layer_weight: float >= 0 multiplying the content term
            (`adain_layer_weights`; default 1).
        style_layer_weights: per-layer weights (`adain_layer_weights`; default 1).
        epsilon: float > 0 for AdaIN and the style statistics.
        **kwargs: base Model arguments.
    """

    def __init__(self, encoder, decoder, *, content_weight=1.0, style_weight=1.0, content_layer_weight=1.0,
                 style_layer_weights=None, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        _check_encoder(encoder)
        self.encoder = encoder
        self.decoder = decoder
        self.content_weight = common.check_loss_weight("content_weight", content_weight)
        self.style_weight = common.check_loss_weight("style_weight", style_weight)
        self.content_layer_weight = common.check_loss_weight("content_layer_weight", content_layer_weight)
        count = len(common.ADAIN_LAYERS)
        self.style_layer_weights = [float(w) for w in (style_layer_weights or [1.0] * count)]
        if len(self.style_layer_weights) != count or not all(0.0 <= w < np.inf for w in self.style_layer_weights):
            raise ValueError(f"Expected {count} finite style_layer_weights >= 0. "
                             f"Received: style_layer_weights={self.style_layer_weights}")
        self.epsilon = float(epsilon)
        self.adain_layer = AdaptiveInstanceNormalization(epsilon=epsilon, name="adain")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in common.LOSS_NAMES if name != "tv_loss"}
        self.built = True  # the networks were built when they were made

    def get_config(self):
        return {**super().get_config(), "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "content_weight": self.content_weight, "style_weight": self.style_weight,
                "content_layer_weight": self.content_layer_weight,
                "style_layer_weights": self.style_layer_weights, "epsilon": self.epsilon}

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserialising empties the nested configs it reads
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, alpha=1.0, training=False):
        content_images, style_images = inputs
        target = self.adain_layer([self.encoder(content_images)[ENCODER_OUTPUT],
                                   self.encoder(style_images)[ENCODER_OUTPUT]], alpha=alpha)
        return self.decoder(target, training=training)

    def compute_losses(self, content_images, style_images, training=False):
        """Returns (decoded images, dict of "loss" and the unweighted terms)."""
        content_features = self.encoder(content_images)[ENCODER_OUTPUT]  # (batch, H/8, W/8, 512)
        style_features = self.encoder(style_images)
        target = self.adain_layer([content_features, style_features[ENCODER_OUTPUT]])
        decoded = self.decoder(target, training=training)  # (batch, H, W, 3)
        decoded_features = self.encoder(decoded)
        layers = common.ADAIN_LAYERS
        terms = {
            "content_loss": common.content_loss(decoded_features[ENCODER_OUTPUT], target,
                                                [self.content_layer_weight]),
            "style_loss": common.mean_std_style_loss([decoded_features[name] for name in layers],
                                                     [style_features[name] for name in layers],
                                                     self.style_layer_weights, self.epsilon),
        }
        terms["loss"] = self.content_weight * terms["content_loss"] + self.style_weight * terms["style_loss"]
        return decoded, terms

    @staticmethod
    def _unpack(data):
        # fit(x=(content, style)) hands over ((content, style),); a custom loop (content, style).
        if isinstance(data, (tuple, list)) and len(data) == 1:
            data = data[0]
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError("Expected batches of (content_images, style_images).")
        return data[0], data[1]

    def _update_trackers(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

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
        return self._update_trackers(self.compute_losses(*self._unpack(data))[1])


class AdaINStylizer:
    """Stylises images with a trained AdaIN decoder: encode a style once, reuse it.

    AdaIN keeps only the per-channel mean and standard deviation of the style's
    relu4_1 features, so stylising many photographs in one style needs one
    style encoding, not one per photograph:

        stylizer = AdaINStylizer(encoder, decoder)
        style = stylizer.encode_style(style_image)        # (mean, std), each (1, 1, 1, 512)
        for photo in photos:
            result = stylizer(photo, style, alpha=0.8)    # encoder + AdaIN + decoder

    With execution="function" (the default) the encoder and the decoder run as
    one compiled graph, traced once per image size (`reduce_retracing`); "jit"
    adds XLA.

    Args:
        encoder: `common.build_vgg_feature_extractor(ADAIN_LAYERS or ("block4_conv1",))`.
        decoder: a trained `build_adain_decoder` model.
        execution: "eager", "function" or "jit".
        epsilon: float > 0 for the channel statistics.

    Raises:
        ValueError: for an unknown execution or an encoder without "block4_conv1".
    """

    def __init__(self, encoder, decoder, execution="function", epsilon=1e-5):
        if execution not in ("eager", "function", "jit"):
            raise ValueError(f"Expected execution 'eager', 'function' or 'jit'. Received: execution={execution!r}")
        _check_encoder(encoder)
        self.encoder = encoder
        self.decoder = decoder
        self.execution = execution
        self.epsilon = float(epsilon)
        if execution == "eager":
            self._statistics, self._stylize = self._statistics_of, self._stylize_batch
        else:
            options = dict(jit_compile=(execution == "jit"), reduce_retracing=True)
            self._statistics = tf.function(self._statistics_of, **options)
            self._stylize = tf.function(self._stylize_batch, **options)

    def _statistics_of(self, style_images):
        return common.channel_mean_std(self.encoder(style_images)[ENCODER_OUTPUT], self.epsilon)

    def _stylize_batch(self, content_images, style_mean, style_std, alpha):
        features = self.encoder(content_images)[ENCODER_OUTPUT]  # (1, H/8, W/8, 512)
        target = adain(features, (style_mean, style_std), alpha=alpha, epsilon=self.epsilon)
        return self.decoder(target, training=False)  # (1, H, W, 3)

    def encode_style(self, style):
        """Returns the style's (mean, std) of relu4_1 features, each (1, 1, 1, 512).

        Args:
            style: float array (h, w, 3) in [0, 1], any size.
        """
        return self._statistics(common.as_image_batch(style, "style"))

    def __call__(self, content, style, alpha=1.0):
        """Stylises one image.

        Args:
            content: float array (H, W, 3) in [0, 1], any size (reflect-padded to
                multiples of 8 and cropped back).
            style: float array (h, w, 3) in [0, 1], or the (mean, std) pair from `encode_style`.
            alpha: style strength in [0, 1].

        Returns:
            float32 NumPy array (H, W, 3) in [0, 1].

        Raises:
            ValueError: for alpha outside [0, 1] or images that are not RGB.
        """
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"Expected alpha between 0 and 1. Received: alpha={alpha}")
        content_batch = common.as_image_batch(content, "content")
        height, width = content_batch.shape[1], content_batch.shape[2]
        style_mean, style_std = style if isinstance(style, (tuple, list)) else self.encode_style(style)
        # alpha as a tensor: a new Python float would trace the graph again.
        output = self._stylize(common.pad_to_multiple(content_batch, 8), style_mean, style_std,
                               tf.constant(alpha, tf.float32))
        return np.clip(output.numpy()[0, :height, :width, :], 0.0, 1.0)


def stylize_adain(encoder, decoder, content, style, alpha=1.0, epsilon=1e-5):
    """Stylises `content` with any `style` image using a trained AdaIN decoder (eager, one call).

    The one-image form of `AdaINStylizer`; use the class to stylise many images
    or to reuse an encoded style.

    Args:
        encoder: `common.build_vgg_feature_extractor(ADAIN_LAYERS or ("block4_conv1",))`.
        decoder: a trained `build_adain_decoder` model.
        content: float array (H, W, 3) in [0, 1], any size.
        style: float array (h, w, 3) in [0, 1], or a (mean, std) pair from
            `AdaINStylizer.encode_style`.
        alpha: style strength in [0, 1].
        epsilon: float > 0.

    Returns:
        float32 NumPy array (H, W, 3) in [0, 1].
    """
    return AdaINStylizer(encoder, decoder, execution="eager", epsilon=epsilon)(content, style, alpha)
