"""Plots for the GAN chapter: the shapes of the losses, runs' curves, grids side by side, scores.

Public names: `plot_loss_shapes`, `plot_runs`, `show_grids_side_by_side`, `plot_scores`.
"""

import numpy as np


def _softplus(x):
    return np.logaddexp(0.0, x)


def plot_loss_shapes(logit_range=(-6.0, 6.0), marked_logits=None):
    """Plots the per-example GAN losses against the discriminator's logit.

    Left: the discriminator's two terms, -log sigmoid(t) on a real image
    (label 1) and -log(1 - sigmoid(t)) on a fake (label 0). Right: the
    generator's two choices on a fake, the minimax loss log(1 - sigmoid(t)),
    flat where the discriminator rejects the fake (t << 0), and the
    non-saturating -log sigmoid(t), steep there.

    Args:
        logit_range: (low, high) of the logits on the x axis.
        marked_logits: optional logits to mark with dots on every curve.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    low, high = logit_range
    if not low < high:
        raise ValueError(f"Expected logit_range=(low, high) with low < high. Received: {logit_range}")
    logits = np.linspace(low, high, 300)
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), sharex=True)
    curves_left = {
        "real image: -log sigmoid(t)": lambda t: _softplus(-t),
        "fake image: -log(1 - sigmoid(t))": lambda t: _softplus(t),
    }
    curves_right = {
        "minimax: log(1 - sigmoid(t))": lambda t: -_softplus(t),
        "non-saturating: -log sigmoid(t)": lambda t: _softplus(-t),
    }
    for axis, curves, title in (
        (left, curves_left, "Discriminator loss per example"),
        (right, curves_right, "Generator loss on a fake"),
    ):
        for label, function in curves.items():
            (line,) = axis.plot(logits, function(logits), label=label)
            if marked_logits is not None:
                marked = np.asarray(marked_logits, dtype=np.float64).ravel()
                axis.plot(marked, function(marked), "o", color=line.get_color())
        axis.axvline(0.0, color="gray", lw=0.8, ls=":")
        axis.set_xlabel("discriminator logit t  (sigmoid(t) = P(real))")
        axis.set_title(title)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    right.annotate("D rejects the fake:\nminimax is flat here", xy=(low + 1.0, -_softplus(low + 1.0)),
                   xytext=(low + 0.5, 2.5), fontsize=8, arrowprops={"arrowstyle": "->", "color": "gray"})
    figure.tight_layout()
    return figure


def plot_scores(scores, floor=None, metrics=("fid", "kid"), title="Sample quality (lower is better)"):
    """Bar charts of FID and KID per model, with the real-data floor as a line.

    Args:
        scores: {model name: {"fid": float, "kid": float, "kid_std": float, ...}}.
        floor: optional scores of real held-out digits against real training
            digits (the best a generator can hope for with these sample sizes).
        metrics: which keys to plot, one panel each; "kid" gets "kid_std"
            error bars when present.
        title: the figure title.

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: if `scores` is empty or a model lacks one of `metrics`.
    """
    import matplotlib.pyplot as plt

    if not scores:
        raise ValueError("Expected scores for at least one model. Received: an empty dict")
    names = list(scores)
    for name in names:
        missing = [metric for metric in metrics if metric not in scores[name]]
        if missing:
            raise ValueError(f"Expected {list(metrics)} for every model. Received: {name!r} lacks {missing}")
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, metric in zip(axes[0], metrics):
        values = [scores[name][metric] for name in names]
        errors = [scores[name].get(f"{metric}_std", 0.0) for name in names]
        labels = [name.replace(" ", "\n", 1) for name in names]  # "conditional\nGAN": names do not overlap
        bars = axis.bar(labels, values, yerr=errors if any(errors) else None, capsize=4,
                        color=[colors[i % len(colors)] for i in range(len(names))])
        axis.bar_label(bars, fmt="%.3g", fontsize=8)
        if floor is not None and metric in floor:
            axis.axhline(floor[metric], color="k", ls="--", lw=1, label=f"real data floor {floor[metric]:.3g}")
            axis.legend(fontsize=8)
        axis.set_title(metric.upper())
        axis.grid(axis="y", alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def plot_runs(runs, keys=("discriminator_loss", "generator_loss"), title="Loss curves per step", smooth=5):
    """One panel per run, each with the same loss curves on a shared y axis.

    Args:
        runs: {run name: {key: list of per-step values}}.
        keys: which curves to draw in each panel.
        title: the figure title.
        smooth: moving-average window (1 = raw values).

    Returns:
        The matplotlib figure.

    Raises:
        ValueError: if `runs` is empty or a run lacks one of `keys`.
    """
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("Expected at least one run. Received: an empty dict")
    for name, curves in runs.items():
        missing = [key for key in keys if key not in curves]
        if missing:
            raise ValueError(f"Expected the curves {list(keys)} in every run. Received: {name!r} lacks {missing}")
    figure, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 3.0), sharey=True, squeeze=False)
    for axis, (name, curves) in zip(axes[0], runs.items()):
        for key in keys:
            values = np.asarray(curves[key], dtype=np.float64)
            if smooth > 1 and len(values) >= smooth:
                values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
            axis.plot(np.arange(1, len(values) + 1), values, label=key)
        axis.axhline(0.0, color="gray", lw=0.8)
        axis.set_title(f"run {name}")
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_grids_side_by_side(grids, titles, columns=8, size=4.0):
    """Shows several image grids next to each other, one titled panel each.

    Args:
        grids: a list of image batches (n, h, w, c) in [0, 1].
        titles: one title per grid.
        columns: images per row in each grid.
        size: width of each panel in inches.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    from lib import plots

    if len(grids) != len(titles) or not grids:
        raise ValueError(f"Expected one title per grid. Received: {len(grids)} grids, {len(titles)} titles")
    tiles = [plots.tile_images(images, columns) for images in grids]
    height = max(tile.shape[0] / tile.shape[1] for tile in tiles)
    figure, axes = plt.subplots(1, len(tiles), figsize=(size * len(tiles), size * height + 0.4), squeeze=False)
    for axis, tile, title in zip(axes[0], tiles, titles):
        axis.imshow(tile[..., 0] if tile.shape[-1] == 1 else tile, cmap="gray", vmin=0, vmax=1,
                    interpolation="nearest")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
