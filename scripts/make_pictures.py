"""Draws the README's sample grids from the course's shipped generative models.

    python scripts/make_pictures.py            # every shipped generator, into docs/images/
    python scripts/make_pictures.py dcgan vae  # some of them

For each model it writes docs/images/samples_NAME.png: 100 samples in a 10x10
grid (seed 0), drawn with the same call for every model,
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
    for name in args.names or GENERATORS:
        path = plots.save_image_grid(draw(name), OUTPUT / f"samples_{name}.png", columns=10, scale=2)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
