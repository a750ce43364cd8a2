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

Images are (batch, 28, 28, 1) with values in [0, 1] (Bernoulli probabilities).
Everything is in nats and per image (summed over the 784 pixels, averaged over
images). This module imports only TensorFlow, Keras and NumPy.

Public names:
- settings: `PRESETS`, `IMAGE_SHAPE`, `HELD_OUT_SEED`, `EVALUATION_K`, `SEED_PURPOSES`
- networks: `build_mlp_encoder`, `build_mlp_decoder`, `build_conv_encoder`,
  `build_conv_decoder`, `Sampling`
- losses: `gaussian_kl`, `bernoulli_log_likelihood`, `negative_elbo`,
  `log_importance_weights`, `iwae_bound`
- the model: `VAE` (its `train_step` is the one training step), `make_vae`,
  `make_optimizer` (with `LinearEndDecay`), `stateless_seed`
- held-out measures: `binarize`, `binarize_held_out`, `negative_elbo_per_image`,
  `held_out_nats`
- input checks: `check_latent_dim`, `check_images`
"""

import math

import keras
import numpy as np
import tensorflow as tf

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "lib/vae.py needs Keras' TensorFlow backend (it uses tf.GradientTape, tf.function and "
        "tf.random's stateless ops). Set KERAS_BACKEND=tensorflow before importing Keras. "
        f"Received: backend={keras.backend.backend()!r}"
    )

IMAGE_SHAPE = (28, 28, 1)
HELD_OUT_SEED = 2015  # held-out images are binarised once, with this seed, for every measurement
EVALUATION_K = 5000  # importance samples per image in Burda et al.'s protocol
_LOG_2PI = math.log(2.0 * math.pi)

# Settings by name. "vae" is the course's default, chosen by measurement
# (benchmarks/vae_quality_budget.py): in 240 s on a 2-core CPU it beats the
# TensorFlow docs' convolutional VAE ("tf_docs": its networks, latent size,
# optimiser and batch, trained with the same step) by several nats of held-out
# -log p(x). What made the difference, measured at fixed step counts: no dense
# layer between the convolutions and the Gaussian head (the step takes half the
# time and learns as much per step, and the file is five times smaller), a
# larger learning rate, and a rate that falls to 0 over the run's last fifth.
# A short run on this CPU is far from converged, so steps per second matter more
# than width. "beta-vae" and "cvae" are the chapter's variants of the same
# network. Every preset has every key:
#   architecture         "conv", "mlp" or "tf_docs" (see make_vae)
#   latent_dim           size of z
#   hidden_units         widths of the MLP's layers (mlp only; the decoder mirrors them)
#   filters              channels of the two stride-2 convolutions (conv; the decoder mirrors them)
#   dense_units          width of a dense layer before the encoder's Gaussian head (0: none)
#   beta                 weight of the KL term (1 = the ELBO)
#   num_classes          None (unconditional) or the number of labels (conditional)
#   kl_warmup_steps      steps over which beta rises linearly from 0 (0 = none)
#   batch_size, learning_rate, epochs: Adam's training settings
#   learning_rate_decay  "constant"; "linear_end" (constant, then linear to 0 over the
#                        run's last fifth); or "cosine" (to 0 over the whole run)
PRESETS = {
    "vae": {
        "architecture": "conv",
        "latent_dim": 32,
        "hidden_units": [512, 256],
        "filters": [32, 64],
        "dense_units": 0,
        "beta": 1.0,
        "num_classes": None,
        "kl_warmup_steps": 0,
        "batch_size": 128,
        "learning_rate": 2e-3,
        "learning_rate_decay": "linear_end",
        "epochs": 200,
    },
    "beta-vae": {
        "architecture": "conv",
        "latent_dim": 10,
        "hidden_units": [512, 256],
        "filters": [32, 64],
        "dense_units": 0,
        "beta": 4.0,
        "num_classes": None,
        "kl_warmup_steps": 0,
        "batch_size": 128,
        "learning_rate": 2e-3,
        "learning_rate_decay": "linear_end",
        "epochs": 50,
    },
    "cvae": {
        "architecture": "conv",
        "latent_dim": 8,
        "hidden_units": [512, 256],
        "filters": [32, 64],
        "dense_units": 0,
        "beta": 1.0,
        "num_classes": 10,
        "kl_warmup_steps": 0,
        "batch_size": 128,
        "learning_rate": 2e-3,
        "learning_rate_decay": "linear_end",
        "epochs": 100,
    },
    # https://www.tensorflow.org/tutorials/generative/cvae: two valid stride-2
    # convolutions straight to the Gaussian head; a dense layer to 7x7x32, then
    # transposed convolutions 64 and 32 (stride 2) and a stride-1 one to logits.
    "tf_docs": {
        "architecture": "tf_docs",
        "latent_dim": 50,
        "hidden_units": [],
        "filters": [32, 64],
        "dense_units": 0,
        "beta": 1.0,
        "num_classes": None,
        "kl_warmup_steps": 0,
        "batch_size": 32,
        "learning_rate": 1e-4,
        "learning_rate_decay": "constant",
        "epochs": 10,
    },
}
ARCHITECTURES = ("conv", "mlp", "tf_docs")
LEARNING_RATE_DECAYS = ("constant", "linear_end", "cosine")
MODEL_SETTINGS = ("architecture", "latent_dim", "hidden_units", "filters", "dense_units", "beta",
                  "num_classes", "kl_warmup_steps")

# Every random draw of a step has its own purpose (see `stateless_seed`).
SEED_PURPOSES = {"binarization": 1, "latent_noise": 2, "test_noise": 3, "prior": 4, "iwae_noise": 5,
                 "elbo_noise": 6}


def stateless_seed(seed, purpose, step, repeat=0):
    """A stateless seed (shape (2,), int64) folded from `seed`, a named purpose, a step and a repeat.

    Draws that differ in any of the four get unrelated random numbers, so no two
    draws in or across training steps share a seed, and a resumed run (whose
    optimizer restores `step`) draws exactly what an uninterrupted run draws.

    Args:
        seed: the model's int seed.
        purpose: a key of `SEED_PURPOSES` ("binarization", "latent_noise", ...).
        step: an int or int tensor, usually the optimizer's `iterations`.
        repeat: an index for several draws of one purpose in one step.

    Returns:
        An int64 tensor of shape (2,) for `tf.random.stateless_*`.
    """
    if purpose not in SEED_PURPOSES:
        raise ValueError(f"Expected a purpose in {sorted(SEED_PURPOSES)}. Received: purpose={purpose!r}")
    base = tf.constant([int(seed), 0], tf.int64)
    folded = tf.random.experimental.stateless_fold_in(base, SEED_PURPOSES[purpose])
    folded = tf.random.experimental.stateless_fold_in(folded, tf.cast(step, tf.int64))
    return tf.random.experimental.stateless_fold_in(folded, tf.cast(repeat, tf.int64))


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------
def check_latent_dim(latent_dim):
    """Returns `latent_dim` as an int, or raises ValueError unless it is > 0."""
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim <= 0:
        raise ValueError(f"Expected latent_dim > 0 (an int). Received: latent_dim={latent_dim!r}")
    return int(latent_dim)


def _check_num_classes(num_classes):
    """Returns None or a positive int; raises ValueError otherwise (0 is refused: use None)."""
    if num_classes is None:
        return None
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes <= 0:
        raise ValueError(
            f"Expected num_classes=None (unconditional) or a positive int. Received: num_classes={num_classes!r}")
    return int(num_classes)


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


def binarize_held_out(images):
    """The course's held-out images: `images` in [0, 1] binarised once with HELD_OUT_SEED.

    Every measurement in the course (notebooks, `python -m lib evaluate`, the
    benchmarks, the shipped weights' records) uses these same binary images.

    Returns:
        float32 NumPy array of the same shape, values 0 or 1.
    """
    check_images(images)
    return binarize(images, HELD_OUT_SEED).numpy()


# ----------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------
def _label_input(num_classes):
    """The optional one-hot label input (batch, num_classes), or None."""
    return keras.Input(shape=(num_classes,), name="labels") if num_classes else None


def _gaussian_head(features, latent_dim):
    """Two named dense layers: the posterior mean and log-variance, (batch, latent_dim) each."""
    mean = keras.layers.Dense(latent_dim, name="z_mean")(features)
    log_var = keras.layers.Dense(latent_dim, name="z_log_var")(features)
    return [mean, log_var]


def build_mlp_encoder(latent_dim, hidden_units=(512, 256), num_classes=None, name="encoder"):
    """Builds a fully connected encoder q(z|x[, y]).

    Args:
        latent_dim: size of z (> 0).
        hidden_units: widths of the ReLU layers.
        num_classes: None for an ordinary VAE; else the encoder also takes one-hot labels.
        name: model name.

    Returns:
        keras.Model: images (batch, 28, 28, 1) [, labels (batch, num_classes)]
        -> [z_mean, z_log_var], each (batch, latent_dim).
    """
    latent_dim = check_latent_dim(latent_dim)
    num_classes = _check_num_classes(num_classes)
    images, labels = keras.Input(shape=IMAGE_SHAPE, name="images"), _label_input(num_classes)
    x = keras.layers.Flatten(name="flatten")(images)  # (batch, 784)
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])  # (batch, 784 + classes)
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}")(x)
    inputs = [images, labels] if labels is not None else images
    return keras.Model(inputs, _gaussian_head(x, latent_dim), name=name)


def build_mlp_decoder(latent_dim, hidden_units=(256, 512), num_classes=None, name="decoder"):
    """Builds a fully connected decoder p(x|z[, y]) returning Bernoulli logits.

    Returns:
        keras.Model: latents (batch, latent_dim) [, labels (batch, num_classes)]
        -> logits (batch, 28, 28, 1). sigmoid(logits) is the mean image.
    """
    latent_dim = check_latent_dim(latent_dim)
    num_classes = _check_num_classes(num_classes)
    latents, labels = keras.Input(shape=(latent_dim,), name="latents"), _label_input(num_classes)
    x = latents
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}")(x)
    x = keras.layers.Dense(int(np.prod(IMAGE_SHAPE)), name="logits_flat")(x)  # (batch, 784)
    logits = keras.layers.Reshape(IMAGE_SHAPE, name="logits")(x)  # (batch, 28, 28, 1)
    inputs = [latents, labels] if labels is not None else latents
    return keras.Model(inputs, logits, name=name)


def build_conv_encoder(latent_dim, filters=(32, 64), dense_units=512, num_classes=None, *, padding="same",
                       name="encoder"):
    """Builds a convolutional encoder: two stride-2 3x3 convolutions, then the Gaussian head.

    Args:
        latent_dim: size of z (> 0).
        filters: channels of the two convolutions.
        dense_units: width of a ReLU dense layer before the head (0: none, as in the TF docs).
        num_classes: None, or the number of labels (one-hot input joined after the convolutions).
        padding: "same" (28 -> 14 -> 7) or "valid" (28 -> 13 -> 6, the TF docs').
        name: model name.

    Returns:
        keras.Model: images (batch, 28, 28, 1) [, labels] -> [z_mean, z_log_var].
    """
    latent_dim = check_latent_dim(latent_dim)
    num_classes = _check_num_classes(num_classes)
    if len(filters) != 2:
        raise ValueError(f"Expected two filter counts (28 -> 14 -> 7). Received: filters={filters!r}")
    images, labels = keras.Input(shape=IMAGE_SHAPE, name="images"), _label_input(num_classes)
    x = images
    for index, count in enumerate(filters):
        # (batch, 14, 14, filters[0]) then (batch, 7, 7, filters[1]) with "same" padding
        x = keras.layers.Conv2D(count, 3, strides=2, padding=padding, activation="relu",
                                name=f"conv_{index + 1}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    inputs = [images, labels] if labels is not None else images
    return keras.Model(inputs, _gaussian_head(x, latent_dim), name=name)


def build_conv_decoder(latent_dim, filters=(64, 32), num_classes=None, *, projection_filters=None,
                       name="decoder"):
    """Builds a transposed-convolution decoder returning Bernoulli logits.

    Args:
        latent_dim: size of z (> 0).
        filters: channels of the two stride-2 transposed convolutions (7 -> 14 -> 28).
        num_classes: None, or the number of labels (one-hot input joined to z).
        projection_filters: channels of the first 7x7 map (default: filters[0]).
        name: model name.

    Returns:
        keras.Model: latents (batch, latent_dim) [, labels] -> logits (batch, 28, 28, 1).
    """
    latent_dim = check_latent_dim(latent_dim)
    num_classes = _check_num_classes(num_classes)
    if len(filters) != 2:
        raise ValueError(f"Expected two filter counts (7 -> 14 -> 28). Received: filters={filters!r}")
    projection_filters = projection_filters or filters[0]
    latents, labels = keras.Input(shape=(latent_dim,), name="latents"), _label_input(num_classes)
    x = latents
    if labels is not None:
        x = keras.layers.Concatenate(name="with_labels")([x, labels])
    x = keras.layers.Dense(7 * 7 * projection_filters, activation="relu", name="dense")(x)
    x = keras.layers.Reshape((7, 7, projection_filters), name="reshape")(x)  # (batch, 7, 7, P)
    for index, count in enumerate(filters):
        # (batch, 14, 14, filters[0]) then (batch, 28, 28, filters[1])
        x = keras.layers.Conv2DTranspose(count, 3, strides=2, padding="same", activation="relu",
                                         name=f"deconv_{index + 1}")(x)
    logits = keras.layers.Conv2DTranspose(1, 3, padding="same", name="logits")(x)  # (batch, 28, 28, 1)
    inputs = [latents, labels] if labels is not None else latents
    return keras.Model(inputs, logits, name=name)


@keras.saving.register_keras_serializable(package="course")
class Sampling(keras.layers.Layer):
    """The reparameterisation trick: z = mean + exp(log_var / 2) * epsilon.

    epsilon ~ N(0, I) is either passed in (`noise=`, as the training step does,
    from stateless seeds, and as a test does to fix it) or drawn from the layer's
    own seed generator. Gradients flow to mean and log_var because epsilon does
    not depend on them.

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
        reconstruction_loss = mean_batch( -log p(x | z) )     # z ~ q(z|x), one sample
        kl_loss             = mean_batch( KL(q(z|x) || N(0, I)) )
        loss                = reconstruction_loss + beta * kl_loss   # nats per image

    With beta = 1, `loss` is the negative ELBO, an upper bound on -log p(x).

    Args:
        images: (batch, 28, 28, 1) binary targets.
        logits: (batch, 28, 28, 1) decoder logits for one z per image.
        mean, log_var: (batch, latent_dim) posterior parameters.
        beta: weight of the KL term, >= 0 (a number or a scalar tensor).

    Returns:
        dict of float32 scalars: "loss", "reconstruction_loss", "kl_loss".

    Raises:
        ValueError: if beta < 0 (or not a number), or images are invalid.
    """
    _check_beta(beta)
    reconstruction = -tf.reduce_mean(bernoulli_log_likelihood(images, logits))
    kl = tf.reduce_mean(gaussian_kl(mean, log_var))
    return {"loss": reconstruction + tf.cast(beta, tf.float32) * kl,
            "reconstruction_loss": reconstruction, "kl_loss": kl}


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


def iwae_bound(model, images, *, k, labels=None, seed=0, noise=None, max_decoded=4096, callback=None):
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
        seed: int; chunk c of the noise is drawn with `stateless_seed(seed, "iwae_noise", c)`.
        noise: optional (k, batch, latent_dim) epsilons to use instead (for tests).
        max_decoded: images decoded per chunk.
        callback: optional `callback(count)`, called after each chunk with the
            number of (image, sample) pairs it decoded (for a progress bar).

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

    def repeat(tensor, count):  # (batch, ...) -> (count * batch, ...), sample-major
        return tf.reshape(tf.broadcast_to(tensor[None], (count, *tensor.shape)), (count * batch, *tensor.shape[1:]))

    log_weights = []  # list of (samples_in_chunk, batch)
    for chunk, start in enumerate(range(0, k, per_chunk)):
        count = min(per_chunk, k - start)
        if noise is None:
            epsilon = tf.random.stateless_normal((count, batch, latent_dim),
                                                 seed=stateless_seed(seed, "iwae_noise", chunk), alg="philox")
        else:
            epsilon = noise[start:start + count]
        latents = mean[None] + tf.exp(0.5 * log_var)[None] * epsilon  # (count, batch, latent_dim)
        flat_latents = tf.reshape(latents, (count * batch, latent_dim))
        if labels is None:
            logits = model.decode(flat_latents)
        else:
            logits = model.decode(flat_latents, tf.reshape(repeat(tf.convert_to_tensor(labels), count), (-1,)))
        log_w = log_importance_weights(repeat(images, count), logits, flat_latents, repeat(mean, count),
                                       repeat(log_var, count))
        log_weights.append(tf.reshape(log_w, (count, batch)))
        if callback is not None:
            callback(count * batch)
    log_weights = tf.cast(tf.concat(log_weights, axis=0), tf.float64)  # (k, batch)
    return (tf.reduce_logsumexp(log_weights, axis=0) - math.log(k)).numpy()


# ----------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="course")
class VAE(keras.Model):
    """A (beta-, conditional) VAE with Bernoulli pixels and one training step.

    The model is handed its encoder and decoder (see the builders, or `make_vae`);
    `latent_dim` and `num_classes` are read from them (an encoder with a second,
    one-hot `labels` input makes a conditional VAE).

    `train_step` draws two things per step, each from its own stateless seed
    (`stateless_seed(seed, purpose, optimizer.iterations)`): a fresh binarisation
    of the batch (dynamic binarisation) and the epsilons of the
    reparameterisation. So a resumed run repeats an uninterrupted one exactly, and
    no two draws share a seed. The noise for the whole global batch is drawn and
    each replica takes its slice, so a step under `tf.distribute.MirroredStrategy`
    equals the same step on one device. (XLA has its own generator for stateless
    random numbers: a `jit_compile=True` step draws different, equally valid
    noise, so resume with the same setting.)

    Args:
        encoder: keras.Model images [, one-hot labels] -> [z_mean, z_log_var].
        decoder: keras.Model latents [, one-hot labels] -> logits (batch, 28, 28, 1).
        beta: KL weight (1 = the ELBO).
        kl_warmup_steps: if > 0, the KL weight rises linearly from 0 to beta over
            this many steps (a "KL warm-up"), then stays at beta.
        dynamic_binarization: if True, train on Bernoulli samples of the images;
            if False, use the given values as targets.
        seed: int seed of the training randomness.

    Raises:
        ValueError: on beta < 0, kl_warmup_steps < 0 or mismatched networks.
    """

    def __init__(self, encoder, decoder, *, beta=1.0, kl_warmup_steps=0, dynamic_binarization=True, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        _check_beta(beta)
        if isinstance(kl_warmup_steps, bool) or not isinstance(kl_warmup_steps, (int, np.integer)) \
                or kl_warmup_steps < 0:
            raise ValueError(f"Expected kl_warmup_steps >= 0 (an int). Received: kl_warmup_steps={kl_warmup_steps!r}")
        latent_dim = int(encoder.outputs[0].shape[-1])
        decoder_latent = int(decoder.inputs[0].shape[-1])
        if decoder_latent != latent_dim:
            raise ValueError(
                f"Expected a decoder taking latents of the encoder's size {latent_dim}. Received: {decoder_latent}")
        classes = [int(network.inputs[1].shape[-1]) if len(network.inputs) == 2 else None
                   for network in (encoder, decoder)]
        if classes[0] != classes[1]:
            raise ValueError(
                "Expected an encoder and a decoder that both take labels (of the same size) or neither. "
                f"Received: encoder labels {classes[0]}, decoder labels {classes[1]}")
        self.encoder = encoder
        self.decoder = decoder
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.dynamic_binarization = bool(dynamic_binarization)
        self.seed = int(seed)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "reconstruction_loss", "kl_loss")}
        self.built = True  # encoder and decoder are built functional models

    @property
    def latent_dim(self):
        """Size of z, read from the encoder."""
        return int(self.encoder.outputs[0].shape[-1])

    @property
    def num_classes(self):
        """None for an unconditional VAE, else the size of the encoder's label input."""
        return int(self.encoder.inputs[1].shape[-1]) if len(self.encoder.inputs) == 2 else None

    @property
    def metrics(self):
        return list(self.trackers.values())

    # -- labels -------------------------------------------------------------
    def _one_hot(self, labels, batch):
        """Checks labels and returns them one-hot (batch, num_classes), or None."""
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("Expected no labels for an unconditional VAE (num_classes=None). Received labels.")
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

    def generate(self, n, *, labels=None, seed=0):
        """Draws z ~ N(0, I) and returns the mean images sigmoid(decode(z)).

        Args:
            n: how many images (> 0).
            labels: (n,) integer labels in [0, num_classes): required by a
                conditional VAE, refused by an unconditional one.
            seed: seed of the latents (the same seed gives the same images).

        Returns:
            float32 NumPy array (n, 28, 28, 1) in [0, 1].

        Raises:
            ValueError: for a bad count or labels.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
            raise ValueError(f"Expected a positive number of images. Received: n={n!r}")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (n,):
                raise ValueError(f"Expected labels of shape ({n},). Received: labels.shape={labels.shape}")
        elif self.num_classes is not None:
            self._one_hot(None, n)  # raises the conditional model's message
        latents = tf.random.stateless_normal((int(n), self.latent_dim), seed=stateless_seed(seed, "prior", 0),
                                             alg="philox")
        chunks = []
        for start in range(0, n, 500):  # direct calls in chunks: no retracing, bounded memory
            chunk_labels = None if labels is None else labels[start:start + 500]
            chunks.append(tf.sigmoid(self.decode(latents[start:start + 500], chunk_labels)).numpy())
        return np.concatenate(chunks).astype(np.float32)

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
            labels = data[1] if len(data) > 1 and self.num_classes is not None else None
        else:
            images, labels = data, None
        check_images(images)
        return tf.cast(images, tf.float32), labels

    def _draw(self, sampler, shape, purpose):
        """Draws this replica's slice of one global batch of random numbers for `purpose`.

        Every replica draws the whole global batch (noise is cheap) from the same
        stateless seed and keeps its own rows (the strategy splits a batch into
        contiguous slices in replica order), so each example's randomness does not
        depend on how many devices share the batch.
        """
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica = tf.cast(context.replica_id_in_sync_group if context is not None else 0, tf.int32)
        local = shape[0]
        global_shape = tf.concat([[local * replicas], shape[1:]], axis=0)
        seed = stateless_seed(self.seed, purpose, self.optimizer.iterations)
        values = sampler(global_shape, seed=seed, alg="philox")
        return values[replica * local:(replica + 1) * local]

    def _kl_weight(self):
        """beta, or during a KL warm-up beta * (step + 1) / kl_warmup_steps."""
        if not self.kl_warmup_steps:
            return tf.constant(self.beta, tf.float32)
        step = tf.cast(self.optimizer.iterations, tf.float32)
        return self.beta * tf.minimum(1.0, (step + 1.0) / float(self.kl_warmup_steps))

    def _terms(self, images, labels, *, binarize_images, noise_purpose, beta):
        """Forward pass on one batch; returns negative_elbo's dict."""
        if binarize_images:
            uniform = self._draw(tf.random.stateless_uniform, tf.shape(images), "binarization")
            images = tf.cast(uniform < images, tf.float32)
        one_hot = self._one_hot(labels, None)
        encoder_inputs = [images, one_hot] if one_hot is not None else images
        mean, log_var = self.encoder(encoder_inputs, training=True)  # (batch, latent_dim) x2
        epsilon = self._draw(tf.random.stateless_normal, tf.shape(mean), noise_purpose)
        latents = self.sampling([mean, log_var], noise=epsilon)
        logits = self.decoder([latents, one_hot] if one_hot is not None else latents, training=True)
        return negative_elbo(images, logits, mean, log_var, beta=beta)

    def _track(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        """One optimiser step on a batch; returns the running means of
        "loss", "reconstruction_loss" and "kl_loss" (nats per image)."""
        images, labels = self._unpack(data)
        with tf.GradientTape() as tape:
            terms = self._terms(images, labels, binarize_images=self.dynamic_binarization,
                                noise_purpose="latent_noise", beta=self._kl_weight())
            # The optimizer sums gradients over replicas: divide so the sum is the mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(terms["loss"] / replicas)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._track(terms)

    def test_step(self, data):
        """Negative ELBO terms on a batch taken as given (binarise held-out data once beforehand)."""
        images, labels = self._unpack(data)
        return self._track(self._terms(images, labels, binarize_images=False, noise_purpose="test_noise",
                                       beta=self.beta))

    # -- serialisation --------------------------------------------------------
    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self.beta,
            "kl_warmup_steps": self.kl_warmup_steps,
            "dynamic_binarization": self.dynamic_binarization,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def _settings(preset, overrides):
    """PRESETS[preset] with `overrides`; raises ValueError on an unknown preset or key."""
    if preset not in PRESETS:
        raise ValueError(f"Expected a preset in {sorted(PRESETS)}. Received: preset={preset!r}")
    unknown = sorted(set(overrides) - set(PRESETS[preset]))
    if unknown:
        raise ValueError(f"Expected settings among {sorted(PRESETS[preset])}. Received: {unknown}")
    return {**PRESETS[preset], **overrides}


def make_vae(preset="vae", *, seed=0, dynamic_binarization=True, **settings):
    """Builds the `VAE` of a preset; keyword settings override the preset's.

    Only the model's settings are used (`MODEL_SETTINGS`); the training ones
    (batch_size, learning_rate, ...) are accepted so a whole settings dict can be
    passed, and are for `make_optimizer` and the training loop.

        model = vae.make_vae()                                  # the course's VAE
        model = vae.make_vae("vae", latent_dim=2, architecture="mlp")
        model = vae.make_vae("cvae")                            # conditional

    Args:
        preset: a key of `PRESETS`.
        seed: seed of the initial weights (through `keras.utils.set_random_seed`,
            which also reseeds Python's and NumPy's global generators) and of the
            training randomness.
        dynamic_binarization: see `VAE`.
        **settings: keys of `PRESETS[preset]` (latent_dim, architecture, beta, ...).

    Returns:
        An uncompiled `VAE`.

    Raises:
        ValueError: on an unknown preset, setting or architecture, latent_dim <= 0 or beta < 0.
    """
    settings = _settings(preset, settings)
    latent_dim = check_latent_dim(settings["latent_dim"])
    num_classes = _check_num_classes(settings["num_classes"])
    _check_beta(settings["beta"])
    architecture = settings["architecture"]
    keras.utils.set_random_seed(seed)  # reproducible initial weights
    if architecture == "mlp":
        hidden_units = tuple(settings["hidden_units"])
        encoder = build_mlp_encoder(latent_dim, hidden_units, num_classes)
        decoder = build_mlp_decoder(latent_dim, tuple(reversed(hidden_units)), num_classes)
    elif architecture == "conv":
        filters = tuple(settings["filters"])
        encoder = build_conv_encoder(latent_dim, filters, settings["dense_units"], num_classes)
        decoder = build_conv_decoder(latent_dim, tuple(reversed(filters)), num_classes)
    elif architecture == "tf_docs":
        filters = tuple(settings["filters"])
        encoder = build_conv_encoder(latent_dim, filters, settings["dense_units"], num_classes, padding="valid")
        decoder = build_conv_decoder(latent_dim, tuple(reversed(filters)), num_classes,
                                     projection_filters=filters[0])
    else:
        raise ValueError(f"Expected architecture in {ARCHITECTURES}. Received: architecture={architecture!r}")
    return VAE(encoder, decoder, beta=settings["beta"], kl_warmup_steps=settings["kl_warmup_steps"],
               dynamic_binarization=dynamic_binarization, seed=seed, name="vae")


@keras.saving.register_keras_serializable(package="course")
class LinearEndDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate that falls linearly to 0 over the last `end_fraction` of the steps.

    A short run (one that stops long before the model converges) keeps learning
    at full speed for most of its steps and still ends on small, averaging steps
    (the "stable, then decay" schedule of Hu et al. 2024, MiniCPM,
    https://arxiv.org/abs/2404.06395). A cosine decay slows down from the start.

    Formula:
        rate(step) = initial_learning_rate * clip((1 - step / total_steps) / end_fraction, 0, 1)

    Args:
        initial_learning_rate: the constant rate (> 0).
        total_steps: the run's length in steps (> 0).
        end_fraction: the share of the run over which the rate falls, in (0, 1].
    """

    def __init__(self, initial_learning_rate, total_steps, end_fraction=0.2):
        if not 0 < end_fraction <= 1:
            raise ValueError(f"Expected end_fraction in (0, 1]. Received: end_fraction={end_fraction!r}")
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = int(total_steps)
        self.end_fraction = float(end_fraction)

    def __call__(self, step):
        progress = tf.cast(step, tf.float32) / float(self.total_steps)
        return self.initial_learning_rate * tf.clip_by_value((1.0 - progress) / self.end_fraction, 0.0, 1.0)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "total_steps": self.total_steps,
                "end_fraction": self.end_fraction}


def make_optimizer(preset="vae", *, total_steps=None, **settings):
    """Adam with the preset's learning rate and decay (keyword settings override the preset's).

    Args:
        preset: a key of `PRESETS`.
        total_steps: the run's number of steps; needed by the decays, which
            lower the rate to 0 by the last step ("linear_end": over the last
            fifth of them, `LinearEndDecay`; "cosine": over all of them).
        **settings: keys of `PRESETS[preset]` (learning_rate, learning_rate_decay, ...).

    Returns:
        A `keras.optimizers.Adam`.

    Raises:
        ValueError: on a non-positive rate, an unknown decay, or a decay without total_steps.
    """
    settings = _settings(preset, settings)
    rate, decay = settings["learning_rate"], settings["learning_rate_decay"]
    if not (isinstance(rate, (int, float)) and rate > 0):
        raise ValueError(f"Expected learning_rate > 0. Received: learning_rate={rate!r}")
    if decay not in LEARNING_RATE_DECAYS:
        raise ValueError(f"Expected learning_rate_decay in {LEARNING_RATE_DECAYS}. Received: {decay!r}")
    if decay != "constant":
        if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) or total_steps <= 0:
            raise ValueError(f"Expected total_steps > 0 for the {decay} decay. Received: total_steps={total_steps!r}")
        if decay == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, int(total_steps), alpha=0.0)
        else:
            rate = LinearEndDecay(rate, int(total_steps))
    return keras.optimizers.Adam(rate)


# ----------------------------------------------------------------------------
# Held-out measures in nats
# ----------------------------------------------------------------------------
def negative_elbo_per_image(model, images, labels=None, *, seed=0, batch_size=500):
    """Single-sample negative ELBO (analytic KL, beta = 1) per image, with its two terms, in nats.

    Args:
        model: a `VAE`.
        images: (M, 28, 28, 1) binary images (see `binarize_held_out`).
        labels: (M,) int labels for a conditional model, else None.
        seed: seed of the posterior samples.
        batch_size: images per forward pass.

    Returns:
        dict of (M,) float NumPy arrays: "loss" (the negative ELBO),
        "reconstruction_loss", "kl_loss".
    """
    parts = {"loss": [], "reconstruction_loss": [], "kl_loss": []}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        batch_labels = None if labels is None else labels[start:start + batch_size]
        mean, log_var = model.encode(batch, batch_labels)
        noise = tf.random.stateless_normal(tf.shape(mean), seed=stateless_seed(seed, "elbo_noise", start),
                                           alg="philox")
        logits = model.decode(mean + tf.exp(0.5 * log_var) * noise, batch_labels)
        reconstruction = -bernoulli_log_likelihood(batch, logits).numpy()
        kl = gaussian_kl(mean, log_var).numpy()
        parts["reconstruction_loss"].append(reconstruction)
        parts["kl_loss"].append(kl)
        parts["loss"].append(reconstruction + kl)
    return {name: np.concatenate(values) for name, values in parts.items()}


def held_out_nats(model, images, labels=None, *, k=EVALUATION_K, seed=0, batch_size=250, callback=None):
    """The negative ELBO and the importance-weighted -log p(x) of held-out images, in nats per image.

    This is how papers report a VAE (Burda et al. 2015: k = 5,000 on the test
    images binarised once); `python -m lib evaluate` prints it.

    Args:
        model: a `VAE`.
        images: (M, 28, 28, 1) binary images (see `binarize_held_out`).
        labels: (M,) int labels for a conditional model, else None.
        k: importance samples per image.
        seed: seed of the posterior samples.
        batch_size: images per IWAE batch.
        callback: optional `callback(count)` after each chunk of (image, sample) pairs decoded
            (k * M in all), for a progress bar.

    Returns:
        dict: "negative_elbo_nats", "reconstruction_nats", "kl_nats", "nll_nats" (-L_k), "k", "images".
    """
    terms = negative_elbo_per_image(model, images, labels, seed=seed)
    log_likelihood = []
    for start in range(0, len(images), batch_size):
        batch_labels = None if labels is None else labels[start:start + batch_size]
        log_likelihood.append(iwae_bound(model, images[start:start + batch_size], k=k, labels=batch_labels,
                                         seed=seed * 1_000_003 + start, max_decoded=8192, callback=callback))
    return {
        "negative_elbo_nats": float(terms["loss"].mean()),
        "reconstruction_nats": float(terms["reconstruction_loss"].mean()),
        "kl_nats": float(terms["kl_loss"].mean()),
        "nll_nats": float(-np.concatenate(log_likelihood).mean()),
        "k": int(k),
        "images": int(len(images)),
    }
