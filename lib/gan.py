"""Generative adversarial networks for 28x28 images: DCGAN, conditional GAN, WGAN-GP.

This one file is the whole definition of the course's GANs; it needs only
TensorFlow, Keras and NumPy, so it can be copied into another project alone.

Papers:
- Goodfellow et al. 2014, "Generative Adversarial Nets",
  https://arxiv.org/abs/1406.2661 (the game and the non-saturating loss).
- Radford, Metz and Chintala 2015, "Unsupervised Representation Learning with
  Deep Convolutional GANs", https://arxiv.org/abs/1511.06434 (DCGAN: strided
  convolutions, batch norm, LeakyReLU, Adam with lr 2e-4 and beta_1 0.5).
- Mirza and Osindero 2014, "Conditional Generative Adversarial Nets",
  https://arxiv.org/abs/1411.1784 (labels into both networks).
- Gulrajani et al. 2017, "Improved Training of Wasserstein GANs",
  https://arxiv.org/abs/1704.00028 (WGAN-GP: a critic, a gradient penalty on
  points interpolated with a weight drawn from U(0, 1), five critic steps per
  generator step, Adam with lr 1e-4 and betas (0, 0.9)).

The objectives, with D the discriminator's logit, G the generator, z ~ N(0, I):

    discriminator:  L_D = -E[log sigmoid(D(x))] - E[log(1 - sigmoid(D(G(z))))]
    generator:      L_G = -E[log sigmoid(D(G(z)))]          (non-saturating)
    WGAN-GP critic: L_C = E[C(G(z))] - E[C(x)] + lambda E[(||grad C(x_hat)||_2 - 1)^2]
    WGAN generator: L_G = -E[C(G(z))]

Images are (batch, 28, 28, 1) in [-1, 1] (the generator ends in tanh).

Public names:
- networks: `build_generator`, `build_discriminator`, `PRESETS`
- losses: `discriminator_loss`, `generator_loss`, `wasserstein_critic_loss`,
  `wasserstein_generator_loss`, `gradient_penalty`
- the composite model: `GAN` (its `train_step` is the one training step)
- input checks: `validate_images`, `validate_labels`
"""

import keras
import numpy as np
import tensorflow as tf

# Architectures and training settings by name. "course" is our default DCGAN,
# (smaller discriminator, batch 32: many cheap steps beat few costly ones on a CPU),
# chosen to give readable digits in 240 s on a 2-core CPU (see the README's
# benchmark); "tf_docs" is the TensorFlow docs' DCGAN tutorial, for comparison.
# Each generator block is (filters, strides); a final stride-2 transposed
# convolution to one channel follows. Each discriminator block is a stride-2
# convolution with that many filters.
PRESETS = {
    "course": {
        "latent_dim": 64,
        "projection_filters": 128,
        "generator_blocks": [[64, 2]],
        "discriminator_filters": [32, 64],
        "kernel_size": 4,
        "dropout": 0.0,
        "batch_size": 32,
        "learning_rate": 2e-4,
        "beta_1": 0.5,
    },
    "tf_docs": {
        "latent_dim": 100,
        "projection_filters": 256,
        "generator_blocks": [[128, 1], [64, 2]],
        "discriminator_filters": [64, 128],
        "kernel_size": 5,
        "dropout": 0.3,
        "batch_size": 256,
        "learning_rate": 1e-4,
        "beta_1": 0.9,
    },
}

LOSSES = ("non_saturating", "wasserstein_gp")


