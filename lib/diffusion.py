"""Denoising diffusion models for 28x28 images: DDPM training, DDPM and DDIM sampling.

This one file is the whole definition of the course's diffusion models; it
needs only TensorFlow, Keras and NumPy, so it can be copied into another
project alone.

Papers:
- Ho, Jain and Abbeel 2020, "Denoising Diffusion Probabilistic Models",
  https://arxiv.org/abs/2006.11239 (the forward process, the noise-prediction
  loss as a reweighted ELBO, ancestral sampling, the linear schedule).
- Song, Meng and Ermon 2021, "Denoising Diffusion Implicit Models",
  https://arxiv.org/abs/2010.02502 (DDIM: the same trained network, a
  non-Markovian sampler that skips steps; eta = 0 is deterministic).
- Nichol and Dhariwal 2021, "Improved Denoising Diffusion Probabilistic
  Models", https://arxiv.org/abs/2102.09672 (the cosine schedule).
- Ho and Salimans 2022, "Classifier-Free Diffusion Guidance",
  https://arxiv.org/abs/2207.12598 (one network, the label dropped at random
  in training; sampling mixes the conditional and unconditional predictions).
- Salimans and Ho 2022, "Progressive Distillation for Fast Sampling of
  Diffusion Models", https://arxiv.org/abs/2202.00512 (v-prediction).

The forward process adds Gaussian noise in T steps with variances beta_t; its
closed form, with alpha_bar_t = prod_{s <= t} (1 - beta_s), is

    q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I)
    x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps,   eps ~ N(0, I).

A network f(x_t, t [, y]) is trained to undo it. Ho et al. predict the noise,

    L_simple = E_{x_0, t, eps} ||eps - eps_theta(x_t, t)||^2,

which is the ELBO's sum of KL terms with each step's weight
beta_t^2 / (2 sigma_t^2 alpha_t (1 - alpha_bar_t)) replaced by 1. The same
network may predict v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0
("v") or x_0 itself ("x0"); all three give x_0 and eps (`split_prediction`).

Sampling starts from x_T ~ N(0, I) and steps down a decreasing sequence of
timesteps t > s: DDPM draws from the posterior q(x_s | x_t, x_0 = x0_hat)
(`posterior_mean_variance`); DDIM (`ddim_step`) moves deterministically for
eta = 0. With classifier-free guidance the prediction is

    eps_hat = eps_theta(x_t, t, null) + w (eps_theta(x_t, t, y) - eps_theta(x_t, t, null)),

so w = 1 is the plain conditional model and w > 1 trades variety for
fidelity to the label.

Timesteps are indices 0..T-1; timestep t has noise level alpha_bar[t], and
"before the first step" (the clean image) has alpha_bar = 1.
Images are (batch, 28, 28, 1) in [-1, 1] inside the model; `generate`
returns NumPy float32 in [0, 1].

Public names:
- settings: `PRESETS`, `SCHEDULES`, `PARAMETERIZATIONS`, `SAMPLERS`, `SEED_PURPOSES`
- schedules: `make_betas`, `alpha_bars`
- the process: `q_sample`, `split_prediction`, `posterior_mean_variance`,
  `ddim_step`, `sampling_timesteps`
- the loss: `diffusion_loss`
- networks: `build_unet`, `TimestepEmbedding`, `SpaceToDepth`, `DepthToSpace`
- the composite model: `DiffusionModel` (its `train_step` is the one training
  step; `generate`, `sample_chain`, `guided_prediction`, `add_noise`,
  `export_for_sampling`), `make_diffusion`, `WarmUp` (the learning rate)
- randomness and input checks: `stateless_seed`, `validate_images`, `validate_labels`
"""

import math

import keras
import numpy as np
import tensorflow as tf

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        "lib/diffusion.py needs Keras' TensorFlow backend (it uses tf.function, tf.distribute and "
        f"stateless random ops). Received: KERAS_BACKEND={keras.backend.backend()!r}; "
        "set KERAS_BACKEND=tensorflow."
    )

# Architectures and training settings by name. "course" is the default, sized
# for a 2-core CPU, where sampling calls the network 50 times per digit: no
# convolution at full resolution (the 28x28 image is folded into 14x14x4 and
# back), widths 32 and 64, one residual block per level, attention only at 7x7
# (about 29 million multiply-adds per image, 0.8M weights); v-prediction on the
# cosine schedule; an EMA of the weights for sampling. Widths (64, 128) sample
# about 2.5x slower for little gain in a 600 s budget; see
# benchmarks/diffusion_quality_budget.py and bench_diffusion.py.
# "tiny" is for tests.
PRESETS = {
    "course": {
        "widths": [32, 64],
        "blocks_per_level": 1,
        "attention": True,
        "embedding_dim": 128,
        "groups": 8,
        "schedule": "cosine",
        "timesteps": 1000,
        "parameterization": "v",
        "batch_size": 64,
        "learning_rate": 2e-3,
        "warmup_steps": 200,
        "ema_decay": 0.999,
        "label_dropout": 0.1,
        "sampling_steps": 50,
        "guidance": 2.0,
        "epochs": 40,
    },
    "tiny": {
        "widths": [8],
        "blocks_per_level": 1,
        "attention": False,
        "embedding_dim": 16,
        "groups": 4,
        "schedule": "cosine",
        "timesteps": 100,
        "parameterization": "v",
        "batch_size": 8,
        "learning_rate": 1e-3,
        "warmup_steps": 10,
        "ema_decay": 0.99,
        "label_dropout": 0.1,
        "sampling_steps": 5,
        "guidance": 2.0,
        "epochs": 1,
    },
}

SCHEDULES = ("linear", "cosine")
PARAMETERIZATIONS = ("epsilon", "v", "x0")
SAMPLERS = ("ddim", "ddpm")

DEFAULT_DDIM_STEPS = 50  # what `generate` uses when given no steps (DDPM's default is the full chain)

# Every random draw of a training step has its own purpose (see `stateless_seed`).
SEED_PURPOSES = {"timesteps": 1, "noise": 2, "label_dropout": 3, "initial_noise": 4, "sampling_noise": 5}


def _check_positive_int(name, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"Expected a positive integer {name}. Received: {name}={value!r}")
    return int(value)


def stateless_seed(seed, purpose, step, repeat=0):
    """A stateless-op seed folded from (seed, purpose, step, repeat).

    `step` is the optimizer's iteration count (restored by a checkpoint), so a
    resumed run draws what an uninterrupted run draws, and no two draws of a
    step, or of two steps, share a seed.

    Returns:
        An int64 tensor of shape (2,).
    """
    if purpose not in SEED_PURPOSES:
        raise ValueError(f"Expected a purpose in {sorted(SEED_PURPOSES)}. Received: purpose={purpose!r}")
    base = tf.constant([seed, 0], tf.int64)
    folded = tf.random.experimental.stateless_fold_in(base, SEED_PURPOSES[purpose])
    folded = tf.random.experimental.stateless_fold_in(folded, tf.cast(step, tf.int64))
    return tf.random.experimental.stateless_fold_in(folded, repeat)


