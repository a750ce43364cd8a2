"""Draws the README's sample grids from the course's shipped generative models.

    python scripts/make_pictures.py            # every shipped generator, into docs/images/
    python scripts/make_pictures.py dcgan vae  # some of them

For each model it writes docs/images/samples_NAME.png: 100 samples in a 10x10
grid (seed 0), and, when all are drawn, docs/images/samples_overview.png with
every grid titled by its model and recorded FID. Every model samples with the
same call,
`model.generate(100, labels=..., seed=0)`. A conditional model gets one row
per digit (row r asks for digit r). The diffusion models sample with DDIM in
50 steps (the guided one with its default guidance scale).
"""

import argparse
import os
import pathlib
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from lib import plots, pretrained  # noqa: E402

GENERATORS = ("dcgan", "cgan", "wgan_gp", "vae", "cvae", "ddpm", "ddpm_cond")
TITLES = {"dcgan": "DCGAN", "cgan": "conditional GAN", "wgan_gp": "WGAN-GP", "vae": "VAE",
          "cvae": "conditional VAE", "ddpm": "DDPM (DDIM, 50 steps)", "ddpm_cond": "guided DDPM (25 steps)"}
OUTPUT = ROOT / "docs" / "images"


def draw(name, seed=0):
    """100 samples of a shipped model, one row per digit if it is conditional: (100, 28, 28, 1) in [0, 1]."""
    model = pretrained.load(name)
    num_classes = getattr(model, "num_classes", None)
    labels = np.repeat(np.arange(10), 10) if num_classes else None
    options = {"steps": 50} if name.startswith("ddpm") else {}
    return model.generate(100, labels=labels, seed=seed, **options)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"shipped models to draw (default: all of {', '.join(GENERATORS)})")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(GENERATORS))
    if unknown:
        parser.error(f"expected names among {', '.join(GENERATORS)}; received {', '.join(unknown)}")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    grids = {}
    for name in args.names or GENERATORS:
        grids[name] = draw(name)
        path = plots.save_image_grid(grids[name], OUTPUT / f"samples_{name}.png", columns=10, scale=2)
        print(f"wrote {path.relative_to(ROOT)}")
    if set(grids) == set(GENERATORS):
        print(f"wrote {overview(grids).relative_to(ROOT)}")
    return 0


def overview(grids):
    """One figure with every model's grid, titled with its name and recorded FID."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(grids), figsize=(2.6 * len(grids), 3.0))
    for axis, (name, images) in zip(axes, grids.items()):
        axis.imshow(plots.tile_images(images, 10)[..., 0], cmap="gray", vmin=0, vmax=1)
        fid = pretrained.record(name)["quality"]["fid"]
        axis.set_title(f"{TITLES[name]}\nFID {fid:.1f}", fontsize=10)
        axis.axis("off")
    figure.tight_layout()
    path = OUTPUT / "samples_overview.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


if __name__ == "__main__":
    sys.exit(main())
