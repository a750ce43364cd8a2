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

with the mean/std style loss over relu1_1 ... the encoder's layer (`common.py`).

The encoder's layer is a setting per VGG19 weight source (`ENCODER_LAYERS`):
relu4_1 with ImageNet weights, as in the paper; relu3_1 with the offline random
weights, whose relu4_1 features a decoder does not learn to invert within a
CPU's budget (benchmarks/adain_study.py). The decoder mirrors VGG19 from that
layer down and is named after it (`decoder_encoder_layer`), so a stylizer
knows which features a trained decoder expects.

Copy this file with `common.py` into any folder and `import adain` works.
Images are float32 RGB in [0, 1]. The training step draws nothing at random
(the crops come from the data pipeline, seeded by epoch).

Public names: `PRESETS`, `ENCODER_LAYERS`, `adain_encoder_layer`,
`adain_style_layers`, `decoder_encoder_layer`, `adain`,
`AdaptiveInstanceNormalization`, `adain_feature_scale`, `build_adain_decoder`,
`adain_layer_weights`, `AdaINStyleTransfer`, `AdaINStylizer`, `stylize_adain`.
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
# common.LOSS_WEIGHTS["adain"], the encoder's layer ENCODER_LAYERS). "course" is
# sized for a CPU: a half-width decoder, 128 px crops of 256 px photos, a
# learning rate ten times the paper's for a run a hundred times shorter;
# "huang_belongie" is the paper's.
PRESETS = {
    "course": {"decoder_width": 0.5, "crop_size": 128, "load_size": 256, "batch_size": 4,
               "steps_per_epoch": 50, "epochs": 50, "learning_rate": 1e-3},
    "huang_belongie": {"decoder_width": 1.0, "crop_size": 256, "load_size": 512, "batch_size": 8,
                       "steps_per_epoch": 1000, "epochs": 160, "learning_rate": 1e-4},
}
# The encoder's last layer (AdaIN acts there) by VGG19 weight source. ImageNet:
# relu4_1, Huang & Belongie's choice. Random weights: relu3_1, one pooling and
# four random convolutions fewer, which a decoder learns to invert on a CPU
# (benchmarks/adain_study.py, 300 steps, held-out chelsea: structure of the
# reconstruction 0.64 from relu3_1, 0.27 from relu4_1); the style loss then
# covers relu1_1 ... relu3_1.
ENCODER_LAYERS = {"imagenet": "block4_conv1", "random": "block3_conv1"}
ENCODER_OUTPUT = ENCODER_LAYERS["imagenet"]  # "block4_conv1", relu4_1: the default
_VGG19_WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512}  # channels of each VGG19 block
_VGG19_CONVS = {1: 2, 2: 2, 3: 4, 4: 4}  # convolutions of each block


def adain_encoder_layer(weights):
    """Returns the AdaIN layer for VGG19 `weights` ("imagenet", "random" or a weights file): `ENCODER_LAYERS`."""
    return ENCODER_LAYERS["random" if weights == "random" else "imagenet"]


def adain_style_layers(encoder_layer=ENCODER_OUTPUT):
    """The style-loss layers of an encoder ending at `encoder_layer`: relu1_1 ... that layer.

    Raises:
        ValueError: unless `encoder_layer` is one of `common.ADAIN_LAYERS`.
    """
    if encoder_layer not in common.ADAIN_LAYERS:
        raise ValueError(f"Expected encoder_layer in {common.ADAIN_LAYERS}. Received: encoder_layer={encoder_layer!r}")
    return common.ADAIN_LAYERS[: common.ADAIN_LAYERS.index(encoder_layer) + 1]


def decoder_encoder_layer(decoder):
    """The encoder layer a `build_adain_decoder` network inverts (its first convolution is named after it)."""
    for layer in decoder.layers:
        if isinstance(layer, keras.layers.Conv2D):
            name = layer.name.removeprefix("decoder_")
            if name not in common.ADAIN_LAYERS:
                raise ValueError(f"Expected a decoder from build_adain_decoder. Received: first convolution "
                                 f"{layer.name!r}")
            return name
    raise ValueError("Expected a decoder from build_adain_decoder. Received: a network without convolutions")


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


def _check_encoder(encoder, encoder_layer=ENCODER_OUTPUT):
    """Raises ValueError unless `encoder` returns a dict holding `adain_style_layers(encoder_layer)`."""
    outputs = getattr(encoder, "output", None)
    needed = adain_style_layers(encoder_layer)
    if not (isinstance(outputs, dict) and all(name in outputs for name in needed)):
        received = sorted(outputs) if isinstance(outputs, dict) else outputs
        raise ValueError(f"Expected an encoder from build_vgg_feature_extractor returning {list(needed)}. "
                         f"Received outputs: {received}")


