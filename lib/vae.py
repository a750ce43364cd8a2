"""Variational autoencoders for 28x28x1 images: the whole definition in one file.

A VAE (Kingma & Welling 2013, "Auto-Encoding Variational Bayes",
https://arxiv.org/abs/1312.6114; Rezende et al. 2014, https://arxiv.org/abs/1401.4082)
learns an encoder q(z|x) = N(mean(x), diag(exp(log_var(x)))) and a decoder
p(x|z) = Bernoulli(sigmoid(logits(z))) by maximising the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))  <=  log p(x).

Variants here:
- beta-VAE (Higgins et al. 2017, https://openreview.net/forum?id=Sy2fzU9gl): the KL
  term is weighted by beta; beta > 1 trades reconstruction for a simpler code.
- conditional VAE (Sohn et al. 2015, "Learning Structured Output Representation
  using Deep Conditional Generative Models"): encoder and decoder also see the label.
- the importance-weighted bound (Burda et al. 2015, https://arxiv.org/abs/1509.00519)
  used to *evaluate* a trained VAE: log p(x) ~ logsumexp_i(log w_i) - log k, which
  tightens towards log p(x) as k grows. Their table: test NLL 86.76 nats (one
  stochastic layer VAE), 84.78 (two layers), 82.90 (two-layer IWAE), on MNIST
  binarised dynamically (each use of a training image is a fresh Bernoulli sample
  of its pixel intensities; the test images are sampled once).

Everything is in nats and per image (summed over the 784 pixels, averaged over
images). This module imports only TensorFlow, Keras and NumPy.

Public names:
    IMAGE_SHAPE, check_latent_dim, check_images, binarize,
    build_mlp_encoder, build_mlp_decoder, build_conv_encoder, build_conv_decoder,
    Sampling, gaussian_kl, bernoulli_log_likelihood, negative_elbo,
    log_importance_weights, iwae_bound, VAE, make_vae.
"""

import math

import keras
import numpy as np
import tensorflow as tf

IMAGE_SHAPE = (28, 28, 1)
_LOG_2PI = math.log(2.0 * math.pi)


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------
def check_latent_dim(latent_dim):
    """Returns `latent_dim` as an int, or raises ValueError unless it is > 0."""
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim <= 0:
        raise ValueError(f"Expected latent_dim > 0 (an int). Received: latent_dim={latent_dim!r}")
    return int(latent_dim)


def _check_beta(beta):
    """Raises ValueError unless `beta` is a number >= 0 (tensors are not checked)."""
    if isinstance(beta, (int, float, np.number)) and not isinstance(beta, bool):
        if not math.isfinite(float(beta)) or beta < 0:
            raise ValueError(f"Expected beta >= 0. Received: beta={beta!r}")
    elif not tf.is_tensor(beta):
        raise ValueError(f"Expected beta to be a number >= 0. Received: beta={beta!r}")


def check_images(images, *, name="images", check_values=True):
    """Checks that `images` is a batch of 28x28x1 images with values in [0, 1].

    The shape is checked always (statically, so also while tracing a
    `tf.function`); the values only when they are concrete (NumPy arrays or eager
    tensors), because a traced graph cannot raise a Python error.

    Args:
        images: array or tensor of shape (batch, 28, 28, 1).
        name: what to call the argument in the error message.
        check_values: whether to check that the values lie in [0, 1].

    Raises:
        ValueError: on a wrong shape or values outside [0, 1].
    """
    shape = tuple(images.shape)
    if len(shape) != 4 or tuple(shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"Expected {name} of shape (batch, 28, 28, 1). Received: {name}.shape={shape}"
        )
    if check_values and (isinstance(images, np.ndarray) or (tf.is_tensor(images) and tf.executing_eagerly())):
        values = np.asarray(images)
        if values.size and (values.min() < 0 or values.max() > 1 or not np.all(np.isfinite(values))):
            raise ValueError(
                f"Expected {name} with values in [0, 1] (Bernoulli probabilities). Received: "
                f"values from {values.min():.4g} to {values.max():.4g}"
            )