# ----------------------------------------------------------------------------
# Noise schedules
# ----------------------------------------------------------------------------


def make_betas(schedule="cosine", timesteps=1000, *, beta_start=1e-4, beta_end=0.02, offset=0.008, max_beta=0.999):
    """The forward process' variances beta_0 ... beta_{T-1} (float64 NumPy).

    Formula:
        linear (Ho et al.):  beta_t = beta_start + (beta_end - beta_start) t / (T - 1)
        cosine (Nichol & Dhariwal):
            f(u) = cos^2((u / T + s) / (1 + s) * pi / 2),  s = offset
            alpha_bar_t = f(t + 1) / f(0),   beta_t = min(1 - alpha_bar_t / alpha_bar_{t-1}, max_beta)

    Ho et al. chose beta_start = 1e-4 and beta_end = 0.02 for T = 1000. The
    cosine schedule destroys information more slowly at the start and the
    end; beta is clipped at 0.999 so that the last step stays finite.

    Args:
        schedule: "linear" or "cosine".
        timesteps: T, a positive integer.
        beta_start, beta_end: the linear schedule's ends, 0 < start <= end < 1.
        offset: s of the cosine schedule (>= 0).
        max_beta: the cosine schedule's largest beta, in (0, 1).

    Returns:
        float64 array (T,), each value in (0, 1).

    Raises:
        ValueError: for an unknown schedule or values out of range.
    """
    timesteps = _check_positive_int("timesteps", timesteps)
    if schedule == "linear":
        if not 0.0 < beta_start <= beta_end < 1.0:
            raise ValueError(
                "Expected 0 < beta_start <= beta_end < 1. "
                f"Received: beta_start={beta_start}, beta_end={beta_end}"
            )
        return np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)
    if schedule == "cosine":
        if offset < 0 or not 0.0 < max_beta < 1.0:
            raise ValueError(f"Expected offset >= 0 and max_beta in (0, 1). Received: {offset}, {max_beta}")
        u = np.arange(timesteps + 1, dtype=np.float64)
        f = np.cos((u / timesteps + offset) / (1.0 + offset) * math.pi / 2.0) ** 2
        alpha_bar = f / f[0]  # (T + 1,), alpha_bar[0] = 1 is the clean image
        return np.clip(1.0 - alpha_bar[1:] / alpha_bar[:-1], 0.0, max_beta)
    raise ValueError(f"Expected a schedule in {SCHEDULES}. Received: schedule={schedule!r}")


def alpha_bars(betas):
    """alpha_bar_t = prod_{s <= t} (1 - beta_s): the share of signal variance left at step t.

    Args:
        betas: array (T,) in (0, 1).

    Returns:
        float64 array (T,), decreasing from 1 - beta_0 towards 0.
    """
    betas = np.asarray(betas, dtype=np.float64)
    return np.cumprod(1.0 - betas)


# ----------------------------------------------------------------------------
# The forward process, the reverse steps and the loss (pure tensor functions)
# ----------------------------------------------------------------------------


def _per_example(values, like):
    """(batch,) values reshaped to (batch, 1, 1, 1) to scale images."""
    return tf.reshape(tf.cast(values, like.dtype), [-1, 1, 1, 1])


def q_sample(images, timesteps, noise, alpha_bar_table):
    """Noises clean images to step t in one go: a draw from q(x_t | x_0).

    Formula:
        x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps

    Args:
        images: x_0, (batch, h, w, c) in [-1, 1].
        timesteps: (batch,) integer steps in [0, T).
        noise: eps, the same shape as `images`, drawn from N(0, I).
        alpha_bar_table: (T,) the schedule's alpha_bar (see `alpha_bars`).

    Returns:
        x_t, a float32 tensor shaped like `images`.
    """
    images = tf.cast(images, tf.float32)
    alpha_bar = tf.gather(tf.cast(alpha_bar_table, tf.float32), tf.cast(timesteps, tf.int32))  # (batch,)
    alpha_bar = _per_example(alpha_bar, images)  # (batch, 1, 1, 1)
    return tf.sqrt(alpha_bar) * images + tf.sqrt(1.0 - alpha_bar) * tf.cast(noise, tf.float32)


def split_prediction(prediction, noisy_images, alpha_bar, parameterization="epsilon"):
    """Turns the network's output into the predicted clean image and noise.

    Formula (a = sqrt(alpha_bar), b = sqrt(1 - alpha_bar), x_t = a x_0 + b eps):
        epsilon: eps = prediction,            x_0 = (x_t - b eps) / a
        v:       v = a eps - b x_0 = prediction,
                 x_0 = a x_t - b v,           eps = b x_t + a v
        x0:      x_0 = prediction,            eps = (x_t - a x_0) / b

    Args:
        prediction: the network's output, (batch, h, w, c).
        noisy_images: x_t, the same shape.
        alpha_bar: (batch,) alpha_bar of each example's step.
        parameterization: "epsilon", "v" or "x0".

    Returns:
        (predicted_images, predicted_noise), float32 tensors like `prediction`.
    """
    prediction = tf.cast(prediction, tf.float32)
    noisy_images = tf.cast(noisy_images, tf.float32)
    alpha_bar = _per_example(alpha_bar, prediction)
    a, b = tf.sqrt(alpha_bar), tf.sqrt(1.0 - alpha_bar)
    if parameterization == "epsilon":
        return (noisy_images - b * prediction) / a, prediction
    if parameterization == "v":
        return a * noisy_images - b * prediction, b * noisy_images + a * prediction
    if parameterization == "x0":
        return prediction, (noisy_images - a * prediction) / b
    raise ValueError(f"Expected a parameterization in {PARAMETERIZATIONS}. Received: {parameterization!r}")


