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
- Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training",
  https://arxiv.org/abs/1806.04498 (sample from an exponential moving average
  of the generator's weights).

The objectives, with D the discriminator's logit, G the generator, z ~ N(0, I):

    discriminator:  L_D = -E[log sigmoid(D(x))] - E[log(1 - sigmoid(D(G(z))))]
    generator:      L_G = -E[log sigmoid(D(G(z)))]          (non-saturating)
    WGAN-GP critic: L_C = E[C(G(z))] - E[C(x)] + lambda E[(||grad C(x_hat)||_2 - 1)^2]
    WGAN generator: L_G = -E[C(G(z))]
    averaged G:     theta_avg <- d * theta_avg + (1 - d) * theta  after each step

Images are (batch, 28, 28, 1) in [-1, 1] (the generator ends in tanh);
`generate` returns them in [0, 1].

The three models are one class and two variants that change only what differs:
`GAN` (the DCGAN) holds the one training step; `ConditionalGAN` overrides how
a batch and the networks' inputs carry labels; `WGANGP` overrides the critic's
loss (adding the gradient penalty), the generator's loss and the number of
critic steps.

Public names:
- settings and networks: `PRESETS`, `build_generator`, `build_discriminator`, `make_gan`
- losses: `discriminator_loss`, `generator_loss`, `wasserstein_critic_loss`,
  `wasserstein_generator_loss`, `gradient_penalty`
- the models: `GAN`, `ConditionalGAN`, `WGANGP` (`GAN.train_step` is the one training step)
- randomness: `SEED_PURPOSES`, `stateless_seed`
- input checks: `validate_images`, `validate_labels`
"""

import keras
import numpy as np
import tensorflow as tf

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "lib/gan.py needs Keras' TensorFlow backend (its training step uses tf.GradientTape, "
        f"tf.distribute and stateless TensorFlow random ops). Received: KERAS_BACKEND={keras.backend.backend()!r}; "
        "set the environment variable KERAS_BACKEND=tensorflow before importing Keras."
    )

# Every setting of the course's GANs, by name; the command line (`python -m lib
# train dcgan|cgan|wgan-gp`, `--preset`), the run folders, the notebooks and the
# benchmarks read them from here.
# - "dcgan": the course's default, sized for a laptop CPU: batches of 32 (many
#   cheap steps beat few costly ones on a CPU), a stride-1 block before the
#   upsampling one, a three-level discriminator without dropout, and an averaged
#   generator for sampling. Of the variants tried on the 2-core CPU for 2,900
#   steps (benchmarks/gan_quality_budget.py --set ...), this one reached the
#   lowest FID (28 against 33-60 for wider discriminators, dropout, hinge or
#   two-time-scale learning rates, spectral normalisation, 3x3 kernels).
# - "cgan": the same networks, with labels in both.
# - "wgan-gp": the same networks as a critic, with Gulrajani et al.'s optimiser
#   settings, five critic steps and lambda = 10.
# - "tf_docs": the TensorFlow docs' DCGAN tutorial, for comparison.
# Each generator block is (filters, strides); a final stride-2 transposed
# convolution to one channel follows. Each discriminator block is a stride-2
# convolution with that many filters.
_COURSE_NETWORKS = {
    "latent_dim": 64,
    "projection_filters": 128,
    "generator_blocks": [[128, 1], [64, 2]],
    "discriminator_filters": [32, 64, 128],
    "kernel_size": 4,
    "dropout": 0.0,
    "normalization": "none",
}
PRESETS = {
    "dcgan": {
        **_COURSE_NETWORKS, "variant": "dcgan", "num_classes": None, "critic_steps": 1,
        "batch_size": 32, "learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
        "ema_decay": 0.999, "epochs": 20,
    },
    "cgan": {
        **_COURSE_NETWORKS, "variant": "cgan", "num_classes": 10, "critic_steps": 1,
        "batch_size": 32, "learning_rate": 2e-4, "beta_1": 0.5, "beta_2": 0.999,
        "ema_decay": 0.999, "epochs": 20,
    },
    "wgan-gp": {
        **_COURSE_NETWORKS, "variant": "wgan-gp", "num_classes": None, "critic_steps": 5,
        "gradient_penalty_weight": 10.0, "batch_size": 32, "learning_rate": 1e-4, "beta_1": 0.0,
        "beta_2": 0.9, "ema_decay": 0.999, "epochs": 20,
    },
    "tf_docs": {
        "latent_dim": 100, "projection_filters": 256, "generator_blocks": [[128, 1], [64, 2]],
        "discriminator_filters": [64, 128], "kernel_size": 5, "dropout": 0.3, "normalization": "none",
        "variant": "dcgan", "num_classes": None, "critic_steps": 1, "batch_size": 256,
        "learning_rate": 1e-4, "beta_1": 0.9, "beta_2": 0.999, "ema_decay": None, "epochs": 50,
    },
}

# Every random draw of a training step has a named purpose; its seed is the
# model's seed folded with the purpose, the step and the repeat (the critic
# update within the step), so no two draws share a seed.
SEED_PURPOSES = {"critic_noise": 1, "interpolation": 2, "generator_noise": 3}


def stateless_seed(seed, purpose, step, repeat=0):
    """The stateless seed of one random draw: (seed, purpose, step, repeat) folded together.

    `step` is an optimizer's `iterations`, which a checkpoint restores, so a
    resumed run draws exactly the numbers an uninterrupted run draws.

    Args:
        seed: the model's integer seed.
        purpose: a key of `SEED_PURPOSES`.
        step: the training step (an integer or an int tensor).
        repeat: which of several draws of the same purpose in one step.

    Returns:
        An int64 tensor of shape (2,) for `tf.random.stateless_*`.

    Raises:
        ValueError: for an unknown purpose.
    """
    if purpose not in SEED_PURPOSES:
        raise ValueError(f"Expected a purpose in {sorted(SEED_PURPOSES)}. Received: purpose={purpose!r}")
    folded = tf.random.experimental.stateless_fold_in(tf.constant([seed, 0], tf.int64), SEED_PURPOSES[purpose])
    folded = tf.random.experimental.stateless_fold_in(folded, tf.cast(step, tf.int64))
    return tf.random.experimental.stateless_fold_in(folded, repeat)


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
# The models and their one training step
# ----------------------------------------------------------------------------


def _num_classes_of(generator):
    """None for a generator with one input (noise); the label embedding's size otherwise."""
    if len(generator.inputs) == 1:
        return None
    return int(generator.get_layer("label_embedding").input_dim)