def adain_feature_scale(encoder, images, encoder_layer=ENCODER_OUTPUT):
    """The typical size of the encoder's features at `encoder_layer`: the decoder divides by it.

    Formula:
        scale = std over all images, positions and channels of f(images)[encoder_layer]

    relu3_1 and relu4_1 features are far from unit scale (random He-normal VGG19
    weights on 0-255 inputs give a standard deviation of 80-95), so an undivided decoder
    starts with outputs about 100 times too large and Adam spends its first
    hundreds of steps shrinking them (measured on the 2-core CPU, one
    photograph, 250 Adam steps: content loss 510 with the division, 1,812
    without).

    Args:
        encoder: `common.build_vgg_feature_extractor` returning `adain_style_layers(encoder_layer)`.
        images: float RGB in [0, 1], (batch, height, width, 3) or (height, width, 3).
        encoder_layer: the AdaIN layer (`ENCODER_LAYERS`).

    Returns:
        Python float > 0.

    Raises:
        ValueError: for an encoder without `encoder_layer` or all-zero features.
    """
    _check_encoder(encoder, encoder_layer)
    features = encoder(common.as_image_batch(images, "images"))[encoder_layer]  # (batch, h, w, channels)
    scale = float(tf.math.reduce_std(features))
    if not scale > 0.0:
        raise ValueError(f"Expected features with a standard deviation > 0. Received: {scale}")
    return scale


def build_adain_decoder(width=1.0, feature_scale=1.0, encoder_layer=ENCODER_OUTPUT, name="adain_decoder"):
    """Builds AdaIN's decoder: VGG19 up to `encoder_layer`, mirrored, with nearest upsampling.

    For relu4_1 (the default): (batch, H/8, W/8, 512) features -> (batch, H, W, 3)
    image (linear output; clip for display); for relu3_1: (batch, H/4, W/4, 256)
    -> (batch, H, W, 3). Layer names mirror VGG19's ("decoder_block3_conv4"
    undoes "block3_conv4"), so the first convolution names the encoder layer
    (`decoder_encoder_layer`). Huang & Belongie's decoder is width=1.0; smaller
    widths scale every channel count (not the input) for CPUs. The first
    layer divides the features by `feature_scale` (`adain_feature_scale`).

    Args:
        width: float in (0, 1], channel multiplier.
        feature_scale: float > 0, the typical size of the input features.
        encoder_layer: one of `common.ADAIN_LAYERS` (relu1_1 ... relu4_1).
        name: the model's name.

    Returns:
        keras.Model.

    Raises:
        ValueError: if width is not in (0, 1], feature_scale is not a finite
            number > 0, or encoder_layer is not one of `common.ADAIN_LAYERS`.
    """
    if not 0.0 < width <= 1.0:
        raise ValueError(f"Expected width in (0, 1]. Received: width={width}")
    is_number = isinstance(feature_scale, (int, float, np.floating)) and not isinstance(feature_scale, bool)
    if not (is_number and 0.0 < feature_scale < np.inf):  # NaN fails both comparisons
        raise ValueError(f"Expected a finite feature_scale > 0. Received: feature_scale={feature_scale!r}")
    top_block = int(adain_style_layers(encoder_layer)[-1][len("block")])  # checks the name; 4 for block4_conv1

    def channels(count):
        return max(8, int(round(count * width)))

    inputs = keras.Input((None, None, _VGG19_WIDTHS[top_block]), name="features")  # (batch, h, w, C)
    # A fixed division (Rescaling has no weights and is safe to load, unlike a Lambda).
    x = keras.layers.Rescaling(1.0 / float(feature_scale), name="decoder_feature_scale")(inputs)
    for block in range(top_block, 0, -1):
        # The encoder ends at conv1 of its top block; lower blocks are undone from their last conv.
        for conv in range(1 if block == top_block else _VGG19_CONVS[block], 0, -1):
            layer_name = f"decoder_block{block}_conv{conv}"
            if conv > 1:  # keeps the block's width
                x = keras.layers.Conv2D(channels(_VGG19_WIDTHS[block]), 3, padding="same", activation="relu",
                                        name=layer_name)(x)
            elif block > 1:  # back to the width of the block below, then up to its resolution
                x = keras.layers.Conv2D(channels(_VGG19_WIDTHS[block - 1]), 3, padding="same", activation="relu",
                                        name=layer_name)(x)
                x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"decoder_block{block - 1}_upsample")(x)
            else:  # block1_conv1 undone: the RGB image, linear
                x = keras.layers.Conv2D(3, 3, padding="same", name=layer_name)(x)  # (batch, H, W, 3)
    return keras.Model(inputs, x, name=name)


def adain_layer_weights(encoder, content_images, style_images, *, balance, encoder_layer=ENCODER_OUTPUT,
                        epsilon=1e-5):
    """Per-layer loss weights of the AdaIN decoder's training.

    With `balance` (random VGG19 weights) the reference is the photographs
    themselves: each style layer's weight is 1 / (n * its mean/std distance
    between `content_images` and `style_images`), and the content loss becomes
    a relative error of the AdaIN targets. Without it every layer weighs 1, as
    in Huang & Belongie.

    Args:
        encoder: `common.build_vgg_feature_extractor(adain_style_layers(encoder_layer), ...)`.
        content_images, style_images: float arrays (batch, H, W, 3) in [0, 1].
        balance: bool.
        encoder_layer: the AdaIN layer (`ENCODER_LAYERS`); the style layers end there.
        epsilon: float > 0.

    Returns:
        (content_weight_scale, style_layer_weights): a float and a list of floats.
    """
    layers = adain_style_layers(encoder_layer)
    if not balance:
        return 1.0, [1.0] * len(layers)
    content = encoder(common.as_image_batch(content_images, "content_images"))
    style = encoder(common.as_image_batch(style_images, "style_images"))
    losses = common.mean_std_layer_losses([content[name] for name in layers], [style[name] for name in layers],
                                          epsilon)
    target = adain(content[encoder_layer], style[encoder_layer], epsilon=epsilon)
    return common.content_layer_weights([target])[0], common.balanced_layer_weights(losses)