def diffusion_loss(prediction, images, noise, alpha_bar, parameterization="epsilon"):
    """The denoising loss of one batch, with the terms it is made of.

    Formula (x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps):
        epsilon: L = mean (eps_theta - eps)^2                        (Ho et al.'s L_simple)
        v:       L = mean (v_theta - v)^2,  v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x_0
        x0:      L = mean (x0_theta - x_0)^2
        noise_loss = mean (eps_hat - eps)^2,  image_loss = mean (x0_hat - x_0)^2
    with eps_hat and x0_hat from `split_prediction`; means over the batch and pixels.

    Args:
        prediction: the network's output, (batch, h, w, c).
        images: x_0, (batch, h, w, c) in [-1, 1].
        noise: eps, the noise that made x_t.
        alpha_bar: (batch,) alpha_bar of each example's step.
        parameterization: what the network predicts: "epsilon", "v" or "x0".

    Returns:
        {"loss": the minimised term, "noise_loss": ..., "image_loss": ...}, float32 scalars.
    """
    prediction = tf.cast(prediction, tf.float32)
    images = tf.cast(images, tf.float32)
    noise = tf.cast(noise, tf.float32)
    a = tf.sqrt(_per_example(alpha_bar, images))
    b = tf.sqrt(1.0 - _per_example(alpha_bar, images))
    targets = {"epsilon": noise, "v": a * noise - b * images, "x0": images}
    if parameterization not in targets:
        raise ValueError(f"Expected a parameterization in {PARAMETERIZATIONS}. Received: {parameterization!r}")
    noisy_images = a * images + b * noise
    predicted_images, predicted_noise = split_prediction(prediction, noisy_images, alpha_bar, parameterization)
    return {
        "loss": tf.reduce_mean(tf.square(prediction - targets[parameterization])),
        "noise_loss": tf.reduce_mean(tf.square(predicted_noise - noise)),
        "image_loss": tf.reduce_mean(tf.square(predicted_images - images)),
    }


def posterior_mean_variance(predicted_images, noisy_images, alpha_bar, alpha_bar_previous):
    """The DDPM posterior q(x_s | x_t, x_0) for a step from t down to s < t.

    For s = t - 1 this is Ho et al.'s equation (7); for a longer jump the same
    formula holds with the jump's own alpha = alpha_bar_t / alpha_bar_s.

    Formula (alpha = alpha_bar_t / alpha_bar_s, beta = 1 - alpha):
        mean     = sqrt(alpha_bar_s) beta / (1 - alpha_bar_t) x_0
                   + sqrt(alpha) (1 - alpha_bar_s) / (1 - alpha_bar_t) x_t
        variance = beta (1 - alpha_bar_s) / (1 - alpha_bar_t)

    Args:
        predicted_images: x_0 (or its prediction), (batch, h, w, c).
        noisy_images: x_t, the same shape.
        alpha_bar: alpha_bar_t, a scalar or (batch,).
        alpha_bar_previous: alpha_bar_s (1.0 for the clean image), a scalar or (batch,).

    Returns:
        (mean, variance): mean shaped like the images, variance (batch, 1, 1, 1) or scalar-shaped.
    """
    x0 = tf.cast(predicted_images, tf.float32)
    xt = tf.cast(noisy_images, tf.float32)
    alpha_bar = tf.cast(alpha_bar, tf.float32)
    alpha_bar_previous = tf.cast(alpha_bar_previous, tf.float32)
    if alpha_bar.shape.rank == 1:
        alpha_bar, alpha_bar_previous = _per_example(alpha_bar, x0), _per_example(alpha_bar_previous, x0)
    alpha = alpha_bar / alpha_bar_previous
    beta = 1.0 - alpha
    mean = (tf.sqrt(alpha_bar_previous) * beta * x0 + tf.sqrt(alpha) * (1.0 - alpha_bar_previous) * xt) / (
        1.0 - alpha_bar
    )
    variance = beta * (1.0 - alpha_bar_previous) / (1.0 - alpha_bar)
    return mean, variance


def ddim_step(predicted_images, predicted_noise, alpha_bar_previous, *, alpha_bar=None, eta=0.0, noise=None):
    """One DDIM update from step t to an earlier step s (Song et al., equation 12).

    Formula:
        sigma = eta sqrt((1 - alpha_bar_s) / (1 - alpha_bar_t)) sqrt(1 - alpha_bar_t / alpha_bar_s)
        x_s   = sqrt(alpha_bar_s) x0_hat + sqrt(1 - alpha_bar_s - sigma^2) eps_hat + sigma z

    With eta = 0 the step is deterministic: fed the true x_0 and noise it
    lands exactly on q_sample(x_0, s, eps), and at s = "clean" (alpha_bar_s =
    1) it returns x_0. With eta = 1 it is the DDPM posterior draw.

    Args:
        predicted_images: x0_hat, (batch, h, w, c).
        predicted_noise: eps_hat, the same shape.
        alpha_bar_previous: alpha_bar_s, a scalar.
        alpha_bar: alpha_bar_t (needed only when eta > 0).
        eta: 0 for DDIM, 1 for DDPM-like sampling.
        noise: z ~ N(0, I) like the images (needed only when eta > 0).

    Returns:
        x_s, a float32 tensor like the images.
    """
    x0 = tf.cast(predicted_images, tf.float32)
    eps = tf.cast(predicted_noise, tf.float32)
    alpha_bar_previous = tf.cast(alpha_bar_previous, tf.float32)
    eta = tf.cast(eta, tf.float32)
    if alpha_bar is None:
        sigma = tf.zeros_like(alpha_bar_previous)
    else:
        alpha_bar = tf.cast(alpha_bar, tf.float32)
        sigma = eta * tf.sqrt((1.0 - alpha_bar_previous) / (1.0 - alpha_bar)) * tf.sqrt(
            tf.maximum(1.0 - alpha_bar / alpha_bar_previous, 0.0)
        )
    direction = tf.sqrt(tf.maximum(1.0 - alpha_bar_previous - sigma**2, 0.0)) * eps
    x_previous = tf.sqrt(alpha_bar_previous) * x0 + direction
    if noise is not None:
        x_previous += sigma * tf.cast(noise, tf.float32)
    return x_previous