def binarize(images, seed):
    """Draws binary images x ~ Bernoulli(images), deterministically from `seed`.

    Used once with a fixed seed for the held-out images (as in Burda et al.);
    training images are drawn afresh inside `VAE.train_step` at every use.

    Args:
        images: float array or tensor in [0, 1], any shape.
        seed: an int, or a stateless seed of shape (2,).

    Returns:
        float32 tensor of the same shape with values 0 or 1.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    if isinstance(seed, (int, np.integer)):
        seed = (int(seed), 0)
    uniform = tf.random.stateless_uniform(tf.shape(images), seed=seed, alg="philox")
    return tf.cast(uniform < images, tf.float32)


# ----------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------
def _encoder_inputs(num_classes):
    """Returns the named input(s): images (28, 28, 1) and optional one-hot labels."""
    images = keras.Input(shape=IMAGE_SHAPE, name="images")
    labels = keras.Input(shape=(num_classes,), name="labels") if num_classes else None
    return images, labels


def _gaussian_head(features, latent_dim):
    """Two named dense layers: the posterior mean and log-variance, (batch, latent_dim) each."""
    mean = keras.layers.Dense(latent_dim, name="z_mean")(features)
    log_var = keras.layers.Dense(latent_dim, name="z_log_var")(features)
    return [mean, log_var]


def build_mlp_encoder(latent_dim, hidden_units=(512, 256), num_classes=0, name="encoder"):
    """Builds a fully connected encoder q(z|x[, y]).

    Args:
        latent_dim: size of z (> 0).
        hidden_units: widths of the ReLU layers.
        num_classes: 0 for an ordinary VAE; else the encoder also takes one-hot labels.
        name: model name.

    Returns:
        keras.Model: images (batch, 28, 28, 1) [, labels (batch, num_classes)]
        -> [z_mean, z_log_var], each (batch, latent_dim).
    """
    latent_dim = check_latent_dim(latent_dim)
    images, labels = _encoder_inputs(num_classes)
    x = keras.layers.Flatten(name="flatten")(images)  # (batch, 784)
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])  # (batch, 784 + classes)
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}")(x)
    inputs = [images, labels] if labels is not None else images
    return keras.Model(inputs, _gaussian_head(x, latent_dim), name=name)


def build_mlp_decoder(latent_dim, hidden_units=(256, 512), num_classes=0, name="decoder"):
    """Builds a fully connected decoder p(x|z[, y]) returning Bernoulli logits.

    Returns:
        keras.Model: latents (batch, latent_dim) [, labels (batch, num_classes)]
        -> logits (batch, 28, 28, 1). sigmoid(logits) is the mean image.
    """
    latent_dim = check_latent_dim(latent_dim)
    latents = keras.Input(shape=(latent_dim,), name="latents")
    labels = keras.Input(shape=(num_classes,), name="labels") if num_classes else None
    x = latents
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}")(x)
    x = keras.layers.Dense(int(np.prod(IMAGE_SHAPE)), name="logits_flat")(x)  # (batch, 784)
    logits = keras.layers.Reshape(IMAGE_SHAPE, name="logits")(x)  # (batch, 28, 28, 1)
    inputs = [latents, labels] if labels is not None else latents
    return keras.Model(inputs, logits, name=name)


def build_conv_encoder(latent_dim, filters=(32, 64), dense_units=256, num_classes=0, name="encoder"):
    """Builds a convolutional encoder (two stride-2 convolutions, as in the TF docs' CVAE).

    Returns:
        keras.Model: images (batch, 28, 28, 1) [, labels] -> [z_mean, z_log_var].
    """
    latent_dim = check_latent_dim(latent_dim)
    images, labels = _encoder_inputs(num_classes)
    x = images
    for index, count in enumerate(filters):
        # (batch, 14, 14, filters[0]) then (batch, 7, 7, filters[1])
        x = keras.layers.Conv2D(count, 3, strides=2, padding="same", activation="relu",
                                name=f"conv_{index + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    inputs = [images, labels] if labels is not None else images
    return keras.Model(inputs, _gaussian_head(x, latent_dim), name=name)


def build_conv_decoder(latent_dim, filters=(64, 32), num_classes=0, name="decoder"):
    """Builds a transposed-convolution decoder returning Bernoulli logits.

    Returns:
        keras.Model: latents (batch, latent_dim) [, labels] -> logits (batch, 28, 28, 1).
    """
    latent_dim = check_latent_dim(latent_dim)
    if len(filters) != 2:
        raise ValueError(f"Expected two filter counts (7->14->28). Received: filters={filters!r}")
    latents = keras.Input(shape=(latent_dim,), name="latents")
    labels = keras.Input(shape=(num_classes,), name="labels") if num_classes else None
    x = latents
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
    x = keras.layers.Dense(7 * 7 * filters[0], activation="relu", name="dense")(x)
    x = keras.layers.Reshape((7, 7, filters[0]), name="reshape")(x)  # (batch, 7, 7, f0)
    for index, count in enumerate(filters):
        # (batch, 14, 14, f0) then (batch, 28, 28, f1)
        x = keras.layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu",
                                         name=f"deconv_{index + 1}")(x)
    logits = keras.layers.Conv2DTranspose(1, 3, padding="same", name="logits")(x)  # (batch, 28, 28, 1)
    inputs = [latents, labels] if labels is not None else latents
    return keras.Model(inputs, logits, name=name)


@keras.saving.register_keras_serializable(package="course")
class Sampling(keras.layers.Layer):
    """The reparameterisation trick: z = mean + exp(log_var / 2) * epsilon.

    epsilon ~ N(0, I) is either passed in (`noise=`, so a step can use stateless,
    resumable randomness and a test can fix it) or drawn from the layer's own
    seed generator. Gradients flow to mean and log_var because epsilon does not
    depend on them.

    Args:
        seed: int seed for the layer's own noise (used only when `noise` is None).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, noise=None):
        """inputs: [mean, log_var], each (batch, latent_dim); returns z of the same shape."""
        mean, log_var = inputs
        if noise is None:
            noise = keras.random.normal(tf.shape(mean), seed=self.seed_generator)
        return mean + tf.exp(0.5 * log_var) * noise

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


# ----------------------------------------------------------------------------
# Losses (pure functions)
# ----------------------------------------------------------------------------
def gaussian_kl(mean, log_var):
    """KL divergence of N(mean, diag(exp(log_var))) from N(0, I), one value per example.

    The KL of the whole latent vector is the SUM of the per-dimension KLs
    (the dimensions are independent). The training loss then takes the MEAN over
    examples of (reconstruction + KL), with the reconstruction also summed over
    pixels: that mean is an unbiased estimate of the expected per-image negative
    ELBO, in nats per image. Dividing the KL by the number of pixels (as some
    tutorials do when they use a per-pixel mean cross entropy) is not the ELBO:
    it silently weights the KL by 1/784 relative to the reconstruction, i.e. a
    beta-VAE with beta ~ 0.001, and its numbers cannot be compared with papers.

    Formula:
        KL = 0.5 * sum_j (exp(log_var_j) + mean_j**2 - 1 - log_var_j)

    Args:
        mean: (batch, latent_dim).
        log_var: (batch, latent_dim), log of the variances.

    Returns:
        (batch,) float tensor of KLs in nats.
    """
    mean = tf.convert_to_tensor(mean, tf.float32)
    log_var = tf.convert_to_tensor(log_var, tf.float32)
    return 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mean) - 1.0 - log_var, axis=-1)


