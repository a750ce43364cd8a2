"""Plots of the style-transfer chapter (notebooks 07-09).

Each function returns the matplotlib figure it made, so a notebook shows it and a
script can save it.

Public names: show_images, plot_feature_maps, plot_gram_matrix,
plot_optimizer_comparison, plot_image_grid_with_labels, plot_layer_shares,
plot_loss_terms, save_panel.
"""

import numpy as np


def show_images(images, titles=None, size=3.0, suptitle=None):
    """Shows RGB images (each (H, W, 3) in [0, 1]) side by side with optional titles."""
    import matplotlib.pyplot as plt

    images = list(images)
    figure, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
    for index, (axis, image) in enumerate(zip(axes[0], images)):
        image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        axis.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=1)
        axis.set_xticks([])
        axis.set_yticks([])
        if titles is not None:
            axis.set_title(titles[index], fontsize=9)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure


def plot_feature_maps(features, channels=6, size=1.6):
    """Shows the first `channels` feature maps of each layer: one row per layer.

    Args:
        features: dict {layer_name: tensor (1, h, w, C)} from a feature extractor.
        channels: how many channels to show per layer.
        size: inches per panel.
    """
    import matplotlib.pyplot as plt

    names = list(features)
    figure, axes = plt.subplots(len(names), channels, figsize=(size * channels, size * len(names)), squeeze=False)
    for row, name in enumerate(names):
        maps = np.asarray(features[name])[0]  # (h, w, C)
        for column in range(channels):
            axis = axes[row, column]
            axis.imshow(maps[..., column], cmap="viridis")
            axis.set_xticks([])
            axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(f"{name}\n{maps.shape[0]}x{maps.shape[1]}x{maps.shape[2]}", fontsize=8)
    figure.suptitle("VGG19 feature maps (first channels of each layer)")
    figure.tight_layout()
    return figure


def plot_gram_matrix(gram, title="Gram matrix", channels=32):
    """Shows the top-left `channels` x `channels` block of a Gram matrix (C, C) or (1, C, C)."""
    import matplotlib.pyplot as plt

    gram = np.asarray(gram)
    gram = gram[0] if gram.ndim == 3 else gram
    block = gram[:channels, :channels]
    figure, axis = plt.subplots(figsize=(4.2, 3.6))
    shown = axis.imshow(block, cmap="magma")
    figure.colorbar(shown, ax=axis)
    axis.set_title(f"{title}\n(first {block.shape[0]} of {gram.shape[0]} channels)", fontsize=10)
    axis.set_xlabel("channel d")
    axis.set_ylabel("channel c")
    figure.tight_layout()
    return figure


def plot_optimizer_comparison(histories, key="loss", title="Gatys loss: Adam against L-BFGS"):
    """Plots the loss of several optimisation runs against iterations and against seconds.

    Args:
        histories: dict {label: history} where history is the list of dicts from
            `lib.style_transfer.stylize_gatys` (keys "step", "seconds", `key`).
        key: which loss to plot ("loss", "content_loss", "style_loss", "tv_loss").
        title: the figure title.
    """
    import matplotlib.pyplot as plt

    figure, (by_step, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for label, history in histories.items():
        steps = [row["step"] for row in history]
        seconds = [row["seconds"] for row in history]
        values = [row[key] for row in history]
        by_step.plot(steps, values, label=label)
        by_time.plot(seconds, values, label=label)
    by_step.set_xlabel("iteration")
    by_time.set_xlabel("seconds (this machine)")
    by_step.set_ylabel(key.replace("_", " "))
    for axis in (by_step, by_time):
        axis.set_yscale("log")
        axis.grid(alpha=0.3, which="both")
    by_step.legend()
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_image_grid_with_labels(rows, row_labels, column_labels, size=2.2):
    """Shows a grid of RGB images: rows[i][j] with row and column labels."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(len(rows), len(rows[0]), figsize=(size * len(rows[0]), size * len(rows)),
                                squeeze=False)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            axis = axes[i, j]
            axis.imshow(np.clip(np.asarray(image), 0, 1))
            axis.set_xticks([])
            axis.set_yticks([])
            if i == 0:
                axis.set_title(column_labels[j], fontsize=9)
            if j == 0:
                axis.set_ylabel(row_labels[i], fontsize=9)
    figure.tight_layout()
    return figure


def plot_layer_shares(raw_losses, balanced_weights, layer_names, title="Each style layer's share of the style loss"):
    """Bars of each style layer's share at the starting image: raw (equal weights) against balanced.

    Args:
        raw_losses: the per-layer style losses E_l of the starting image.
        balanced_weights: the balanced weights w_l (`st.balanced_layer_weights`).
        layer_names: the layers' names.
    """
    import matplotlib.pyplot as plt

    raw = np.asarray(raw_losses, dtype=np.float64)
    balanced = raw * np.asarray(balanced_weights, dtype=np.float64)
    positions = np.arange(len(raw))
    figure, axis = plt.subplots(figsize=(7, 3.2))
    axis.bar(positions - 0.2, raw / raw.sum(), width=0.4, label="equal weights (raw)")
    axis.bar(positions + 0.2, balanced / balanced.sum(), width=0.4, label="balanced: w_l = 1 / (n E_l)")
    axis.set_xticks(positions, [name.replace("_conv", "\nconv") for name in layer_names], fontsize=8)
    axis.set_ylabel("share of the style loss")
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_loss_terms(history, title="The loss terms during optimisation"):
    """The content and style terms (before their weights) of one `stylize_gatys` history, per iteration."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.2))
    steps = [row["step"] for row in history]
    for key in ("content_loss", "style_loss"):
        axis.plot(steps, [row[key] for row in history], label=key.replace("_", " "))
    axis.set_yscale("symlog", linthresh=1e-3)
    axis.set_xlabel("iteration")
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure


def save_panel(images, titles, path, size=3.0):
    """Saves images side by side with titles (content, style, result ...) as a PNG; returns the path."""
    import pathlib

    import matplotlib.pyplot as plt

    figure = show_images(images, titles, size=size)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