def sampling_timesteps(timesteps, steps):
    """The decreasing timesteps a sampler visits: `steps` of 0..T-1, evenly spread.

    Args:
        timesteps: T of the schedule.
        steps: how many network evaluations, 1 <= steps <= T.

    Returns:
        int array (steps,), from T - 1 down to 0.

    Raises:
        ValueError: for steps outside [1, T].
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= timesteps:
        raise ValueError(f"Expected steps, an integer in [1, {timesteps}]. Received: steps={steps!r}")
    return np.round(np.linspace(timesteps - 1, 0, int(steps))).astype(np.int64)


# ----------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------


def _check_guidance(guidance):
    if isinstance(guidance, bool) or not isinstance(guidance, (int, float, np.integer, np.floating)) \
            or not math.isfinite(guidance) or guidance < 0:
        raise ValueError(f"Expected a guidance scale >= 0 (1 is no guidance). Received: guidance={guidance!r}")


def validate_images(images, image_shape=None, value_range=(-1.0, 1.0)):
    """Raises ValueError unless `images` is (n, h, w, c) float in `value_range`."""
    array = np.asarray(images)
    if array.ndim != 4 or (image_shape is not None and tuple(array.shape[1:]) != tuple(image_shape)):
        expected = f"(n, {', '.join(map(str, image_shape))})" if image_shape is not None else "(n, h, w, c)"
        raise ValueError(f"Expected images of shape {expected}. Received: shape={array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"Expected float images in {list(value_range)}. Received: dtype={array.dtype}")
    low, high = value_range
    if array.size and (not np.isfinite(array).all() or array.min() < low - 1e-6 or array.max() > high + 1e-6):
        raise ValueError(
            f"Expected pixel values in [{low}, {high}] (scale [0, 1] images with 2 x - 1). "
            f"Received: min={float(np.nanmin(array)):.3g}, max={float(np.nanmax(array)):.3g}"
        )


def validate_labels(labels, num_classes, batch_size=None):
    """Raises ValueError unless `labels` are integers in [0, num_classes), shape (batch_size,)."""
    array = np.asarray(labels)
    if array.ndim != 1 or (batch_size is not None and len(array) != batch_size):
        expected = f"({batch_size},)" if batch_size is not None else "(batch,)"
        raise ValueError(f"Expected labels of shape {expected}. Received: shape={array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"Expected integer labels. Received: dtype={array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(
            f"Expected labels in [0, {num_classes - 1}]. Received: min={int(array.min())}, max={int(array.max())}"
        )


# ----------------------------------------------------------------------------
# The network: a small U-Net with a time (and label) embedding
# ----------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="course")
class TimestepEmbedding(keras.layers.Layer):
    """Sinusoidal features of integer timesteps (Vaswani et al.; Ho et al., appendix B).

    Formula:
        e(t) = [sin(t w_0), ..., sin(t w_{d/2-1}), cos(t w_0), ..., cos(t w_{d/2-1})],
        w_k = max_period^(-k / (d/2))

    Args:
        dim: the embedding size (even).
        max_period: the longest wavelength.

    Call:
        (batch,) timesteps -> (batch, dim) float32.
    """

    def __init__(self, dim, max_period=10000.0, **kwargs):
        super().__init__(**kwargs)
        dim = _check_positive_int("dim", dim)
        if dim % 2:
            raise ValueError(f"Expected an even embedding dim. Received: dim={dim}")
        self.dim = dim
        self.max_period = float(max_period)

    def call(self, timesteps):
        half = self.dim // 2
        frequencies = tf.exp(-math.log(self.max_period) * tf.range(half, dtype=tf.float32) / half)  # (d/2,)
        angles = tf.cast(tf.reshape(timesteps, [-1, 1]), tf.float32) * frequencies[None, :]  # (b, d/2)
        return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)  # (b, d)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "max_period": self.max_period}


@keras.saving.register_keras_serializable(package="course")
class SpaceToDepth(keras.layers.Layer):
    """Folds each block x block patch into channels: (b, h, w, c) -> (b, h/k, w/k, c k^2).

    Lossless and free: the U-Net then runs no convolution at full resolution.
    """

    def __init__(self, block_size=2, **kwargs):
        super().__init__(**kwargs)
        self.block_size = _check_positive_int("block_size", block_size)

    def call(self, images):
        return tf.nn.space_to_depth(images, self.block_size)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        k = self.block_size
        return (b, None if h is None else h // k, None if w is None else w // k, c * k * k)

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


@keras.saving.register_keras_serializable(package="course")
class DepthToSpace(keras.layers.Layer):
    """The inverse of `SpaceToDepth`: (b, h, w, c k^2) -> (b, h k, w k, c)."""

    def __init__(self, block_size=2, **kwargs):
        super().__init__(**kwargs)
        self.block_size = _check_positive_int("block_size", block_size)

    def call(self, features):
        return tf.nn.depth_to_space(features, self.block_size)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        k = self.block_size
        return (b, None if h is None else h * k, None if w is None else w * k, c // (k * k))

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


def _residual_block(x, embedding, filters, groups, name):
    """GroupNorm-swish-conv twice, the embedding added in between; a 1x1 skip if the width changes."""
    skip = x
    if x.shape[-1] != filters:
        skip = keras.layers.Conv2D(filters, 1, name=f"{name}_skip")(x)
    h = keras.layers.GroupNormalization(groups, name=f"{name}_norm1")(x)
    h = keras.layers.Activation("swish", name=f"{name}_act1")(h)
    h = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv1")(h)
    shift = keras.layers.Dense(filters, name=f"{name}_embedding")(embedding)  # (b, filters)
    shift = keras.layers.Reshape((1, 1, filters), name=f"{name}_embedding_map")(shift)
    h = keras.layers.Add(name=f"{name}_add_embedding")([h, shift])  # broadcast over h, w
    h = keras.layers.GroupNormalization(groups, name=f"{name}_norm2")(h)
    h = keras.layers.Activation("swish", name=f"{name}_act2")(h)
    h = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv2")(h)
    return keras.layers.Add(name=f"{name}_out")([skip, h])


def _attention_block(x, groups, name, heads=4):
    """Self-attention over the h x w positions, with a residual connection."""
    height, width, channels = x.shape[1:]
    h = keras.layers.GroupNormalization(groups, name=f"{name}_norm")(x)
    h = keras.layers.Reshape((height * width, channels), name=f"{name}_tokens")(h)  # (b, hw, c)
    h = keras.layers.MultiHeadAttention(heads, channels // heads, name=f"{name}_mha")(h, h)
    h = keras.layers.Reshape((height, width, channels), name=f"{name}_map")(h)
    return keras.layers.Add(name=f"{name}_out")([x, h])


def build_unet(
    *,
    image_shape=(28, 28, 1),
    widths=(64, 128),
    blocks_per_level=1,
    attention=True,
    embedding_dim=128,
    groups=8,
    num_classes=None,
    name="unet",
):
    """Builds the denoising U-Net: (x_t, t [, label]) -> the prediction (eps, v or x_0).

    Layout (widths (32, 64), one block per level, 28x28x1 images):
        x_t (28, 28, 1) -> SpaceToDepth -> (14, 14, 4) -> conv -> (14, 14, 32)
        down: a residual block at 14x14 (32, kept as a skip), stride-2 conv to
              (7, 7, 64), a block at 7x7 (64, kept as a skip)
        middle: a block, then self-attention over the 49 positions (if `attention`)
        up: a block on [x, skip] at 7x7, upsample and conv to (14, 14, 32),
            a block on [x, skip] at 14x14
        -> GroupNorm, swish, conv to (14, 14, 4) -> DepthToSpace -> (28, 28, 1)
    Nothing runs at full resolution; the last conv starts at zero, so the
    untrained network predicts 0 (for v: "x_t is half signal, half noise").
    The timestep's sinusoidal embedding (plus a learned label embedding for
    a conditional network) goes through a two-layer MLP and is added inside
    every residual block. A conditional network has num_classes + 1 label
    embeddings: the last one, `num_classes`, means "no label" (classifier-free
    guidance drops labels to it in training).

    Args:
        image_shape: (height, width, channels), height and width divisible by
            2 ** len(widths).
        widths: channels at each resolution, from h/2 down.
        blocks_per_level: residual blocks per level, on the way down and up.
        attention: self-attention in the middle (lowest resolution).
        embedding_dim: size of the time (and label) embedding; even.
        groups: GroupNormalization groups; must divide every width.
        num_classes: if set, the network takes `[x_t, t, labels]`.
        name: model name.

    Returns:
        A functional `keras.Model`: [(b, h, w, c) float32, (b,) int32 [, (b,) int32]]
        -> (b, h, w, c) float32.

    Raises:
        ValueError: for sizes that do not fit together.
    """
    image_shape = tuple(int(size) for size in image_shape)
    widths = [int(width) for width in widths]
    factor = 2 ** len(widths)
    if len(image_shape) != 3 or image_shape[0] % factor or image_shape[1] % factor or image_shape[2] <= 0:
        raise ValueError(
            f"Expected image_shape=(height, width, channels) with height and width divisible by {factor} "
            f"(2 ** len(widths)). Received: image_shape={image_shape}, widths={widths}"
        )
    if not widths or any(width <= 0 or width % groups for width in widths):
        raise ValueError(
            f"Expected positive widths divisible by groups={groups}. Received: widths={widths}"
        )
    _check_positive_int("blocks_per_level", blocks_per_level)
    _check_positive_int("embedding_dim", embedding_dim)
    if embedding_dim % 2:
        raise ValueError(f"Expected an even embedding_dim. Received: embedding_dim={embedding_dim}")
    height, width, channels = image_shape

    noisy_images = keras.Input(shape=image_shape, name="noisy_images")
    timesteps = keras.Input(shape=(), dtype="int32", name="timesteps")
    inputs = [noisy_images, timesteps]
    embedding = TimestepEmbedding(embedding_dim, name="time_features")(timesteps)  # (b, d)
    if num_classes is not None:
        _check_positive_int("num_classes", num_classes)
        labels = keras.Input(shape=(), dtype="int32", name="labels")
        inputs.append(labels)
        label_embedding = keras.layers.Embedding(num_classes + 1, embedding_dim, name="label_embedding")(labels)
        embedding = keras.layers.Add(name="time_and_label")([embedding, label_embedding])
    embedding = keras.layers.Dense(4 * embedding_dim, activation="swish", name="embedding_mlp1")(embedding)
    embedding = keras.layers.Dense(4 * embedding_dim, name="embedding_mlp2")(embedding)  # (b, 4d)

    x = SpaceToDepth(2, name="fold")(noisy_images)  # (b, h/2, w/2, 4c)
    x = keras.layers.Conv2D(widths[0], 3, padding="same", name="stem")(x)  # (b, 14, 14, w0)
    skips = []
    for level, level_width in enumerate(widths):
        for block in range(blocks_per_level):
            x = _residual_block(x, embedding, level_width, groups, f"down{level}_{block}")
            skips.append(x)  # (b, 14, 14, w0), then (b, 7, 7, w1)
        if level < len(widths) - 1:
            x = keras.layers.Conv2D(widths[level + 1], 3, strides=2, padding="same", name=f"down{level}_resample")(x)
    x = _residual_block(x, embedding, widths[-1], groups, "middle")
    if attention:
        x = _attention_block(x, groups, "middle_attention")
    for level in reversed(range(len(widths))):
        for block in range(blocks_per_level):
            x = keras.layers.Concatenate(name=f"up{level}_{block}_concat")([x, skips.pop()])
            x = _residual_block(x, embedding, widths[level], groups, f"up{level}_{block}")
        if level > 0:
            x = keras.layers.UpSampling2D(2, name=f"up{level}_upsample")(x)  # (b, 14, 14, w)
            x = keras.layers.Conv2D(widths[level - 1], 3, padding="same", name=f"up{level}_resample")(x)
    x = keras.layers.GroupNormalization(groups, name="head_norm")(x)
    x = keras.layers.Activation("swish", name="head_act")(x)
    x = keras.layers.Conv2D(4 * channels, 3, padding="same", kernel_initializer="zeros", name="head")(x)
    prediction = DepthToSpace(2, name="unfold", dtype="float32")(x)  # (b, h, w, c)
    return keras.Model(inputs, prediction, name=name)


# ----------------------------------------------------------------------------
# The composite model and its one training step
# ----------------------------------------------------------------------------


class _FunctionCache:
    """A plain holder for compiled functions: Keras saving and checkpoints do not look inside it."""

    def __init__(self):
        self.functions = {}


@keras.saving.register_keras_serializable(package="course")
class DiffusionModel(keras.Model):
    """A denoising network, its noise schedule, an EMA copy, and the samplers.

    `train_step` is the one training step of both diffusion models of the
    course: unconditional (`ddpm`) and class-conditional with classifier-free
    guidance (`ddpm-cond`, a network built with `num_classes`). `fit()` calls
    it, and so does `lib.training.train` (as a `tf.function`, optionally
    `jit_compile`d, under `tf.distribute`).

    Each step draws, for the global batch, a timestep per image, the noise,
    and (conditional) which labels to drop, each from its own stateless seed
    (`stateless_seed(seed, purpose, optimizer.iterations)`); a replica keeps
    its rows. After the update the EMA network moves towards the trained one,
    with decay min(ema_decay, (1 + step) / (10 + step)), so early samples are
    not dominated by the random start. Sampling uses the EMA network.

    Args:
        network: from `build_unet` (conditional when built with `num_classes`).
        ema_network: the EMA copy (same architecture); None makes one from
            `network` when `ema_decay` is set.
        schedule: "linear" or "cosine".
        timesteps: T.
        parameterization: what the network predicts: "epsilon", "v" or "x0".
        ema_decay: the EMA's decay, in [0, 1), or None for no EMA (sampling
            then uses `network`; this is how sampling-only files are shipped).
        label_dropout: the probability of training on "no label" (conditional only).
        guidance: the guidance scale `generate` uses when given none
            (conditional only; 1 is no guidance).
        seed: the seed of every draw in training.

    Call:
        `model([x_t, t])` or `model([x_t, t, labels])` returns the (EMA)
        network's prediction.
    """

    def __init__(
        self,
        network,
        ema_network=None,
        *,
        schedule="cosine",
        timesteps=1000,
        parameterization="v",
        ema_decay=0.999,
        label_dropout=0.1,
        guidance=1.0,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(f"Expected a parameterization in {PARAMETERIZATIONS}. Received: {parameterization!r}")
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"Expected ema_decay in [0, 1) or None. Received: ema_decay={ema_decay!r}")
        if not 0.0 <= label_dropout < 1.0:
            raise ValueError(f"Expected label_dropout in [0, 1). Received: label_dropout={label_dropout!r}")
        _check_guidance(guidance)
        self.betas = make_betas(schedule, timesteps)  # raises for an unknown schedule
        self.alpha_bar_table = alpha_bars(self.betas)  # (T,) float64
        self.network = network
        self.schedule = schedule
        self.timesteps = int(timesteps)
        self.parameterization = parameterization
        self.ema_decay = None if ema_decay is None else float(ema_decay)
        self.label_dropout = float(label_dropout)
        self.guidance = float(guidance)
        self.seed = int(seed)
        self.image_shape = tuple(network.inputs[0].shape[1:])
        self.num_classes = network.get_layer("label_embedding").input_dim - 1 if len(network.inputs) == 3 else None
        if self.ema_decay is not None and ema_network is None:
            ema_network = keras.models.clone_model(network)
            ema_network.set_weights(network.get_weights())
        if self.ema_decay is None and ema_network is not None:
            raise ValueError("Expected no ema_network when ema_decay is None. Received: an ema_network")
        if ema_network is not None:
            ema_network.trainable = False
        self.ema_network = ema_network
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "noise_loss", "image_loss")}
        self._sampling_cache = _FunctionCache()  # compiled sampling steps; not saved, not checkpointed
        self.built = True

    # -- Keras plumbing -------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "network": keras.saving.serialize_keras_object(self.network),
                "ema_network": None
                if self.ema_network is None
                else keras.saving.serialize_keras_object(self.ema_network),
                "schedule": self.schedule,
                "timesteps": self.timesteps,
                "parameterization": self.parameterization,
                "ema_decay": self.ema_decay,
                "label_dropout": self.label_dropout,
                "guidance": self.guidance,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        if config.get("ema_network") is not None:
            config["ema_network"] = keras.saving.deserialize_keras_object(config["ema_network"])
        return cls(**config)

    def compile(self, optimizer, **kwargs):
        """Takes the optimizer and builds it here, before any step (tf.distribute and checkpoints need it)."""
        super().compile(optimizer=optimizer, **kwargs)
        self.build_optimizers()

    def get_compile_config(self):
        if getattr(self, "optimizer", None) is None:
            return None
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer)}

    def compile_from_config(self, config):
        self.compile(keras.saving.deserialize_keras_object(config["optimizer"]))

    def build_optimizers(self):
        """Creates the optimizer's slot variables for the network."""
        if not self.optimizer.built:
            self.optimizer.build(self.network.trainable_variables)

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def sampling_network(self):
        """The network sampling uses: the EMA copy when there is one."""
        return self.ema_network if self.ema_network is not None else self.network

    def call(self, inputs, training=False):
        return self.sampling_network(inputs, training=training)

    def export_for_sampling(self):
        """A new model with only the sampling network (the EMA weights) and no optimizer.

        This is what the course ships: half the size, and it samples exactly
        as this model does.
        """
        source = self.sampling_network
        network = keras.models.clone_model(source)
        network.set_weights(source.get_weights())
        return DiffusionModel(network, None, schedule=self.schedule, timesteps=self.timesteps,
                              parameterization=self.parameterization, ema_decay=None,
                              label_dropout=self.label_dropout, guidance=self.guidance, seed=self.seed,
                              name=self.name)

    def add_noise(self, images, timesteps, *, seed=0):
        """x_t ~ q(x_t | x_0) for clean images at the given timesteps (to show the forward process).

        Args:
            images: (n, h, w, c) float in [-1, 1].
            timesteps: (n,) integers in [0, T).
            seed: seed of the noise.

        Returns:
            A NumPy float32 array like `images` (not clipped: x_t is not an image).

        Raises:
            ValueError: for images of the wrong shape or range, or bad timesteps.
        """
        validate_images(images, self.image_shape)
        steps = np.asarray(timesteps)
        if steps.shape != (len(images),) or not np.issubdtype(steps.dtype, np.integer) or \
                steps.min(initial=0) < 0 or steps.max(initial=0) >= self.timesteps:
            raise ValueError(f"Expected ({len(images)},) integer timesteps in [0, {self.timesteps - 1}]. "
                             f"Received: {steps.tolist()!r}")
        noise = tf.random.stateless_normal(np.shape(images), stateless_seed(seed, "noise", 0))
        return q_sample(images, steps, noise, self.alpha_bar_table).numpy()

    # -- The training step -----------------------------------------------------

    def _draw(self, sampler, batch_size, shape, purpose, **kwargs):
        """This replica's slice of one global batch of random numbers (see the class docstring)."""
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        replica_id = tf.cast(context.replica_id_in_sync_group if context else 0, tf.int32)
        seed = stateless_seed(self.seed, purpose, self.optimizer.iterations)
        values = sampler([batch_size * replicas, *shape], seed, **kwargs)
        return values[replica_id * batch_size : (replica_id + 1) * batch_size]

    def _update_ema(self):
        """ema <- decay ema + (1 - decay) weights, in cross-replica context (works under tf.distribute)."""
        step = tf.cast(self.optimizer.iterations, tf.float32)
        decay = tf.minimum(self.ema_decay, (1.0 + step) / (10.0 + step))
        pairs = [(ema.value, weight.value) for ema, weight in zip(self.ema_network.weights, self.network.weights)]

        def update(strategy):
            for ema, weight in pairs:
                strategy.extended.update(ema, lambda e, w: e.assign(decay * e + (1.0 - decay) * w), args=(weight,),
                                         group=False)

        context = tf.distribute.get_replica_context()
        if context is None:  # already in cross-replica context
            update(tf.distribute.get_strategy())
        else:
            context.merge_call(update)

    def train_step(self, data):
        """One denoising update: noise a batch to random steps, predict, descend, update the EMA.

        Args:
            data: clean images (batch, h, w, c) in [-1, 1], or (images, labels)
                for a conditional model.

        Returns:
            The running means: {"loss", "noise_loss", "image_loss"}.
        """
        if isinstance(data, (tuple, list)):
            images, labels = data[0], data[1]
        else:
            images, labels = data, None
        if (labels is None) != (self.num_classes is None):
            raise ValueError(
                "Expected (images, labels) batches for a conditional model and images alone otherwise. "
                f"Received: labels={'none' if labels is None else 'given'}, num_classes={self.num_classes}"
            )
        if images.shape.rank != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"Expected image batches of shape (batch, {self.image_shape}). "
                             f"Received: shape={tuple(images.shape)}")
        images = tf.cast(images, tf.float32)
        batch_size = tf.shape(images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        timesteps = self._draw(tf.random.stateless_uniform, batch_size, [], "timesteps",
                               minval=0, maxval=self.timesteps, dtype=tf.int32)  # (b,)
        noise = self._draw(tf.random.stateless_normal, batch_size, list(self.image_shape), "noise")  # (b, h, w, c)
        alpha_bar = tf.gather(tf.constant(self.alpha_bar_table, tf.float32), timesteps)  # (b,)
        noisy_images = q_sample(images, timesteps, noise, self.alpha_bar_table)
        inputs = [noisy_images, timesteps]
        if labels is not None:
            dropped = self._draw(tf.random.stateless_uniform, batch_size, [], "label_dropout") < self.label_dropout
            inputs.append(tf.where(dropped, self.num_classes, tf.cast(labels, tf.int32)))  # null label = num_classes
        with tf.GradientTape() as tape:
            prediction = self.network(inputs, training=True)
            terms = diffusion_loss(prediction, images, noise, alpha_bar, self.parameterization)
            # Under tf.distribute the optimizer sums the replicas' gradients.
            scaled = self.optimizer.scale_loss(terms["loss"] / tf.cast(replicas, tf.float32))
        gradients = tape.gradient(scaled, self.network.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.network.trainable_variables))
        if self.ema_network is not None:
            self._update_ema()
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {tracker.name: tracker.result() for tracker in self.metrics}

    # -- Sampling ------------------------------------------------------------------

    def guided_prediction(self, noisy_images, timestep, labels=None, guidance=None):
        """The sampling network's output at one timestep, with classifier-free guidance.

        Formula (w = guidance):
            f = f(x_t, t, null) + w (f(x_t, t, y) - f(x_t, t, null))
        computed as one call on a doubled batch; with `guidance` None, f(x_t, t, y).

        Args:
            noisy_images: x_t, (b, h, w, c).
            timestep: one integer timestep for the whole batch.
            labels: (b,) labels for a conditional model (`num_classes` means "no label").
            guidance: the scale w, or None.

        Returns:
            (b, h, w, c) float32: the predicted eps, v or x_0 (see `parameterization`).
        """
        network = self.sampling_network
        noisy_images = tf.cast(noisy_images, tf.float32)
        batch = tf.shape(noisy_images)[0]
        steps = tf.fill([batch], tf.cast(timestep, tf.int32))
        if labels is None:
            return network([noisy_images, steps], training=False)
        labels = tf.cast(labels, tf.int32)
        if guidance is None:
            return network([noisy_images, steps, labels], training=False)
        both = network([tf.concat([noisy_images, noisy_images], 0), tf.concat([steps, steps], 0),
                        tf.concat([labels, tf.fill([batch], self.num_classes)], 0)], training=False)
        conditional, unconditional = both[:batch], both[batch:]
        return unconditional + tf.cast(guidance, tf.float32) * (conditional - unconditional)

    def _predict(self, noisy_images, timestep, labels, guidance):
        """(x0_hat, eps_hat) at one timestep, x0_hat clipped to [-1, 1]."""
        prediction = self.guided_prediction(noisy_images, timestep, labels, guidance)
        steps = tf.fill([tf.shape(noisy_images)[0]], tf.cast(timestep, tf.int32))
        alpha_bar = tf.gather(tf.constant(self.alpha_bar_table, tf.float32), steps)
        x0, eps = split_prediction(prediction, noisy_images, alpha_bar, self.parameterization)
        # Clip x0_hat to the data range and take the noise that agrees with it.
        x0 = tf.clip_by_value(x0, -1.0, 1.0)
        a = tf.sqrt(_per_example(alpha_bar, x0))
        eps = (noisy_images - a * x0) / tf.sqrt(1.0 - _per_example(alpha_bar, x0))
        return x0, eps

    def _sample_step(self, noisy_images, timestep, previous, labels, guidance, eta, noise, sampler):
        table = tf.constant(np.append(self.alpha_bar_table, 1.0), tf.float32)  # index -1 -> 1.0 (clean)
        alpha_bar = table[timestep]
        alpha_bar_previous = tf.gather(table, tf.where(previous < 0, self.timesteps, previous))
        x0, eps = self._predict(noisy_images, timestep, labels, guidance)
        if sampler == "ddpm":
            mean, variance = posterior_mean_variance(x0, noisy_images, alpha_bar, alpha_bar_previous)
            return mean + tf.sqrt(variance) * noise, x0
        return ddim_step(x0, eps, alpha_bar_previous, alpha_bar=alpha_bar, eta=eta, noise=noise), x0

    def _step_function(self, sampler, conditional, guided, stochastic, mode):
        key = (sampler, conditional, guided, stochastic, mode)
        functions = self._sampling_cache.functions
        if key not in functions:
            def step(noisy_images, timestep, previous, labels, guidance, eta, noise):
                return self._sample_step(noisy_images, timestep, previous, labels if conditional else None,
                                         guidance if guided else None, eta, noise if stochastic else None, sampler)

            # No tensor-dependent Python control flow inside, so no autograph conversion is needed.
            functions[key] = step if mode == "eager" else tf.function(
                step, jit_compile=(mode == "jit_compile"), autograph=False)
        return functions[key]

    def _check_sampling_options(self, n, labels, steps, guidance, eta, sampler, mode):
        _check_positive_int("n", n)
        if sampler not in SAMPLERS:
            raise ValueError(f"Expected a sampler in {SAMPLERS}. Received: sampler={sampler!r}")
        if mode not in ("eager", "function", "jit_compile"):
            raise ValueError(f"Expected mode 'eager', 'function' or 'jit_compile'. Received: mode={mode!r}")
        if steps is None:
            steps = self.timesteps if sampler == "ddpm" else min(DEFAULT_DDIM_STEPS, self.timesteps)
        timesteps = sampling_timesteps(self.timesteps, steps)
        if isinstance(eta, bool) or not isinstance(eta, (int, float, np.floating)) or not 0.0 <= eta <= 1.0:
            raise ValueError(f"Expected eta in [0, 1]. Received: eta={eta!r}")
        if self.num_classes is None:
            if labels is not None:
                raise ValueError("Expected no labels for an unconditional diffusion model. Received: labels")
            if guidance is not None:
                raise ValueError(
                    "Expected no guidance scale for an unconditional diffusion model (classifier-free guidance "
                    f"needs a model trained with labels, e.g. `ddpm-cond`). Received: guidance={guidance!r}"
                )
        else:
            if labels is None:
                raise ValueError(f"Expected labels in [0, {self.num_classes - 1}] for a conditional model.")
            validate_labels(labels, self.num_classes, batch_size=n)
            _check_guidance(self.guidance if guidance is None else guidance)
        return timesteps

    def sample_chain(self, n, *, labels=None, seed=0, steps=None, guidance=None, eta=0.0, sampler="ddim",
                     mode="function", batch_size=500, keep=None, callback=None):
        """Runs a sampler and returns the final images and, optionally, snapshots along the way.

        Args: as for `generate`, plus
            keep: how many evenly spaced snapshots of x_t to return (None: none).
            callback: called as `callback(done, total)` after each step.

        Returns:
            (images, snapshots): images (n, h, w, c) in [-1, 1]; snapshots a
            list of (timestep, x_t, x0_hat) NumPy triples (empty without `keep`).
        """
        timesteps = self._check_sampling_options(n, labels, steps, guidance, eta, sampler, mode)
        batch_size = _check_positive_int("batch_size", batch_size)
        if self.num_classes is not None and guidance is None:
            guidance = self.guidance
        if guidance is not None and float(guidance) == 1.0:
            guidance = None  # the plain conditional prediction: no second pass needed
        conditional = self.num_classes is not None
        stochastic = sampler == "ddpm" or eta > 0
        step = self._step_function(sampler, conditional, guidance is not None, stochastic, mode)
        previous = np.append(timesteps[1:], -1)
        keep_at = set() if not keep else set(np.round(np.linspace(0, len(timesteps) - 1, keep)).astype(int))
        shape = (n, *self.image_shape)
        x = tf.random.stateless_normal(shape, stateless_seed(seed, "initial_noise", 0))
        labels_tensor = tf.constant(np.asarray(labels, np.int32)) if conditional else tf.zeros([n], tf.int32)
        chunk = min(batch_size, n)
        count = -(-n // chunk)
        padded = count * chunk
        pad = padded - n
        x = tf.concat([x, x[:pad]], 0) if pad else x  # fixed chunk shapes: one trace
        labels_tensor = tf.concat([labels_tensor, labels_tensor[:pad]], 0) if pad else labels_tensor
        guidance_tensor = tf.constant(1.0 if guidance is None else float(guidance), tf.float32)
        eta_tensor = tf.constant(float(eta), tf.float32)
        snapshots = []
        for index, (timestep, before) in enumerate(zip(timesteps, previous)):
            noise = (tf.random.stateless_normal((padded, *self.image_shape), stateless_seed(seed, "sampling_noise", index))
                     if stochastic else tf.zeros([chunk, *self.image_shape]))
            parts, predictions = [], []
            for start in range(0, padded, chunk):
                piece = slice(start, start + chunk)
                out, x0 = step(x[piece], tf.constant(int(timestep), tf.int32), tf.constant(int(before), tf.int32),
                               labels_tensor[piece], guidance_tensor, eta_tensor,
                               noise[piece] if stochastic else noise)
                parts.append(out)
                predictions.append(x0)
            if index in keep_at:
                snapshots.append((int(timestep), x.numpy()[:n], tf.concat(predictions, 0).numpy()[:n]))
            x = tf.concat(parts, 0)
            if callback is not None:
                callback(index + 1, len(timesteps))
        return x.numpy()[:n], snapshots

    def generate(self, n, *, labels=None, seed=0, steps=None, guidance=None, eta=0.0, sampler="ddim",
                 mode="function", batch_size=500, callback=None):
        """Generates images in [0, 1] with DDIM (default) or DDPM ancestral sampling.

        Args:
            n: how many images.
            labels: (n,) integer labels in [0, num_classes): required by a
                conditional model, an error for an unconditional one.
            seed: seed of the starting noise (and of the sampler's noise).
            steps: network evaluations, 1..T; None is 50 for DDIM and T (the
                full chain) for DDPM.
            guidance: classifier-free guidance scale w (conditional only):
                1 is the plain conditional model, 0 the unconditional one,
                w > 1 stronger adherence to the label; None is the model's
                `guidance`. An unconditional model refuses any value.
            eta: DDIM's noise (0 deterministic, 1 DDPM-like).
            sampler: "ddim" or "ddpm".
            mode: "function" (tf.function), "jit_compile" (XLA) or "eager".
            batch_size: images per network call.
            callback: optional `callback(done, total)` after each step.

        Returns:
            A NumPy float32 array (n, h, w, c) in [0, 1].

        Raises:
            ValueError: for a bad count, steps, labels, guidance, eta or sampler.
        """
        images, _ = self.sample_chain(n, labels=labels, seed=seed, steps=steps, guidance=guidance, eta=eta,
                                      sampler=sampler, mode=mode, batch_size=batch_size, callback=callback)
        return ((images + 1.0) / 2.0).clip(0.0, 1.0).astype(np.float32)


def make_diffusion(preset="course", *, num_classes=None, seed=0, **settings):
    """Builds and compiles a `DiffusionModel` from `PRESETS[preset]` (with overrides).

    The optimizer is Adam with a linear warm-up of `warmup_steps` to `learning_rate`.

    Raises:
        ValueError: for an unknown preset or setting.
    """
    if preset not in PRESETS:
        raise ValueError(f"Expected a preset in {sorted(PRESETS)}. Received: preset={preset!r}")
    unknown = sorted(set(settings) - set(PRESETS[preset]))
    if unknown:
        raise ValueError(f"Expected settings among {sorted(PRESETS[preset])}. Received: {unknown}")
    settings = {**PRESETS[preset], **settings}
    if settings["schedule"] not in SCHEDULES:
        raise ValueError(f"Expected a schedule in {SCHEDULES}. Received: schedule={settings['schedule']!r}")
    network = build_unet(widths=settings["widths"], blocks_per_level=settings["blocks_per_level"],
                         attention=settings["attention"], embedding_dim=settings["embedding_dim"],
                         groups=settings["groups"], num_classes=num_classes)
    model = DiffusionModel(network, schedule=settings["schedule"], timesteps=settings["timesteps"],
                           parameterization=settings["parameterization"], ema_decay=settings["ema_decay"],
                           label_dropout=settings["label_dropout"], guidance=settings["guidance"], seed=seed)
    model.compile(keras.optimizers.Adam(WarmUp(settings["learning_rate"], settings["warmup_steps"])))
    return model


@keras.saving.register_keras_serializable(package="course")
class WarmUp(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate that rises linearly over `warmup_steps`, then stays at `learning_rate`."""

    def __init__(self, learning_rate, warmup_steps):
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        fraction = (tf.cast(step, tf.float32) + 1.0) / max(self.warmup_steps, 1)
        return self.learning_rate * tf.minimum(1.0, fraction)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps}
