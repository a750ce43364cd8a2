"""Plots of the diffusion chapter: schedules, the forward process, the denoising strip,
quality against sampling steps, and the guidance scale's effect.

Each function makes one matplotlib figure and returns it. Image grids go through
`lib.plots.show_image_grid`.

Public names: plot_schedules, plot_forward_process, plot_denoising_strip,
plot_quality_against_steps, plot_guidance.
"""

import numpy as np

from lib import plots


def plot_schedules(schedules, title="Noise schedules: the signal left at each step"):
    """alpha_bar_t (solid) and the signal-to-noise ratio (dashed, log scale) of each schedule.

    Args:
        schedules: {name: alpha_bar array (T,)}.
    """
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, alpha_bar in schedules.items():
        alpha_bar = np.asarray(alpha_bar, dtype=np.float64)
        steps = np.arange(len(alpha_bar))
        left.plot(steps, alpha_bar, label=f"{name}: alpha_bar_t")
        left.plot(steps, np.sqrt(alpha_bar), linestyle=":", label=f"{name}: sqrt(alpha_bar_t), the signal's scale")
        right.semilogy(steps, alpha_bar / (1 - alpha_bar), label=name)
    left.set_xlabel("timestep t")
    left.set_title(title)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.set_xlabel("timestep t")
    right.set_title("signal-to-noise ratio alpha_bar / (1 - alpha_bar)")
    right.legend(fontsize=8)
    right.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return figure


def plot_forward_process(rows, timesteps, row_labels=None, title="The forward process q(x_t | x_0)"):
    """A grid: one row per schedule (or image), one column per timestep.

    Args:
        rows: a list of arrays (len(timesteps), h, w, c) of x_t in about [-1, 1].
        timesteps: the timestep of each column.
    """
    images = np.concatenate([np.clip((np.asarray(row) + 1.0) / 2.0, 0.0, 1.0) for row in rows])
    steps = ", ".join(str(int(t)) for t in timesteps)
    return plots.show_image_grid(images, columns=len(timesteps), size=1.1 * len(timesteps),
                                 row_labels=row_labels, title=f"{title}; t = {steps}")


def plot_denoising_strip(snapshots, title="Sampling: from noise (left) to digit (right)"):
    """Two rows per image: x_t and the network's x0_hat at each kept step.

    Args:
        snapshots: `DiffusionModel.sample_chain(..., keep=K)`'s list of
            (timestep, x_t, x0_hat), each array (n, h, w, c) in about [-1, 1].
    """
    count = snapshots[0][1].shape[0]
    rows, labels = [], []
    for index in range(count):
        rows.append(np.stack([x_t[index] for _, x_t, _ in snapshots]))
        rows.append(np.stack([x0[index] for _, _, x0 in snapshots]))
        labels += [f"x_t ({index + 1})", f"x0_hat ({index + 1})"]
    images = np.concatenate([np.clip((row + 1.0) / 2.0, 0.0, 1.0) for row in rows])
    steps = ", ".join(str(t) for t, _, _ in snapshots)
    return plots.show_image_grid(images, columns=len(snapshots), size=1.1 * len(snapshots), row_labels=labels,
                                 title=f"{title}; t = {steps}")


def plot_quality_against_steps(table, title="Sample quality against sampling steps"):
    """FID (left axis) and the share confidently read (right axis) against the number of steps.

    Args:
        table: {sampler name: {steps: {"fid": ..., "confidently_read": ...}}}.
    """
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    right = axis.twinx()
    for index, (name, rows) in enumerate(table.items()):
        steps = sorted(rows)
        color = f"C{index}"
        axis.plot(steps, [rows[s]["fid"] for s in steps], marker="o", color=color, label=f"{name}: FID")
        right.plot(steps, [rows[s]["confidently_read"] for s in steps], marker="s", linestyle="--", color=color,
                   alpha=0.6, label=f"{name}: confidently read")
    from matplotlib import ticker

    axis.set_xscale("log")
    every_count = sorted({steps for rows in table.values() for steps in rows})
    axis.set_xticks(every_count)
    axis.xaxis.set_major_formatter(ticker.ScalarFormatter())
    axis.xaxis.set_minor_formatter(ticker.NullFormatter())
    axis.set_xlabel("sampling steps (network evaluations per image)")
    axis.set_ylabel("FID (lower is better)")
    right.set_ylabel("share read with p >= 0.9")
    right.set_ylim(0, 1)
    lines = axis.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    axis.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right")
    axis.grid(alpha=0.3, which="both")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def plot_guidance(table, title="Classifier-free guidance: the scale's effect"):
    """FID and the share read as the asked-for digit against the guidance scale.

    Args:
        table: {scale: {"fid": ..., "label_accuracy": ...}}.
    """
    import matplotlib.pyplot as plt

    scales = sorted(table)
    figure, axis = plt.subplots(figsize=(6.5, 3.8))
    right = axis.twinx()
    axis.plot(scales, [table[s]["fid"] for s in scales], marker="o", color="C0", label="FID")
    right.plot(scales, [table[s]["label_accuracy"] for s in scales], marker="s", color="C1",
               label="read as the asked-for digit")
    axis.set_xlabel("guidance scale w (0 unconditional, 1 conditional)")
    axis.set_ylabel("FID (lower is better)", color="C0")
    right.set_ylabel("label accuracy", color="C1")
    right.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.set_title(title)
    figure.tight_layout()
    return figure
