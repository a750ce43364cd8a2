"""Fast style transfer: a network trained once per style (Johnson et al.).

Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer
and Super-Resolution", https://arxiv.org/abs/1603.08155: train an image
transformation network T with the same perceptual losses as Gatys et al.
(`common.py`), over many content photographs p and ONE style image s:

    minimise over T:  E_p [ content_weight * L_content(T(p), p)
                            + style_weight * L_style(T(p), s) + tv_weight * L_tv(T(p)) ]

Then stylising a new photograph is one forward pass. Instance normalisation
from Ulyanov, Vedaldi & Lempitsky 2016, https://arxiv.org/abs/1607.08022;
nearest-neighbour upsampling and a convolution instead of transposed
convolutions, which leave checkerboard artefacts (Odena et al. 2016,
https://distill.pub/2016/deconv-checkerboard/).

Copy this file with `common.py` into any folder and `import fast` works.
Images are float32 RGB in [0, 1]: (batch, H, W, 3) in, (batch, H, W, 3) out.
The training step draws nothing at random (the crops come from the data
pipeline, seeded by epoch), so a resumed or distributed run repeats a
single-device run exactly.

Public names: `PRESETS`, `InstanceNormalization`, `ResidualBlock`,
`build_transform_network`, `fast_style_layer_weights`, `FastStyleTransfer`,
`stylize_fast`.
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
    raise ImportError(f"fast.py needs Keras' TensorFlow backend. Received: {keras.backend.backend()!r}")

# Architecture and training settings by name (the loss weights are
# common.LOSS_WEIGHTS["fast"]). "course" is sized for a CPU: half Johnson et
# al.'s channels, 128 px crops of 256 px photos; "johnson" is the paper's.
PRESETS = {
    "course": {"filters": [16, 32, 64], "residual_blocks": 5, "crop_size": 128, "load_size": 256,
               "batch_size": 4, "steps_per_epoch": 50, "epochs": 20, "learning_rate": 1e-3},
    "johnson": {"filters": [32, 64, 128], "residual_blocks": 5, "crop_size": 256, "load_size": 512,
                "batch_size": 4, "steps_per_epoch": 1000, "epochs": 40, "learning_rate": 1e-3},
}


@keras.saving.register_keras_serializable(package="course")
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
        return (inputs - mean) * tf.math.rsqrt(variance + self.epsilon) * self.gamma + self.beta

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="course")
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
    convolutions and a 9x9 convolution to RGB with a sigmoid.

    Args:
        filters: three ints > 0, channels at full, half and quarter resolution
            (Johnson et al.: (32, 64, 128); `PRESETS`).
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

    def conv_norm_relu(x, channels, kernel_size, strides, prefix):
        x = keras.layers.Conv2D(channels, kernel_size, strides=strides, padding="same", name=f"{prefix}_conv")(x)
        x = InstanceNormalization(name=f"{prefix}_norm")(x)
        return keras.layers.ReLU(name=f"{prefix}_relu")(x)

    inputs = keras.Input((None, None, 3), name="content_image")
    x = conv_norm_relu(inputs, full, 9, 1, "down1")  # (batch, H, W, full)
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
    batch = common.as_image_batch(images, "content")
    height, width = batch.shape[1], batch.shape[2]
    output = transform_network(common.pad_to_multiple(batch, 4), training=False)[:, :height, :width, :]
    output = np.clip(output.numpy(), 0.0, 1.0)
    return output[0] if single else output


def fast_style_layer_weights(extractor, style_image, reference_images, *, balance,
                             content_layers=common.FAST_CONTENT_LAYERS, style_layers=common.STYLE_LAYERS):
    """Per-layer loss weights of a fast-style network.

    With `balance` (random VGG19 weights) the reference is a network that
    returns its input unchanged: each style layer's weight is 1 / (n * its
    style loss on `reference_images`), and the content loss becomes a relative
    error (`common.balanced_layer_weights`, `common.content_layer_weights`).
    Without it (ImageNet weights) every layer weighs 1: Johnson et al. sum the
    style layers.

    Args:
        extractor: the feature extractor (content_layers + style_layers).
        style_image: float array (h, w, 3) in [0, 1].
        reference_images: float array (batch, H, W, 3), photographs like the training crops.
        balance: bool.
        content_layers, style_layers: VGG19 layer names.

    Returns:
        (content_layer_weights, style_layer_weights): lists of floats.
    """
    if not balance:
        return [1.0] * len(content_layers), [1.0] * len(style_layers)
    style_features = extractor(common.as_image_batch(style_image, "style_image"))
    features = extractor(common.as_image_batch(reference_images, "reference_images"))
    losses = common.style_layer_losses([common.gram_matrix(features[name]) for name in style_layers],
                                       [common.gram_matrix(style_features[name]) for name in style_layers])
    return (common.content_layer_weights([features[name] for name in content_layers]),
            common.balanced_layer_weights(losses))


@keras.saving.register_keras_serializable(package="course")
class FastStyleTransfer(keras.Model):
    """Trains a transformation network with perceptual losses for one style (Johnson et al.).

    It holds the transformation network, a frozen VGG19 feature extractor and
    the style image's Gram matrices (non-trainable weights, saved with the
    model). `train_step(content_images)` is the one training step; `fit()` and
    `lib.training.train` call it. Ship `model.transform_network`, which is all
    that stylising needs.

    Args:
        transform_network: from `build_transform_network`.
        extractor: `common.build_vgg_feature_extractor(content_layers + style_layers)`.
        style_image: float array (h, w, 3) in [0, 1]; None when loading (the
            Gram matrices then come with the saved weights).
        content_layers, style_layers: VGG19 layer names.
        content_weight, style_weight, tv_weight: floats >= 0 (`common.loss_weights("fast", ...)`).
        content_layer_weights, style_layer_weights: per-layer weights
            (`fast_style_layer_weights`); default 1.
        **kwargs: base Model arguments.
    """

    def __init__(self, transform_network, extractor, style_image=None, *, content_layers=common.FAST_CONTENT_LAYERS,
                 style_layers=common.STYLE_LAYERS, content_weight=1.0, style_weight=1.0, tv_weight=0.0,
                 content_layer_weights=None, style_layer_weights=None, **kwargs):
        super().__init__(**kwargs)
        self.transform_network = transform_network
        self.extractor = extractor
        self.content_layers = tuple(content_layers)
        self.style_layers = tuple(style_layers)
        self.content_weight = common.check_loss_weight("content_weight", content_weight)
        self.style_weight = common.check_loss_weight("style_weight", style_weight)
        self.tv_weight = common.check_loss_weight("tv_weight", tv_weight)
        count = len(self.style_layers)
        self.content_layer_weights = [float(w) for w in (content_layer_weights or [1.0] * len(self.content_layers))]
        self.style_layer_weights = [float(w) for w in (style_layer_weights or [1.0] * count)]
        for name, weights, layers in (("content_layer_weights", self.content_layer_weights, self.content_layers),
                                      ("style_layer_weights", self.style_layer_weights, self.style_layers)):
            if len(weights) != len(layers) or not all(0.0 <= w < np.inf for w in weights):
                raise ValueError(f"Expected {len(layers)} finite {name} >= 0. Received: {name}={weights}")
        channels = [extractor.output[name].shape[-1] for name in self.style_layers]
        # (1, C, C) per style layer: constants of the loss, saved with the model.
        self.style_grams = [self.add_weight(name=f"style_gram_{name}", shape=(1, c, c), initializer="zeros",
                                            trainable=False) for name, c in zip(self.style_layers, channels)]
        if style_image is not None:
            style_features = extractor(common.as_image_batch(style_image, "style_image"))
            for variable, name in zip(self.style_grams, self.style_layers):
                variable.assign(common.gram_matrix(style_features[name]))
        self.trackers = {name: keras.metrics.Mean(name=name) for name in common.LOSS_NAMES}
        self.built = True  # the networks were built when they were made

    def get_config(self):
        return {**super().get_config(),
                "transform_network": keras.saving.serialize_keras_object(self.transform_network),
                "extractor": keras.saving.serialize_keras_object(self.extractor),
                "content_layers": list(self.content_layers), "style_layers": list(self.style_layers),
                "content_weight": self.content_weight, "style_weight": self.style_weight,
                "tv_weight": self.tv_weight, "content_layer_weights": self.content_layer_weights,
                "style_layer_weights": self.style_layer_weights}

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # deserialising empties the nested configs it reads
        for key in ("transform_network", "extractor"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images, training=False):
        return self.transform_network(images, training=training)

    def compute_losses(self, content_images, training=False):
        """Returns (stylised images, dict of "loss" and the unweighted terms)."""
        stylized = self.transform_network(content_images, training=training)  # (batch, H, W, 3)
        targets = self.extractor(content_images)
        features = self.extractor(stylized)
        terms = {
            "content_loss": common.content_loss([features[name] for name in self.content_layers],
                                                [targets[name] for name in self.content_layers],
                                                self.content_layer_weights),
            "style_loss": common.style_loss([common.gram_matrix(features[name]) for name in self.style_layers],
                                            list(self.style_grams), self.style_layer_weights),
            "tv_loss": common.total_variation_loss(stylized),
        }
        terms["loss"] = (self.content_weight * terms["content_loss"] + self.style_weight * terms["style_loss"]
                         + self.tv_weight * terms["tv_loss"])
        return stylized, terms

    def _update_trackers(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        content_images = data[0] if isinstance(data, (tuple, list)) else data  # (batch, H, W, 3)
        variables = self.transform_network.trainable_variables
        with tf.GradientTape() as tape:
            _, terms = self.compute_losses(content_images, training=True)
            # Under tf.distribute the optimizer sums the replicas' gradients.
            loss = terms["loss"] / tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return self._update_trackers(terms)

    def test_step(self, data):
        content_images = data[0] if isinstance(data, (tuple, list)) else data
        return self._update_trackers(self.compute_losses(content_images)[1])