@keras.saving.register_keras_serializable(package="course")
class GAN(keras.Model):
    """A DCGAN: a generator and a discriminator trained against each other.

    `train_step` is the one training step of all three GANs of the course:
    `critic_steps` discriminator updates, then one generator update, then the
    update of the averaged generator. `fit()` calls it, and so does a custom
    loop (`step = tf.function(gan.train_step)`; `lib.training.train` adds
    checkpoints). The variants override only what differs:
    `ConditionalGAN` the batch and network inputs (labels), `WGANGP` the two
    losses and the number of critic steps.

    Every random draw uses `stateless_seed(seed, purpose, step, repeat)` with
    step = the generator optimizer's iterations (one per training step), so a
    run restored from a checkpoint draws what an uninterrupted run draws, and a
    step under `tf.distribute` draws the global batch's numbers and keeps its
    replica's rows, so it equals a single-device step.

    `train_step` returns running means over the calls since the last
    `reset_metrics()` (`fit()` resets them each epoch; so does `lib.training.train`):
    "loss" (the sum of the two players' losses), "discriminator_loss",
    "generator_loss", and for WGAN-GP "gradient_penalty_loss" and
    "wasserstein_estimate".

    Args:
        generator: from `build_generator` (its noise size is the latent size).
        discriminator: from `build_discriminator`.
        critic_steps: discriminator updates per generator update.
        ema_decay: decay d of the averaged generator, in [0, 1), or None for
            none. The decay used at step t is min(d, (1 + t) / (10 + t)), so the
            average follows the generator quickly at first.
        seed: seed of the training randomness.

    Call:
        `gan(noise)` (or `gan([noise, labels])`) returns the averaged
        generator's images in [-1, 1] (the raw generator's without averaging).
    """

    LOG_NAMES = ("loss", "discriminator_loss", "generator_loss")

    def __init__(self, generator, discriminator, *, critic_steps=1, ema_decay=0.999, seed=0, **kwargs):
        super().__init__(**kwargs)
        _check_positive_int("critic_steps", critic_steps)
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"Expected ema_decay in [0, 1) or None. Received: ema_decay={ema_decay!r}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.num_classes = _num_classes_of(generator)
        self.image_shape = tuple(generator.outputs[0].shape[1:])
        self._check_networks()
        self.critic_steps = int(critic_steps)
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.seed = int(seed)
        if self.ema_decay is not None:
            self.averaged_generator = keras.models.clone_model(generator)
            self.averaged_generator.set_weights(generator.get_weights())
            self.averaged_generator.trainable = False
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.LOG_NAMES}
        self.built = True  # the networks are functional models, built when they were made

    def _check_networks(self):
        if len(self.generator.inputs) != 1 or len(self.discriminator.inputs) != 1:
            raise ValueError(
                "Expected an unconditional generator and discriminator (one input each) for a GAN; "
                "use ConditionalGAN for networks built with num_classes. Received: "
                f"{len(self.generator.inputs)} and {len(self.discriminator.inputs)} inputs"
            )

    # -- Keras plumbing -------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            generator=keras.saving.serialize_keras_object(self.generator),
            discriminator=keras.saving.serialize_keras_object(self.discriminator),
            critic_steps=self.critic_steps,
            ema_decay=self.ema_decay,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def call(self, inputs, training=False):
        return self.sampling_generator(averaged=True)(inputs, training=training)

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
        return list(self.trackers.values())

    # -- What the variants override ----------------------------------------------

    def split_batch(self, data):
        """A batch -> (real images, labels or None). The DCGAN takes images alone."""
        if isinstance(data, (tuple, list)):
            raise ValueError(
                "Expected batches of images alone for an unconditional GAN (labels are for ConditionalGAN). "
                f"Received: a {type(data).__name__} of {len(data)} tensors"
            )
        return data, None

    def network_inputs(self, images_or_noise, labels):
        """What the networks take: the tensor itself (a conditional GAN adds the labels)."""
        return images_or_noise

    def discriminator_losses(self, real_scores, fake_scores, real_images, fake_images, labels, step, repeat):
        """The discriminator's loss terms; "discriminator_loss" is what it minimises."""
        return {"discriminator_loss": discriminator_loss(real_scores, fake_scores)}

    def generator_losses(self, fake_scores):
        """The generator's loss terms; "generator_loss" is what it minimises."""
        return {"generator_loss": generator_loss(fake_scores)}

    # -- Randomness ---------------------------------------------------------------

    def draw_seed(self, purpose, step, repeat=0):
        """The stateless seed of one draw (see `stateless_seed`)."""
        return stateless_seed(self.seed, purpose, step, repeat)

    def draw(self, sampler, batch_size, shape, purpose, step, repeat=0):
        """Draws this replica's slice of one global batch of random numbers.

        Every replica draws the whole global batch (noise is cheap) and keeps
        its own rows, so a step under `tf.distribute` sees exactly the numbers
        a single device would see for the same global batch.

        Args:
            sampler: `tf.random.stateless_normal` or `tf.random.stateless_uniform`.
            batch_size: this replica's batch size.
            shape: the shape of one example's draw, e.g. [latent_dim].
            purpose, step, repeat: see `stateless_seed`.
        """
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica_id = tf.cast(context.replica_id_in_sync_group if context else 0, tf.int32)
        values = sampler([batch_size * replicas, *shape], self.draw_seed(purpose, step, repeat))
        return values[replica_id * batch_size : (replica_id + 1) * batch_size]

    # -- The training step ----------------------------------------------------------

    def train_step(self, data):
        """One GAN update: the discriminator (critic_steps times), the generator, the average.

        Args:
            data: real images (batch, 28, 28, 1) in [-1, 1] (a ConditionalGAN
                takes (images, labels)).

        Returns:
            The running means of `LOG_NAMES` (see the class docstring).
        """
        real_images, labels = self.split_batch(data)
        batch_size = tf.shape(real_images)[0]
        step = self.generator_optimizer.iterations  # one per training step
        # Under tf.distribute the optimizer sums the replicas' gradients, so
        # each replica's loss is divided by the number of replicas.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        for repeat in range(self.critic_steps):
            noise = self.draw(tf.random.stateless_normal, batch_size, [self.latent_dim], "critic_noise", step,
                              repeat)  # (b, latent_dim)
            with tf.GradientTape() as tape:
                fake_images = self.generator(self.network_inputs(noise, labels), training=True)  # (b, 28, 28, 1)
                real_scores = self.discriminator(self.network_inputs(real_images, labels), training=True)  # (b, 1)
                fake_scores = self.discriminator(self.network_inputs(fake_images, labels), training=True)  # (b, 1)
                d_terms = self.discriminator_losses(real_scores, fake_scores, real_images, fake_images, labels,
                                                    step, repeat)
                scaled = self.discriminator_optimizer.scale_loss(d_terms["discriminator_loss"] / replicas)
            gradients = tape.gradient(scaled, self.discriminator.trainable_variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_variables))

        noise = self.draw(tf.random.stateless_normal, batch_size, [self.latent_dim], "generator_noise", step)
        with tf.GradientTape() as tape:
            fake_images = self.generator(self.network_inputs(noise, labels), training=True)
            fake_scores = self.discriminator(self.network_inputs(fake_images, labels), training=True)
            g_terms = self.generator_losses(fake_scores)
            scaled = self.generator_optimizer.scale_loss(g_terms["generator_loss"] / replicas)
        gradients = tape.gradient(scaled, self.generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, self.generator.trainable_variables))
        self.update_average(step)

        terms = {"loss": d_terms["discriminator_loss"] + g_terms["generator_loss"], **d_terms, **g_terms}
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def update_average(self, step):
        """theta_avg <- d_t * theta_avg + (1 - d_t) * theta, d_t = min(d, (1 + t) / (10 + t)).

        All the generator's weights are averaged, its batch-norm statistics too.
        """
        if self.ema_decay is None:
            return
        step = tf.cast(step, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        for average, weight in zip(self.averaged_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * tf.cast(weight, average.dtype))

    # -- Sampling --------------------------------------------------------------

    def sampling_generator(self, averaged=True):
        """The network `generate` uses: the averaged generator when there is one."""
        return self.averaged_generator if averaged and self.ema_decay is not None else self.generator

    def generate(self, n=None, *, labels=None, seed=0, noise=None, averaged=True):
        """Generates images in [0, 1] for showing and measuring.

        Args:
            n: how many; noise is drawn from `seed` (leave it None when giving `noise`).
            labels: (n,) class labels: required by a conditional GAN, and an
                error for an unconditional one.
            seed: seed of the noise.
            noise: optional (n, latent_dim) array instead of drawing it: fixed
                noise shows a generator changing during training.
            averaged: sample from the averaged generator (when the model has
                one); False samples from the raw generator.

        Returns:
            A NumPy float32 array (n, 28, 28, 1) in [0, 1].

        Raises:
            ValueError: for a bad count, noise shape or labels.
        """
        if noise is None:
            _check_positive_int("n", n)
            noise = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype("float32")
        noise = np.asarray(noise, dtype="float32")
        if noise.ndim != 2 or noise.shape[1] != self.latent_dim or (n is not None and len(noise) != n):
            raise ValueError(
                f"Expected noise of shape ({n if n is not None else 'n'}, {self.latent_dim}). "
                f"Received: shape={noise.shape}"
            )
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("Expected no labels for an unconditional GAN (num_classes=None). Received: labels")
            arrays = [noise]
        else:
            if labels is None:
                raise ValueError(f"Expected labels in [0, {self.num_classes - 1}] for a conditional GAN. "
                                 "Received: labels=None")
            labels = np.asarray(labels)
            validate_labels(labels, self.num_classes, batch_size=len(noise))
            arrays = [noise, labels.astype("int32")]
        network = self.sampling_generator(averaged)
        # Direct calls in chunks of 500, not predict(): no retracing warnings when
        # a notebook holds several models.
        chunks = []
        for start in range(0, len(noise), 500):
            batch = [tf.constant(array[start : start + 500]) for array in arrays]
            chunks.append(network(batch if len(batch) > 1 else batch[0], training=False).numpy())
        images = np.concatenate(chunks).astype("float32")
        return ((images + 1.0) / 2.0).clip(0.0, 1.0)


@keras.saving.register_keras_serializable(package="course")
class ConditionalGAN(GAN):
    """A conditional GAN (Mirza and Osindero): both networks also see the digit's label.

    Differs from `GAN` only in what a batch holds, (images, labels), and in what
    the networks take, [images or noise, labels]; the step is `GAN.train_step`.
    Build both networks with `num_classes`.
    """

    def _check_networks(self):
        if len(self.generator.inputs) != 2 or len(self.discriminator.inputs) != 2:
            raise ValueError(
                "Expected a generator and a discriminator built with num_classes (two inputs each) for a "
                f"ConditionalGAN. Received: {len(self.generator.inputs)} and {len(self.discriminator.inputs)} inputs"
            )

    def split_batch(self, data):
        if not isinstance(data, (tuple, list)) or len(data) != 2:
            raise ValueError(
                "Expected (images, labels) batches for a conditional GAN. "
                f"Received: {type(data).__name__ if not isinstance(data, (tuple, list)) else f'{len(data)} tensors'}"
            )
        return data[0], data[1]

    def network_inputs(self, images_or_noise, labels):
        return [images_or_noise, labels]


@keras.saving.register_keras_serializable(package="course")
class WGANGP(GAN):
    """WGAN-GP (Gulrajani et al.): a critic with a gradient penalty, five critic steps.

    Differs from `GAN` only in its losses (the Wasserstein critic loss plus
    lambda times the gradient penalty, whose interpolation weights are drawn
    with their own seed purpose; the Wasserstein generator loss) and in its
    default number of critic steps. Build the critic without batch norm.

    Args:
        generator, discriminator, ema_decay, seed: as for `GAN`.
        critic_steps: critic updates per generator update (5 in the paper).
        gradient_penalty_weight: lambda (10 in the paper).
    """

    LOG_NAMES = GAN.LOG_NAMES + ("gradient_penalty_loss", "wasserstein_estimate")

    def __init__(self, generator, discriminator, *, critic_steps=5, gradient_penalty_weight=10.0, **kwargs):
        super().__init__(generator, discriminator, critic_steps=critic_steps, **kwargs)
        if not gradient_penalty_weight >= 0:
            raise ValueError(
                f"Expected gradient_penalty_weight >= 0. Received: gradient_penalty_weight={gradient_penalty_weight!r}")
        self.gradient_penalty_weight = float(gradient_penalty_weight)

    def get_config(self):
        return {**super().get_config(), "gradient_penalty_weight": self.gradient_penalty_weight}

    def discriminator_losses(self, real_scores, fake_scores, real_images, fake_images, labels, step, repeat):
        batch_size = tf.shape(real_images)[0]
        epsilon = self.draw(tf.random.stateless_uniform, batch_size, [1, 1, 1], "interpolation", step,
                            repeat)  # U(0, 1), one weight per example: (b, 1, 1, 1)
        penalty = self.gradient_penalty_weight * gradient_penalty(self.discriminator, real_images, fake_images,
                                                                  epsilon, labels)
        distance_loss = wasserstein_critic_loss(real_scores, fake_scores)
        return {"discriminator_loss": distance_loss + penalty, "gradient_penalty_loss": penalty,
                "wasserstein_estimate": -distance_loss}

    def generator_losses(self, fake_scores):
        return {"generator_loss": wasserstein_generator_loss(fake_scores)}


VARIANTS = {"dcgan": GAN, "cgan": ConditionalGAN, "wgan-gp": WGANGP}


def make_gan(preset="dcgan", *, seed=0, **settings):
    """Builds and compiles the GAN that a preset describes.

    The same call as `vae.make_vae` and `diffusion.make_diffusion`:
    `make_gan("cgan", seed=1, learning_rate=1e-4)`.

    Args:
        preset: a key of `PRESETS`, or a whole settings dict with the keys of a
            `PRESETS` entry (e.g. a run's recorded settings).
        seed: seed of the training randomness (the initial weights come from
            Keras' global seed: call `keras.utils.set_random_seed` first).
        **settings: values that replace the preset's (keys of a `PRESETS` entry).

    Returns:
        A compiled `GAN`, `ConditionalGAN` or `WGANGP` (Adam for both networks
        with the preset's learning rate and betas).

    Raises:
        ValueError: for an unknown preset, an unknown setting, an unknown
            variant or bad settings.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"Expected a preset in {sorted(PRESETS)}. Received: {preset!r}")
        preset = PRESETS[preset]
    unknown = sorted(set(settings) - set(PRESETS["dcgan"]) - {"gradient_penalty_weight"})
    if unknown:
        raise ValueError(f"Expected settings among {sorted(PRESETS['wgan-gp'])}. Received unknown: {unknown}")
    settings = {**preset, **settings}
    variant = settings.get("variant")
    if variant not in VARIANTS:
        raise ValueError(f"Expected settings['variant'] in {sorted(VARIANTS)}. Received: {variant!r}")
    generator = build_generator(
        settings["latent_dim"], projection_filters=settings["projection_filters"],
        generator_blocks=settings["generator_blocks"], kernel_size=settings["kernel_size"],
        num_classes=settings["num_classes"])
    discriminator = build_discriminator(
        discriminator_filters=settings["discriminator_filters"], kernel_size=settings["kernel_size"],
        dropout=settings["dropout"], normalization=settings["normalization"], num_classes=settings["num_classes"])
    extra = {"gradient_penalty_weight": settings["gradient_penalty_weight"]} if variant == "wgan-gp" else {}
    model = VARIANTS[variant](generator, discriminator, critic_steps=settings["critic_steps"],
                              ema_decay=settings["ema_decay"], seed=seed, **extra)

    def adam():
        return keras.optimizers.Adam(settings["learning_rate"], beta_1=settings["beta_1"], beta_2=settings["beta_2"])

    model.compile(adam(), adam())
    return model