@keras.saving.register_keras_serializable(package="course")
class AdaINStyleTransfer(keras.Model):
    """Trains AdaIN's decoder (Huang & Belongie 2017); the encoder stays frozen.

    call([content_images, style_images], alpha=1.0) stylises. `train_step`
    takes a (content_images, style_images) batch: decoder output
    g = D(AdaIN(f(c), f(s))), content loss against the AdaIN target t, style
    loss `common.mean_std_style_loss` over relu1_1 ... the encoder layer (the
    one the decoder inverts, `decoder_encoder_layer`). Ship `model.decoder`,
    which is all that stylising needs besides VGG19.

    Args:
        encoder: `common.build_vgg_feature_extractor(adain_style_layers(encoder_layer))`.
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
        self.encoder_layer = decoder_encoder_layer(decoder)
        self.style_layers = adain_style_layers(self.encoder_layer)
        _check_encoder(encoder, self.encoder_layer)
        self.encoder = encoder
        self.decoder = decoder
        self.content_weight = common.check_loss_weight("content_weight", content_weight)
        self.style_weight = common.check_loss_weight("style_weight", style_weight)
        self.content_layer_weight = common.check_loss_weight("content_layer_weight", content_layer_weight)
        count = len(self.style_layers)
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
        target = self.adain_layer([self.encoder(content_images)[self.encoder_layer],
                                   self.encoder(style_images)[self.encoder_layer]], alpha=alpha)
        return self.decoder(target, training=training)

    def compute_losses(self, content_images, style_images, training=False):
        """Returns (decoded images, dict of "loss" and the unweighted terms)."""
        content_features = self.encoder(content_images)[self.encoder_layer]  # (batch, H/8, W/8, 512) for relu4_1
        style_features = self.encoder(style_images)
        target = self.adain_layer([content_features, style_features[self.encoder_layer]])
        decoded = self.decoder(target, training=training)  # (batch, H, W, 3)
        decoded_features = self.encoder(decoded)
        layers = self.style_layers
        terms = {
            "content_loss": common.content_loss(decoded_features[self.encoder_layer], target,
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
    features at the encoder layer, so stylising many photographs in one style needs one
    style encoding, not one per photograph:

        stylizer = AdaINStylizer(encoder, decoder)
        style = stylizer.encode_style(style_image)        # (mean, std), each (1, 1, 1, channels)
        for photo in photos:
            result = stylizer(photo, style, alpha=0.8)    # encoder + AdaIN + decoder

    With execution="function" (the default) the encoder and the decoder run as
    one compiled graph, traced once per image size (`reduce_retracing`); "jit"
    adds XLA.

    Args:
        encoder: `common.build_vgg_feature_extractor` returning the decoder's
            encoder layer (`decoder_encoder_layer`; relu4_1 by default).
        decoder: a trained `build_adain_decoder` model.
        execution: "eager", "function" or "jit".
        epsilon: float > 0 for the channel statistics.

    Raises:
        ValueError: for an unknown execution or an encoder without the decoder's layer.
    """

    def __init__(self, encoder, decoder, execution="function", epsilon=1e-5):
        if execution not in ("eager", "function", "jit"):
            raise ValueError(f"Expected execution 'eager', 'function' or 'jit'. Received: execution={execution!r}")
        self.encoder_layer = decoder_encoder_layer(decoder)
        outputs = getattr(encoder, "output", None)
        if not (isinstance(outputs, dict) and self.encoder_layer in outputs):
            raise ValueError(f"Expected an encoder returning {self.encoder_layer!r}, the layer the decoder inverts. "
                             f"Received outputs: {sorted(outputs) if isinstance(outputs, dict) else outputs}")
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
        return common.channel_mean_std(self.encoder(style_images)[self.encoder_layer], self.epsilon)

    def _stylize_batch(self, content_images, style_mean, style_std, alpha):
        features = self.encoder(content_images)[self.encoder_layer]  # (1, H/8, W/8, 512) for relu4_1
        target = adain(features, (style_mean, style_std), alpha=alpha, epsilon=self.epsilon)
        return self.decoder(target, training=False)  # (1, H, W, 3)

    def encode_style(self, style):
        """Returns the style's (mean, std) at the decoder's layer, each (1, 1, 1, channels): 512 at relu4_1.

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
        encoder: `common.build_vgg_feature_extractor` returning the decoder's layer (`decoder_encoder_layer`).
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