def bernoulli_log_likelihood(images, logits):
    """log p(x | logits) of images under independent Bernoulli pixels, per example.

    Computed stably from logits (never from sigmoid(logits) and log).

    Formula:
        log p(x) = sum_pixels [x * log sigmoid(l) + (1 - x) * log(1 - sigmoid(l))]
                 = -sum_pixels sigmoid_cross_entropy_with_logits(labels=x, logits=l)

    Args:
        images: (batch, 28, 28, 1) targets in [0, 1] (binary for a true likelihood).
        logits: (batch, 28, 28, 1) decoder outputs.

    Returns:
        (batch,) float tensor, log-likelihoods in nats (<= 0 for binary images).

    Raises:
        ValueError: if the shapes differ or concrete images lie outside [0, 1].
    """
    check_images(images)
    images = tf.convert_to_tensor(images, tf.float32)
    logits = tf.convert_to_tensor(logits, tf.float32)
    if tuple(images.shape[1:]) != tuple(logits.shape[1:]):
        raise ValueError(
            f"Expected logits of the images' shape {tuple(images.shape)}. Received: logits.shape={tuple(logits.shape)}"
        )
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    return -tf.reduce_sum(cross_entropy, axis=[1, 2, 3])


def negative_elbo(images, logits, mean, log_var, beta=1.0):
    """The (beta-weighted) negative ELBO of a batch, with its two terms kept apart.

    Formula:
        reconstruction = mean_batch( -log p(x | z) )        # z ~ q(z|x), one sample
        kl             = mean_batch( KL(q(z|x) || N(0, I)) )
        loss           = reconstruction + beta * kl          # nats per image

    With beta = 1, `loss` is the negative ELBO, an upper bound on -log p(x).

    Args:
        images: (batch, 28, 28, 1) binary targets.
        logits: (batch, 28, 28, 1) decoder logits for one z per image.
        mean, log_var: (batch, latent_dim) posterior parameters.
        beta: weight of the KL term, >= 0.

    Returns:
        dict of scalar tensors: "loss", "reconstruction", "kl".

    Raises:
        ValueError: if beta < 0 (or not a number), or images are invalid.
    """
    _check_beta(beta)
    reconstruction = -tf.reduce_mean(bernoulli_log_likelihood(images, logits))
    kl = tf.reduce_mean(gaussian_kl(mean, log_var))
    return {"loss": reconstruction + tf.cast(beta, tf.float32) * kl,
            "reconstruction": reconstruction, "kl": kl}


