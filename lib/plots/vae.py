"""Plots of the VAE chapter: latent scatter, manifold, interpolation, reconstructions,
latent traversals, label swaps (CVAE), the rate-distortion curve, and the curves of
several runs side by side (for diagnosing a broken run).

Each function takes a trained `lib.vae.VAE` (or arrays), makes one matplotlib
figure and returns it. Image grids go through `lib.plots.show_image_grid`.

Public names: latent_scatter, manifold_images, plot_manifold, interpolate,
plot_interpolation, plot_reconstructions, traversal_images, plot_traversals,
label_swap_images, plot_label_swap, plot_rate_distortion, plot_run_curves.
"""

import statistics

import numpy as np
import tensorflow as tf

from lib import plots


def _mean_images(model, latents, labels=None):
    """sigmoid(decode(latents)) as a NumPy array (n, 28, 28, 1)."""
    return tf.sigmoid(model.decode(np.asarray(latents, np.float32), labels)).numpy()


def latent_scatter(means, labels, title="Test digits in the 2-D latent space (posterior means)"):
    """Scatters 2-D latent means coloured by class; returns the figure."""
    import matplotlib.pyplot as plt

    means = np.asarray(means)
    if means.ndim != 2 or means.shape[1] != 2:
        raise ValueError(f"Expected means of shape (n, 2). Received: {means.shape}")
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    points = axis.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", s=6, vmin=-0.5, vmax=9.5)
    figure.colorbar(points, ax=axis, ticks=range(10), label="digit")
    axis.set_xlabel("z[0]")
    axis.set_ylabel("z[1]")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def manifold_images(model, n=15, labels=None):
    """Decodes an n x n grid of 2-D latents placed at equal quantiles of N(0, 1).

    Quantiles (not a linear span) put as many grid points where the prior has
    mass as the prior itself does. Returns (n * n, 28, 28, 1); row 0 is the top (high z[1]).
    """
    if model.latent_dim != 2:
        raise ValueError(f"Expected a model with latent_dim=2. Received: latent_dim={model.latent_dim}")
    quantiles = [statistics.NormalDist().inv_cdf(p) for p in np.linspace(0.05, 0.95, n)]
    grid = np.array([[x, y] for y in reversed(quantiles) for x in quantiles], np.float32)  # (n*n, 2)
    return _mean_images(model, grid, labels)


def plot_manifold(model, n=15, title="The decoded 2-D latent space (grid at prior quantiles)"):
    """Shows `manifold_images` as one grid; returns the figure."""
    return plots.show_image_grid(manifold_images(model, n), columns=n, title=title, size=6)


def interpolate(model, image_a, image_b, steps=10, labels=None):
    """Decodes straight-line interpolations between the posterior means of two images.

    Returns:
        (steps, 28, 28, 1) mean images from image_a's code to image_b's.
    """
    pair = np.stack([image_a, image_b]).astype(np.float32)
    mean, _ = model.encode(pair, labels)
    weights = np.linspace(0, 1, steps)[:, None].astype(np.float32)
    latents = (1 - weights) * mean[0].numpy() + weights * mean[1].numpy()
    step_labels = None if labels is None else np.full(steps, labels[0])
    return _mean_images(model, latents, step_labels)


def plot_interpolation(model, pairs, steps=10, title="Interpolating between codes"):
    """One row per (image_a, image_b) pair: the two inputs at the ends, decodings between."""
    rows = []
    for image_a, image_b in pairs:
        rows.extend([image_a, *interpolate(model, image_a, image_b, steps), image_b])
    return plots.show_image_grid(np.clip(np.asarray(rows), 0, 1), columns=steps + 2, title=title, size=7)


def plot_reconstructions(model, images, labels=None, title="Inputs (top) and reconstructions (bottom)"):
    """Inputs above the mean images decoded from their posterior means; returns the figure."""
    mean, _ = model.encode(images, labels)
    reconstructions = _mean_images(model, mean, labels)
    return plots.show_image_grid(np.concatenate([images, reconstructions]), columns=len(images),
                                 title=title, size=max(4, len(images) * 0.6))


def traversal_images(model, image, dimensions, values):
    """Decodes the code of `image` with one dimension at a time set to each of `values`.

    Returns:
        (len(dimensions) * len(values), 28, 28, 1): one row per dimension.
    """
    mean, _ = model.encode(np.asarray(image, np.float32)[None])
    base = mean.numpy()[0]
    latents = []
    for dimension in dimensions:
        for value in values:
            code = base.copy()
            code[dimension] = value
            latents.append(code)
    return _mean_images(model, np.array(latents))


def plot_traversals(model, image, dimensions, values=np.linspace(-2.5, 2.5, 9), title=None):
    """Shows `traversal_images`, one row per latent dimension; returns the figure."""
    images = traversal_images(model, image, dimensions, values)
    return plots.show_image_grid(images, columns=len(values), size=5,
                                 title=title or f"Latent traversals, beta={model.beta:g}",
                                 row_labels=[f"z[{d}]" for d in dimensions])


def label_swap_images(model, latents):
    """For each latent (row), decodes it with every label 0..num_classes-1 (columns)."""
    latents = np.asarray(latents, np.float32)
    classes = model.num_classes
    codes = np.repeat(latents, classes, axis=0)  # (rows * classes, latent_dim)
    labels = np.tile(np.arange(classes), len(latents))
    return _mean_images(model, codes, labels)


def plot_label_swap(model, latents, title="Same latent per row, label 0..9 across"):
    """Shows `label_swap_images`; returns the figure."""
    return plots.show_image_grid(label_swap_images(model, latents), columns=model.num_classes, title=title, size=6)


def plot_rate_distortion(rates, distortions, betas, title="Rate (KL) against distortion (reconstruction)"):
    """Plots one point per beta: x = rate (KL, nats), y = distortion (-log p(x|z), nats).

    Points with rate + distortion equal lie on a line of slope -1: the negative ELBO.
    """
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4))
    axis.plot(rates, distortions, "o-")
    for rate, distortion, beta in zip(rates, distortions, betas):
        axis.annotate(f"beta={beta:g}", (rate, distortion), textcoords="offset points", xytext=(5, 5))
    axis.set_xlabel("rate: KL(q(z|x) || p(z)), nats")
    axis.set_ylabel("distortion: -log p(x|z), nats")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def plot_run_curves(runs, keys=("reconstruction_loss", "kl_loss"), title="Training curves of three runs (nats per image)"):
    """One panel per term, one line per run: {name: {key: [value per epoch]}}; returns the figure."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.4))
    for axis, key in zip(np.atleast_1d(axes), keys):
        for name, history in runs.items():
            values = history[key]
            axis.plot(range(1, len(values) + 1), values, "o-", markersize=3, label=f"run {name}")
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure
