"""Plots shared by every chapter: image grids, training curves, animations.

Notebooks call these so that a cell shows the idea, not the matplotlib. Each
function returns the matplotlib figure (or animation) it made, so a notebook
can show it and a script can save it. Chapter-specific plots live beside this
file (`lib/plots/vae.py`, `lib/plots/style.py`).

Public names: `tile_images`, `save_image_grid`, `show_image_grid`,
`plot_history`, `animate_grids`, `plot_class_histogram`.
"""

import pathlib

import numpy as np


def tile_images(images, columns=None, padding=1, pad_value=1.0):
    """Tiles a batch of images into one image (a NumPy array).

    Args:
        images: (n, h, w) or (n, h, w, c) floats in [0, 1], c in {1, 3}.
        columns: images per row (default: about the square root of n).
        padding: pixels between the images.
        pad_value: colour of the padding (1.0 is white).

    Returns:
        A float32 array (rows * (h + padding) - padding, ..., c).

    Raises:
        ValueError: for a batch of another rank, no images, or values outside [0, 1].
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise ValueError(
            "Expected a non-empty batch (n, h, w) or (n, h, w, 1 or 3). "
            f"Received: shape={images.shape}"
        )
    if images.min() < -1e-6 or images.max() > 1 + 1e-6:
        raise ValueError(
            "Expected pixel values in [0, 1] (map [-1, 1] images with (x + 1) / 2). "
            f"Received: min={images.min():.3g}, max={images.max():.3g}"
        )
    count, height, width, channels = images.shape
    columns = columns or int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    grid = np.full(
        (rows * (height + padding) - padding, columns * (width + padding) - padding, channels),
        pad_value,
        dtype=np.float32,
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + padding), column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_image_grid(images, path, columns=None, scale=2):
    """Writes a grid of images to a PNG file (no matplotlib needed).

    Args:
        images: as for `tile_images`.
        path: the .png path; written through a temporary file.
        columns: images per row.
        scale: each pixel becomes a scale x scale block, so 28x28 digits stay crisp.

    Returns:
        The path written.
    """
    from PIL import Image  # Pillow comes with matplotlib

    grid = tile_images(images, columns)
    grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
    pixels = (grid * 255).round().astype(np.uint8)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    path = pathlib.Path(path)
    temporary = path.with_name(path.name + ".tmp.png")
    Image.fromarray(pixels).save(temporary)
    temporary.replace(path)
    return path


def show_image_grid(images, columns=None, title=None, size=4.0, row_labels=None):
    """Shows a grid of images in one matplotlib figure and returns the figure."""
    import matplotlib.pyplot as plt

    grid = tile_images(images, columns)
    figure, axis = plt.subplots(figsize=(size, size * grid.shape[0] / grid.shape[1]))
    axis.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
                interpolation="nearest")
    axis.set_xticks([])
    if row_labels is not None:
        height = (grid.shape[0] + 1) / len(row_labels)
        axis.set_yticks([height * (i + 0.5) for i in range(len(row_labels))], labels=row_labels)
    else:
        axis.set_yticks([])
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def plot_history(history, keys=None, title="Training curves", smooth=1):
    """Plots logged values against epochs (or steps) on one set of axes.

    Args:
        history: a list of dicts (rows of `history.jsonl`, or one per step),
            or a dict {name: list of values} as from `fit().history`.
        keys: which values to plot (default: all numeric ones except
            "epoch", "step" and "seconds").
        title: the figure title.
        smooth: moving-average window (1 = raw values).

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if isinstance(history, dict):
        series = {name: list(values) for name, values in history.items()}
    else:
        names = [name for name in history[0] if name not in ("epoch", "step", "seconds")] if history else []
        series = {name: [row[name] for row in history] for name in names}
    keys = keys or list(series)
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for name in keys:
        values = np.asarray(series[name], dtype=np.float64)
        if smooth > 1 and len(values) >= smooth:
            values = np.convolve(values, np.ones(smooth) / smooth, mode="valid")
        axis.plot(np.arange(1, len(values) + 1), values, label=name)
    axis.set_xlabel("epoch" if not isinstance(history, dict) and history and "epoch" in history[0] else "step")
    axis.set_title(title)
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def animate_grids(grids, titles=None, interval_ms=400, size=4.0):
    """An animation that flips through image grids (e.g. the same noise each epoch).

    In a notebook, show it with `IPython.display.HTML(animation.to_jshtml())`;
    save it with `animation.save("training.gif", writer="pillow")`.

    Args:
        grids: a list of batches (n, h, w, c) or of tiled images (H, W, c).
        titles: one title per frame (e.g. "epoch 3").
        interval_ms: time per frame.

    Returns:
        A `matplotlib.animation.FuncAnimation`.
    """
    import matplotlib.pyplot as plt
    from matplotlib import animation

    # A batch (n, h, w, c) is tiled; an array of rank 3 is taken as an already tiled image.
    frames = [tile_images(grid) if np.ndim(grid) == 4 else np.asarray(grid, dtype=np.float32) for grid in grids]
    figure, axis = plt.subplots(figsize=(size, size))
    axis.axis("off")
    first = frames[0]
    image = axis.imshow(first[..., 0] if first.shape[-1] == 1 else first, cmap="gray", vmin=0, vmax=1)
    title = axis.set_title(titles[0] if titles else "")

    def update(index):
        frame = frames[index]
        image.set_data(frame[..., 0] if frame.shape[-1] == 1 else frame)
        title.set_text(titles[index] if titles else "")
        return image, title

    result = animation.FuncAnimation(figure, update, frames=len(frames), interval=interval_ms, blit=False)
    plt.close(figure)  # the notebook shows the animation, not a stray still frame
    return result


def plot_class_histogram(counts, title="Predicted classes of generated digits", reference=None):
    """A bar chart of how many samples fall in each class (mode collapse shows as gaps)."""
    import matplotlib.pyplot as plt

    counts = np.asarray(counts, dtype=np.float64)
    figure, axis = plt.subplots(figsize=(6, 2.8))
    axis.bar(np.arange(len(counts)), counts / counts.sum(), color="tab:blue", label="generated")
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64)
        axis.step(np.arange(len(reference)) + 0.5, reference / reference.sum(), where="pre", color="k",
                  label="real data")
        axis.legend()
    axis.set_xticks(np.arange(len(counts)))
    axis.set_xlabel("class")
    axis.set_ylabel("fraction")
    axis.set_title(title)
    figure.tight_layout()
    return figure