def log_importance_weights(images, logits, latents, mean, log_var):
    """log w = log p(x|z) + log p(z) - log q(z|x) for each sample z.

    Formula:
        log p(z)   = -0.5 * sum_j (z_j**2 + log 2 pi)
        log q(z|x) = -0.5 * sum_j ((z_j - mean_j)**2 / exp(log_var_j) + log_var_j + log 2 pi)

    Its average over z ~ q is the ELBO (with a Monte Carlo KL); the log of the
    average of w is the IWAE bound.

    Args:
        images: (batch, 28, 28, 1); logits: (batch, 28, 28, 1) for `latents`.
        latents, mean, log_var: (batch, latent_dim).

    Returns:
        (batch,) log-weights in nats.
    """
    log_prior = -0.5 * tf.reduce_sum(tf.square(latents) + _LOG_2PI, axis=-1)
    log_posterior = -0.5 * tf.reduce_sum(
        tf.square(latents - mean) * tf.exp(-log_var) + log_var + _LOG_2PI, axis=-1)
    return bernoulli_log_likelihood(images, logits) + log_prior - log_posterior


def iwae_bound(model, images, *, k, labels=None, seed=0, noise=None, max_decoded=4096):
    """Importance-weighted estimate of log p(x) per image, in nats (Burda et al. 2015).

    Formula:
        L_k(x) = log (1/k) sum_{i=1..k} p(x, z_i) / q(z_i | x),   z_i ~ q(z | x)
               = logsumexp_i(log w_i) - log k
    L_1 is the single-sample ELBO; E[L_k] increases with k towards log p(x).

    The k samples are processed in chunks so that at most `max_decoded` images are
    decoded at once; k = 5000 on a few hundred test images fits a laptop.

    Args:
        model: anything with `encode(images[, labels]) -> (mean, log_var)` and
            `decode(latents[, labels]) -> logits` (a `VAE`).
        images: (batch, 28, 28, 1) binary images (binarise held-out images once).
        k: number of importance samples (>= 1).
        labels: (batch,) int labels for a conditional model, else None.
        seed: int; chunk c of the noise is drawn with stateless seed (seed, c).
        noise: optional (k, batch, latent_dim) epsilons to use instead (for tests).
        max_decoded: images decoded per chunk.

    Returns:
        (batch,) float64 NumPy array of log p(x) estimates; -mean is the NLL.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Expected k >= 1 (an int). Received: k={k!r}")
    check_images(images)
    images = tf.convert_to_tensor(images, tf.float32)
    mean, log_var = model.encode(images, labels) if labels is not None else model.encode(images)
    batch, latent_dim = int(mean.shape[0]), int(mean.shape[1])
    if noise is not None:
        noise = tf.convert_to_tensor(noise, tf.float32)
        if tuple(noise.shape) != (k, batch, latent_dim):
            raise ValueError(f"Expected noise of shape {(k, batch, latent_dim)}. Received: {tuple(noise.shape)}")
    per_chunk = max(1, min(k, max_decoded // max(batch, 1)))
    log_weights = []  # list of (samples_in_chunk, batch)
    for chunk, start in enumerate(range(0, k, per_chunk)):
        count = min(per_chunk, k - start)
        if noise is None:
            epsilon = tf.random.stateless_normal((count, batch, latent_dim), seed=(int(seed), chunk), alg="philox")
        else:
            epsilon = noise[start:start + count]
        latents = mean[None] + tf.exp(0.5 * log_var)[None] * epsilon  # (count, batch, latent_dim)
        flat_latents = tf.reshape(latents, (count * batch, latent_dim))
        repeat = lambda t: tf.reshape(tf.broadcast_to(t[None], (count, *t.shape)), (count * batch, *t.shape[1:]))
        flat_labels = None if labels is None else tf.reshape(
            tf.broadcast_to(tf.convert_to_tensor(labels)[None], (count, batch)), (-1,))
        logits = model.decode(flat_latents, flat_labels) if labels is not None else model.decode(flat_latents)
        log_w = log_importance_weights(repeat(images), logits, flat_latents, repeat(mean), repeat(log_var))
        log_weights.append(tf.reshape(log_w, (count, batch)))
    log_weights = tf.cast(tf.concat(log_weights, axis=0), tf.float64)  # (k, batch)
    return (tf.reduce_logsumexp(log_weights, axis=0) - math.log(k)).numpy()


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="course")
class VAE(keras.Model):
    """A (beta-, conditional) VAE with Bernoulli pixels and one training step.

    The model is handed its encoder and decoder (see the builders, or `make_vae`).
    `train_step` draws, from stateless seeds (seed, optimizer.iterations), both a
    fresh binarisation of the batch (dynamic binarisation) and the epsilons of the
    reparameterisation, so a resumed run repeats an uninterrupted one exactly; the
    noise for the whole global batch is drawn and each replica takes its slice, so
    a step under `tf.distribute.MirroredStrategy` equals the same step on one device.
    (XLA has its own generator for stateless random numbers: a `jit_compile=True`
    step draws different, equally valid noise, so resume with the same setting.)

    Args:
        encoder: keras.Model images [, one-hot labels] -> [z_mean, z_log_var].
        decoder: keras.Model latents [, one-hot labels] -> logits (batch, 28, 28, 1).
        beta: KL weight (1 = the ELBO).
        num_classes: 0 for an unconditional VAE, else the number of labels (CVAE).
        dynamic_binarization: if True, train on Bernoulli samples of the images;
            if False, use the given values as targets.
        seed: int seed of the training randomness.

    Raises:
        ValueError: on beta < 0, num_classes < 0 or mismatched networks.
    """

    def __init__(self, encoder, decoder, *, beta=1.0, num_classes=0, dynamic_binarization=True,
                 seed=0, **kwargs):
        super().__init__(**kwargs)
        _check_beta(beta)
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
            raise ValueError(f"Expected num_classes >= 0 (0 = unconditional). Received: num_classes={num_classes!r}")
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(encoder.outputs[0].shape[-1])
        decoder_latent = int(decoder.inputs[0].shape[-1])
        if decoder_latent != self.latent_dim:
            raise ValueError(f"Expected a decoder taking latent_dim={self.latent_dim}. Received: {decoder_latent}")
        if (len(encoder.inputs) == 2) != bool(num_classes):
            raise ValueError(
                f"Expected an encoder with {'two inputs (images, labels)' if num_classes else 'one input'} "
                f"for num_classes={num_classes}. Received: {len(encoder.inputs)} inputs")
        self.beta = float(beta)
        self.num_classes = int(num_classes)
        self.dynamic_binarization = bool(dynamic_binarization)
        self.seed = int(seed)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True  # encoder and decoder are built functional models

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # -- labels -------------------------------------------------------------
    def _one_hot(self, labels, batch):
        """Checks labels and returns them one-hot (batch, num_classes), or None."""
        if not self.num_classes:
            if labels is not None:
                raise ValueError("Expected no labels for an unconditional VAE (num_classes=0). Received labels.")
            return None
        if labels is None:
            raise ValueError(f"Expected labels in [0, {self.num_classes}) for a conditional VAE. Received: None")
        labels = tf.convert_to_tensor(labels)
        if labels.dtype.is_floating:
            raise ValueError(f"Expected integer labels in [0, {self.num_classes}). Received dtype {labels.dtype.name}")
        if labels.shape.rank != 1 or (labels.shape[0] is not None and batch is not None and labels.shape[0] != batch):
            raise ValueError(f"Expected labels of shape ({batch},). Received: labels.shape={tuple(labels.shape)}")
        if tf.executing_eagerly():
            values = labels.numpy()
            if values.size and (values.min() < 0 or values.max() >= self.num_classes):
                raise ValueError(
                    f"Expected labels in [0, {self.num_classes}). Received: labels from {values.min()} to {values.max()}")
        return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes)

    # -- the public interface -------------------------------------------------
    def encode(self, images, labels=None):
        """Returns (mean, log_var), each (batch, latent_dim), of q(z | images[, labels])."""
        check_images(images)
        images = tf.convert_to_tensor(images, tf.float32)
        one_hot = self._one_hot(labels, images.shape[0])
        mean, log_var = self.encoder([images, one_hot] if one_hot is not None else images)
        return mean, log_var

    def decode(self, latents, labels=None):
        """Returns Bernoulli logits (batch, 28, 28, 1) of p(x | latents[, labels])."""
        latents = tf.convert_to_tensor(latents, tf.float32)
        if latents.shape.rank != 2 or latents.shape[-1] != self.latent_dim:
            raise ValueError(
                f"Expected latents of shape (batch, {self.latent_dim}). Received: latents.shape={tuple(latents.shape)}")
        one_hot = self._one_hot(labels, latents.shape[0])
        return self.decoder([latents, one_hot] if one_hot is not None else latents)

    def generate(self, count, labels=None, seed=0):
        """Returns `count` mean images sigmoid(decode(z)), z ~ N(0, I): (count, 28, 28, 1) in [0, 1]."""
        latents = tf.random.stateless_normal((int(count), self.latent_dim), seed=(int(seed), 0), alg="philox")
        return tf.sigmoid(self.decode(latents, labels))

    def call(self, inputs, training=False):
        """Deterministic reconstruction logits: decode(mean of q(z|x)).

        inputs: images (batch, 28, 28, 1), or [images, int labels] for a CVAE.
        """
        images, labels = (inputs[0], inputs[1]) if isinstance(inputs, (list, tuple)) else (inputs, None)
        mean, _ = self.encode(images, labels)
        return self.decode(mean, labels)

    # -- training -----------------------------------------------------------
    def _unpack(self, data):
        """data: images, (images,), or (images, labels[, ...]) -> (images, labels or None)."""
        if isinstance(data, (list, tuple)):
            images = data[0]
            labels = data[1] if len(data) > 1 and self.num_classes else None
        else:
            images, labels = data, None
        check_images(images)
        return tf.cast(images, tf.float32), labels

    def _replica_slice_noise(self, shape, seed, kind):
        """Draws noise for the GLOBAL batch and returns this replica's rows.

        Drawing (global_batch, ...) and slicing makes each example's randomness
        independent of how many devices share the batch (the strategy splits a
        batch into contiguous slices in replica order).
        """
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        local = shape[0]
        replica = 0 if context is None else context.replica_id_in_sync_group
        replica = tf.cast(replica, tf.int32)
        global_shape = tf.concat([[local * replicas], shape[1:]], axis=0)
        if kind == "uniform":
            values = tf.random.stateless_uniform(global_shape, seed=seed, alg="philox")
        else:
            values = tf.random.stateless_normal(global_shape, seed=seed, alg="philox")
        return values[replica * local:(replica + 1) * local]

    def _terms(self, images, labels, binary_seed, noise_seed, binarize_images):
        """Forward pass; returns negative_elbo's dict for one batch."""
        if binarize_images:
            uniform = self._replica_slice_noise(tf.shape(images), binary_seed, "uniform")
            images = tf.cast(uniform < images, tf.float32)
        one_hot = self._one_hot(labels, None)
        encoder_inputs = [images, one_hot] if one_hot is not None else images
        mean, log_var = self.encoder(encoder_inputs, training=True)  # (batch, latent_dim) x2
        epsilon = self._replica_slice_noise(tf.shape(mean), noise_seed, "normal")
        latents = self.sampling([mean, log_var], noise=epsilon)
        logits = self.decoder([latents, one_hot] if one_hot is not None else latents, training=True)
        return negative_elbo(images, logits, mean, log_var, beta=self.beta)

    def _seeds(self):
        step = tf.cast(self.optimizer.iterations, tf.int64)
        base = tf.constant(2 * self.seed, tf.int64)
        return tf.stack([base, step]), tf.stack([base + 1, step])

    def train_step(self, data):
        """One optimiser step on a batch; returns {"loss", "reconstruction", "kl"} (nats per image)."""
        images, labels = self._unpack(data)
        binary_seed, noise_seed = self._seeds()
        with tf.GradientTape() as tape:
            terms = self._terms(images, labels, binary_seed, noise_seed, self.dynamic_binarization)
            # The optimizer sums gradients over replicas: divide so the sum is the mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(terms["loss"] / replicas)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        self.loss_tracker.update_state(terms["loss"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        return {metric.name: metric.result() for metric in self.metrics}

    def test_step(self, data):
        """Negative ELBO terms on a batch taken as given (binarise held-out data once beforehand)."""
        images, labels = self._unpack(data)
        seed = tf.constant([2 * self.seed + 1, -1], tf.int64)
        terms = self._terms(images, labels, seed, seed, binarize_images=False)
        self.loss_tracker.update_state(terms["loss"])
        self.reconstruction_tracker.update_state(terms["reconstruction"])
        self.kl_tracker.update_state(terms["kl"])
        return {metric.name: metric.result() for metric in self.metrics}

    # -- serialisation --------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "num_classes": self.num_classes,
            "dynamic_binarization": self.dynamic_binarization,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def make_vae(latent_dim, *, architecture="mlp", num_classes=0, beta=1.0, seed=0,
             hidden_units=(512, 256), filters=(32, 64), dense_units=256, dynamic_binarization=True):
    """Builds a `VAE` with matching encoder and decoder.

    Args:
        latent_dim: size of z (> 0).
        architecture: "mlp" or "conv".
        num_classes: 0, or the number of labels for a conditional VAE.
        beta: KL weight (>= 0).
        seed: seed for the initial weights (through `keras.utils.set_random_seed`,
            which also reseeds Python's and NumPy's global generators) and for the
            training randomness.
        hidden_units: MLP widths (the decoder mirrors them).
        filters, dense_units: conv encoder settings (the decoder mirrors the filters).
        dynamic_binarization: see `VAE`.

    Returns:
        An uncompiled `VAE`.

    Raises:
        ValueError: on an unknown architecture, latent_dim <= 0 or beta < 0.
    """
    latent_dim = check_latent_dim(latent_dim)
    _check_beta(beta)
    keras.utils.set_random_seed(seed)  # reproducible initial weights
    if architecture == "mlp":
        encoder = build_mlp_encoder(latent_dim, hidden_units, num_classes)
        decoder = build_mlp_decoder(latent_dim, tuple(reversed(hidden_units)), num_classes)
    elif architecture == "conv":
        encoder = build_conv_encoder(latent_dim, filters, dense_units, num_classes)
        decoder = build_conv_decoder(latent_dim, tuple(reversed(filters)), num_classes)
    else:
        raise ValueError(f'Expected architecture "mlp" or "conv". Received: architecture={architecture!r}')
    return VAE(encoder, decoder, beta=beta, num_classes=num_classes,
               dynamic_binarization=dynamic_binarization, seed=seed, name="vae")