def _check_positive_int(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Expected a positive integer {name}. Received: {name}={value!r}")


def _check_image_shape(image_shape):
    image_shape = tuple(image_shape)
    if len(image_shape) != 3 or image_shape[0] % 4 or image_shape[1] % 4 or image_shape[2] <= 0:
        raise ValueError(
            "Expected image_shape=(height, width, channels) with height and width "
            f"divisible by 4 (e.g. (28, 28, 1)). Received: image_shape={image_shape}"
        )
    return image_shape


# ----------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------


def build_generator(
    latent_dim=64,
    *,
    image_shape=(28, 28, 1),
    projection_filters=128,
    generator_blocks=((64, 2),),
    kernel_size=4,
    num_classes=None,
    label_embedding_dim=16,
    name="generator",
):
    """Builds the DCGAN generator: noise (and a label) to an image in [-1, 1].

    Layout: a dense projection to a (h/4, w/4, projection_filters) map, then
    transposed-convolution blocks (batch norm, LeakyReLU), then a last
    stride-2 transposed convolution with tanh. The blocks must upsample by 2
    exactly once in total (the last layer does the other factor of 2).

    Args:
        latent_dim: size of the noise vector z.
        image_shape: (height, width, channels), height and width divisible by 4.
        projection_filters: channels of the first (h/4, w/4) feature map.
        generator_blocks: sequence of (filters, strides) with strides 1 or 2.
        kernel_size: kernel size of the transposed convolutions.
        num_classes: if set, the generator is conditional: it takes
            `[noise, labels]` and a label embedding is concatenated to z.
        label_embedding_dim: size of that label embedding.
        name: model name.

    Returns:
        A functional `keras.Model`: (batch, latent_dim) [and (batch,) int
        labels] -> (batch, height, width, channels).

    Raises:
        ValueError: for non-positive sizes or blocks that do not upsample to
            the image size.
    """
    _check_positive_int("latent_dim", latent_dim)
    _check_positive_int("projection_filters", projection_filters)
    _check_positive_int("kernel_size", kernel_size)
    height, width, channels = _check_image_shape(image_shape)
    blocks = [tuple(block) for block in generator_blocks]
    if sum(1 for _, strides in blocks if strides == 2) != 1 or any(s not in (1, 2) for _, s in blocks):
        raise ValueError(
            "Expected generator_blocks of (filters, strides) with strides 1 or 2 and "
            f"exactly one stride-2 block. Received: generator_blocks={list(generator_blocks)}"
        )

    noise = keras.Input(shape=(latent_dim,), name="noise")
    inputs = [noise]
    x = noise
    if num_classes is not None:
        _check_positive_int("num_classes", num_classes)
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = keras.layers.Embedding(num_classes, label_embedding_dim, name="label_embedding")(labels)
        x = keras.layers.Concatenate(name="noise_and_label")([noise, embedded])  # (batch, latent + embed)

    x = keras.layers.Dense(height // 4 * width // 4 * projection_filters, use_bias=False, name="project")(x)
    # synchronized=True: under tf.distribute the batch statistics are those of the
    # global batch, so a distributed step equals a single-device step (no-op otherwise).
    x = keras.layers.BatchNormalization(synchronized=True, name="project_bn")(x)
    x = keras.layers.LeakyReLU(0.2, name="project_relu")(x)
    x = keras.layers.Reshape((height // 4, width // 4, projection_filters), name="to_map")(x)  # (b, 7, 7, P)
    for index, (filters, strides) in enumerate(blocks, start=1):
        x = keras.layers.Conv2DTranspose(
            filters, kernel_size, strides=strides, padding="same", use_bias=False, name=f"up{index}"
        )(x)  # (b, 7, 7, F) for stride 1, (b, 14, 14, F) for stride 2
        x = keras.layers.BatchNormalization(synchronized=True, name=f"up{index}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"up{index}_relu")(x)
    # The output layer runs in float32 even under mixed precision: tanh saturates in float16.
    images = keras.layers.Conv2DTranspose(
        channels, kernel_size, strides=2, padding="same", activation="tanh", dtype="float32", name="to_image"
    )(x)  # (b, 28, 28, 1) in [-1, 1]
    return keras.Model(inputs if len(inputs) > 1 else noise, images, name=name)


def build_discriminator(
    *,
    image_shape=(28, 28, 1),
    discriminator_filters=(64, 128),
    kernel_size=4,
    dropout=0.0,
    normalization="none",
    num_classes=None,
    name="discriminator",
):
    """Builds the DCGAN discriminator (or the WGAN-GP critic): image to one logit.

    Layout: stride-2 convolutions with LeakyReLU (optionally dropout and a
    normalisation), then a dense layer to one unbounded score: a logit for
    the standard GAN, a Wasserstein score for the critic.

    Args:
        image_shape: (height, width, channels).
        discriminator_filters: filters of each stride-2 convolution.
        kernel_size: convolution kernel size.
        dropout: dropout rate after each block, in [0, 1).
        normalization: "none", "batch" or "layer". A WGAN-GP critic must not
            use batch norm: the penalty is per example, and batch norm mixes
            the examples of a batch (Gulrajani et al., section 4).
        num_classes: if set, the network is conditional: it takes
            `[images, labels]` and a learned per-label 28x28 plane is added
            as an extra input channel.
        name: model name.

    Returns:
        A functional `keras.Model`: (batch, h, w, c) [and (batch,) labels]
        -> (batch, 1) float32 scores.

    Raises:
        ValueError: for an unknown normalisation or a dropout outside [0, 1).
    """
    height, width, channels = _check_image_shape(image_shape)
    _check_positive_int("kernel_size", kernel_size)
    if normalization not in ("none", "batch", "layer"):
        raise ValueError(f"Expected normalization 'none', 'batch' or 'layer'. Received: {normalization!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected a dropout rate in [0, 1). Received: dropout={dropout}")

    images = keras.Input(shape=(height, width, channels), name="images")
    inputs = [images]
    x = images
    if num_classes is not None:
        _check_positive_int("num_classes", num_classes)
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        plane = keras.layers.Embedding(num_classes, height * width, name="label_embedding")(labels)
        plane = keras.layers.Reshape((height, width, 1), name="label_plane")(plane)  # (b, 28, 28, 1)
        x = keras.layers.Concatenate(name="image_and_label")([images, plane])  # (b, 28, 28, c + 1)
    for index, filters in enumerate(discriminator_filters, start=1):
        x = keras.layers.Conv2D(filters, kernel_size, strides=2, padding="same", name=f"down{index}")(x)
        if normalization == "batch" and index > 1:
            x = keras.layers.BatchNormalization(synchronized=True, name=f"down{index}_bn")(x)
        elif normalization == "layer" and index > 1:
            x = keras.layers.LayerNormalization(name=f"down{index}_ln")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{index}_relu")(x)  # (b, 14, 14, 64), (b, 7, 7, 128)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"down{index}_dropout")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    scores = keras.layers.Dense(1, dtype="float32", name="score")(x)  # (b, 1)
    return keras.Model(inputs if len(inputs) > 1 else images, scores, name=name)


# ----------------------------------------------------------------------------
# Losses (pure functions of the scores; each returns a scalar, the batch mean)
# ----------------------------------------------------------------------------


def discriminator_loss(real_logits, fake_logits):
    """Binary cross-entropy of the discriminator: real is 1, fake is 0.

    Formula:
        L_D = mean(-log sigmoid(real_logits)) + mean(-log(1 - sigmoid(fake_logits)))
            = mean(softplus(-real_logits)) + mean(softplus(fake_logits))

    Args:
        real_logits: (batch, 1) or (batch,) logits on real images.
        fake_logits: (batch, 1) or (batch,) logits on generated images.

    Returns:
        A float32 scalar.
    """
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    # softplus is the numerically stable form of -log(sigmoid(-t)).
    return tf.reduce_mean(tf.nn.softplus(-real_logits)) + tf.reduce_mean(tf.nn.softplus(fake_logits))


def generator_loss(fake_logits):
    """The non-saturating generator loss of Goodfellow et al.

    Minimising log(1 - D(G(z))) gives vanishing gradients when D rejects the
    fakes early in training; maximising log D(G(z)) instead does not.

    Formula:
        L_G = mean(-log sigmoid(fake_logits)) = mean(softplus(-fake_logits))

    Args:
        fake_logits: (batch, 1) or (batch,) discriminator logits on fakes.

    Returns:
        A float32 scalar.
    """
    return tf.reduce_mean(tf.nn.softplus(-tf.cast(fake_logits, tf.float32)))


def wasserstein_critic_loss(real_scores, fake_scores):
    """The critic's loss in WGAN: the negated estimate of the Wasserstein-1 distance.

    Formula:
        L_C = mean(fake_scores) - mean(real_scores)

    Args:
        real_scores: (batch, 1) critic scores on real images.
        fake_scores: (batch, 1) critic scores on generated images.

    Returns:
        A float32 scalar (without the gradient penalty).
    """
    return tf.reduce_mean(tf.cast(fake_scores, tf.float32)) - tf.reduce_mean(tf.cast(real_scores, tf.float32))


def wasserstein_generator_loss(fake_scores):
    """The generator's loss in WGAN.

    Formula:
        L_G = -mean(fake_scores)
    """
    return -tf.reduce_mean(tf.cast(fake_scores, tf.float32))


def gradient_penalty(critic, real_images, fake_images, interpolation_weights, labels=None):
    """The WGAN-GP penalty: the critic's gradient norm pushed towards 1.

    Points are taken on straight lines between real and fake images, with
    weights epsilon drawn from U(0, 1) by the caller (not N(0, 1): a normal
    weight puts points outside the segment, often far outside the data, and
    the 1-Lipschitz constraint is meant to hold between the two distributions).

    Formula:
        x_hat = epsilon * x_real + (1 - epsilon) * x_fake,  epsilon ~ U(0, 1)
        GP    = mean((||grad_x_hat C(x_hat)||_2 - 1)^2)

    Args:
        critic: a callable model, images (and labels) -> (batch, 1) scores.
        real_images: (batch, h, w, c).
        fake_images: (batch, h, w, c).
        interpolation_weights: (batch, 1, 1, 1) epsilon values in [0, 1].
        labels: optional (batch,) labels for a conditional critic.

    Returns:
        A float32 scalar (multiply by lambda, usually 10, in the loss).
    """
    real_images = tf.cast(real_images, tf.float32)
    fake_images = tf.cast(fake_images, tf.float32)
    epsilon = tf.cast(interpolation_weights, tf.float32)
    interpolated = epsilon * real_images + (1.0 - epsilon) * fake_images  # (b, h, w, c)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        inputs = interpolated if labels is None else [interpolated, labels]
        scores = tf.cast(critic(inputs, training=True), tf.float32)
    gradients = tape.gradient(scores, interpolated)  # (b, h, w, c)
    # A small constant keeps the square root differentiable at a zero gradient.
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)  # (b,)
    return tf.reduce_mean(tf.square(norms - 1.0))


# ----------------------------------------------------------------------------
# Input checks (plain Python, for data before it enters a graph)
# ----------------------------------------------------------------------------


def validate_images(images, image_shape=(28, 28, 1), value_range=(-1.0, 1.0)):
    """Raises ValueError unless `images` is a float batch of `image_shape` in `value_range`."""
    array = np.asarray(images)
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"Expected images of shape (batch, {', '.join(map(str, image_shape))}). "
            f"Received: shape={array.shape}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"Expected float images in {list(value_range)}. Received: dtype={array.dtype} "
            "(scale uint8 pixels with lib.data.to_float_images)"
        )
    low, high = value_range
    if array.size and (array.min() < low - 1e-6 or array.max() > high + 1e-6):
        raise ValueError(
            f"Expected pixel values in [{low}, {high}]. "
            f"Received: min={float(array.min()):.3g}, max={float(array.max()):.3g}"
        )


def validate_labels(labels, num_classes, batch_size=None):
    """Raises ValueError unless `labels` are integers in [0, num_classes)."""
    array = np.asarray(labels)
    if array.ndim != 1 or (batch_size is not None and len(array) != batch_size):
        expected = f"({batch_size},)" if batch_size is not None else "(batch,)"
        raise ValueError(f"Expected labels of shape {expected}. Received: shape={array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"Expected integer labels. Received: dtype={array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"Expected labels in [0, {num_classes - 1}]. "
            f"Received: min={int(array.min())}, max={int(array.max())}"
        )


# ----------------------------------------------------------------------------
# The composite model and its one training step
# ----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course")
class GAN(keras.Model):
    """A generator and a discriminator (or critic) trained against each other.

    `train_step` is the one training step of all three GANs of the course:
    `loss="non_saturating"` gives the DCGAN (and, with `num_classes`, the
    conditional GAN); `loss="wasserstein_gp"` gives WGAN-GP with
    `critic_steps` critic updates per generator update. `fit()` calls it,
    and so does a custom loop: `step = tf.function(gan.train_step)`.

    Noise is drawn with stateless ops seeded by `(seed, discriminator
    optimizer iterations)` (see `_step_seed`; notebook 01 uses it to feed a
    teaching step the same noise), so a run restored from a checkpoint draws
    the same noise as an uninterrupted run.

    `train_step` returns running means over the calls since the last
    `reset_metrics()`: `fit()` resets them each epoch, and so must a custom
    loop (`lib.training.train` does).

    Args:
        generator: from `build_generator` (conditional when `num_classes`).
        discriminator: from `build_discriminator`.
        latent_dim: size of the noise vector (must match the generator).
        loss: "non_saturating" or "wasserstein_gp".
        num_classes: number of classes for a conditional GAN, else None.
        gradient_penalty_weight: lambda of WGAN-GP (10 in the paper).
        critic_steps: critic updates per generator update (5 for WGAN-GP, 1 else).
        seed: seed of the noise stream.

    Call:
        `gan(noise)` or `gan([noise, labels])` returns generated images in [-1, 1].
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim,
        loss="non_saturating",
        num_classes=None,
        gradient_penalty_weight=10.0,
        critic_steps=1,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_positive_int("latent_dim", latent_dim)
        _check_positive_int("critic_steps", critic_steps)
        if loss not in LOSSES:
            raise ValueError(f"Expected loss in {LOSSES}. Received: loss={loss!r}")
        if gradient_penalty_weight < 0:
            raise ValueError(f"Expected gradient_penalty_weight >= 0. Received: {gradient_penalty_weight}")
        if num_classes is not None:
            _check_positive_int("num_classes", num_classes)
        generator_latent = generator.inputs[0].shape[-1]
        if generator_latent != latent_dim:
            raise ValueError(
                f"Expected a generator taking noise of size latent_dim={latent_dim}. "
                f"Received: a generator whose noise input has size {generator_latent}"
            )
        if (len(generator.inputs) == 2) != (num_classes is not None):
            raise ValueError(
                "Expected a conditional generator ([noise, labels] inputs) exactly when num_classes "
                f"is set. Received: num_classes={num_classes}, generator inputs={len(generator.inputs)}"
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.loss_kind = loss
        self.num_classes = num_classes
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.critic_steps = int(critic_steps)
        self.seed = int(seed)
        self.image_shape = tuple(generator.outputs[0].shape[1:])
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.distance_tracker = keras.metrics.Mean(name="wasserstein_estimate")
        self.built = True  # both networks are functional models, built when they were made

    # -- Keras plumbing -------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim,
                "loss": self.loss_kind,
                "num_classes": self.num_classes,
                "gradient_penalty_weight": self.gradient_penalty_weight,
                "critic_steps": self.critic_steps,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Takes one optimizer per network; both are built here, before any step.

        Building the optimizers up front is what `tf.distribute` needs (the
        slots must exist before `strategy.run`) and what lets a checkpoint
        restore them.
        """
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.build_optimizers()

    def get_compile_config(self):
        if not hasattr(self, "generator_optimizer"):
            return None
        return {
            "generator_optimizer": keras.saving.serialize_keras_object(self.generator_optimizer),
            "discriminator_optimizer": keras.saving.serialize_keras_object(self.discriminator_optimizer),
        }

    def compile_from_config(self, config):
        self.compile(
            keras.saving.deserialize_keras_object(config["generator_optimizer"]),
            keras.saving.deserialize_keras_object(config["discriminator_optimizer"]),
        )

    def build_optimizers(self):
        """Creates the optimizers' slot variables for their networks."""
        if not self.generator_optimizer.built:
            self.generator_optimizer.build(self.generator.trainable_variables)
        if not self.discriminator_optimizer.built:
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    @property
    def metrics(self):
        trackers = [self.d_loss_tracker, self.g_loss_tracker]
        if self.loss_kind == "wasserstein_gp":
            trackers += [self.penalty_tracker, self.distance_tracker]
        return trackers

    # -- Sampling --------------------------------------------------------------

    def _step_seed(self, salt):
        """A stateless seed from (seed, discriminator step, salt): same after a resume."""
        step = tf.cast(self.discriminator_optimizer.iterations, tf.int64)
        return tf.stack([tf.constant(self.seed, tf.int64), step * 8 + salt])

    def _draw(self, sampler, batch_size, shape, salt):
        """Draws this replica's slice of one global batch of random numbers.

        Every replica draws the whole global batch (noise is cheap) and keeps
        its own rows, so a step under `tf.distribute` sees exactly the numbers
        a single device would see for the same global batch.
        """
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica_id = tf.cast(context.replica_id_in_sync_group if context else 0, tf.int32)
        values = sampler([batch_size * replicas, *shape], self._step_seed(salt))
        return values[replica_id * batch_size : (replica_id + 1) * batch_size]

    def generate(self, num_images=None, *, noise=None, labels=None, seed=0):
        """Generates images in [0, 1] for showing and measuring.

        Args:
            num_images: how many (noise drawn from `seed`), or None with `noise`.
            noise: optional (n, latent_dim) array; fixed noise shows progress.
            labels: (n,) class labels: required by a conditional GAN, and an
                error for an unconditional one.
            seed: seed of the noise when `noise` is None.

        Returns:
            A NumPy float32 array (n, 28, 28, 1) in [0, 1].

        Raises:
            ValueError: for a bad count, noise shape or labels.
        """
        if noise is None:
            _check_positive_int("num_images", num_images)
            noise = np.random.default_rng(seed).standard_normal((num_images, self.latent_dim)).astype("float32")
        noise = np.asarray(noise, dtype="float32")
        if noise.ndim != 2 or noise.shape[1] != self.latent_dim:
            raise ValueError(f"Expected noise of shape (n, {self.latent_dim}). Received: shape={noise.shape}")
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("Expected no labels for an unconditional GAN. Received: labels")
            inputs = noise
        else:
            if labels is None:
                raise ValueError(f"Expected labels in [0, {self.num_classes - 1}] for a conditional GAN.")
            labels = np.asarray(labels)
            validate_labels(labels, self.num_classes, batch_size=len(noise))
            inputs = [noise, labels.astype("int32")]
        # Direct calls in chunks of 500, not predict(): no retracing warnings when
        # a notebook holds several models.
        chunks = []
        arrays = inputs if self.num_classes is not None else [inputs]
        for start in range(0, len(noise), 500):
            batch = [tf.constant(array[start : start + 500]) for array in arrays]
            chunks.append(self.generator(batch if len(batch) > 1 else batch[0], training=False).numpy())
        images = np.concatenate(chunks).astype("float32")
        return ((images + 1.0) / 2.0).clip(0.0, 1.0)

    # -- The training step -------------------------------------------------------

    def train_step(self, data):
        """One GAN update: the discriminator (critic_steps times), then the generator.

        Args:
            data: real images (batch, 28, 28, 1) in [-1, 1], or
                (images, labels) for a conditional GAN.

        Returns:
            A dict of the running means: d_loss, g_loss (and, for WGAN-GP,
            gradient_penalty and wasserstein_estimate).
        """
        if isinstance(data, (tuple, list)):
            real_images, labels = data[0], data[1]
        else:
            real_images, labels = data, None
        if (labels is None) != (self.num_classes is None):
            raise ValueError(
                "Expected (images, labels) batches for a conditional GAN and images alone otherwise. "
                f"Received: labels={'none' if labels is None else 'given'}, num_classes={self.num_classes}"
            )
        batch_size = tf.shape(real_images)[0]
        # Under tf.distribute the optimizer sums the replicas' gradients, so
        # each replica's loss is divided by the number of replicas.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        def inputs(images_or_noise):
            return images_or_noise if labels is None else [images_or_noise, labels]

        for critic_step in range(self.critic_steps):
            noise = self._draw(tf.random.stateless_normal, batch_size, [self.latent_dim], 2 * critic_step)
            with tf.GradientTape() as tape:
                fake_images = self.generator(inputs(noise), training=True)  # (b, 28, 28, 1)
                real_scores = self.discriminator(inputs(real_images), training=True)  # (b, 1)
                fake_scores = self.discriminator(inputs(fake_images), training=True)  # (b, 1)
                if self.loss_kind == "non_saturating":
                    d_loss = discriminator_loss(real_scores, fake_scores)
                else:
                    # U(0, 1), one weight per example: (b, 1, 1, 1)
                    epsilon = self._draw(tf.random.stateless_uniform, batch_size, [1, 1, 1], 2 * critic_step + 1)
                    penalty = gradient_penalty(self.discriminator, real_images, fake_images, epsilon, labels)
                    distance_loss = wasserstein_critic_loss(real_scores, fake_scores)
                    d_loss = distance_loss + self.gradient_penalty_weight * penalty
                scaled = self.discriminator_optimizer.scale_loss(d_loss / tf.cast(replicas, d_loss.dtype))
            gradients = tape.gradient(scaled, self.discriminator.trainable_variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))

        noise = self._draw(tf.random.stateless_normal, batch_size, [self.latent_dim], 7)
        with tf.GradientTape() as tape:
            fake_scores = self.discriminator(inputs(self.generator(inputs(noise), training=True)), training=True)
            if self.loss_kind == "non_saturating":
                g_loss = generator_loss(fake_scores)
            else:
                g_loss = wasserstein_generator_loss(fake_scores)
            scaled = self.generator_optimizer.scale_loss(g_loss / tf.cast(replicas, g_loss.dtype))
        gradients = tape.gradient(scaled, self.generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        if self.loss_kind == "wasserstein_gp":
            self.penalty_tracker.update_state(penalty)
            self.distance_tracker.update_state(-distance_loss)
        return {tracker.name: tracker.result() for tracker in self.metrics}
