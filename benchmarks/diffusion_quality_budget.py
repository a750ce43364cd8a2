"""Trains the diffusion model for a fixed budget, then prints its FID, KID and readability.

    python benchmarks/diffusion_quality_budget.py --seconds 600             # the course's budget
    python benchmarks/diffusion_quality_budget.py --steps 2000              # a fixed number of steps
    python benchmarks/diffusion_quality_budget.py --steps 2000 --set widths=[48,96] --set parameterization=epsilon

The question it answers: on this machine, in 600 seconds, does the course's
default diffusion model draw readable digits? It trains the unconditional
model (`lib.diffusion.DiffusionModel.train_step`, as `python -m lib train ddpm`
does) on the MNIST training digits (offline: the 4,000 shipped ones) until the
budget is spent (tracing included: a user waits for it too), or for exactly
`--steps` steps (to study quality while the machine is busy). Then it draws
2,000 digits with DDIM in 50 steps and scores them against the 1,000
held-out digits with the course's classifier (`lib.metrics.sample_quality`):
FID, KID, the share confidently read (probability >= 0.9) and the classes
present. It writes a 10x10 grid to docs/images/ddpm_budget_<label>.png and
prints one JSON line (steps done, seconds, sampling seconds, the load average).
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

from lib import data, diffusion, metrics, plots  # noqa: E402


def parse_override(text):
    """"name=value" with a JSON value (or a bare string): ("widths", [48, 96])."""
    name, _, value = text.partition("=")
    if not _ or name not in diffusion.PRESETS["course"]:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE with NAME in {sorted(diffusion.PRESETS['course'])}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="training budget in wall-clock seconds (default 600)")
    budget.add_argument("--steps", type=int, help="train exactly this many steps instead")
    parser.add_argument("--preset", choices=sorted(diffusion.PRESETS), default="course")
    parser.add_argument("--set", type=parse_override, action="append", default=[], metavar="NAME=VALUE",
                        help="override a preset setting (JSON value)")
    parser.add_argument("--num-images", type=int, default=2000, help="samples scored (2000)")
    parser.add_argument("--sampling-steps", type=int, default=50, help="DDIM steps (50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", help="name of the grid file (default: from the budget)")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    if args.seconds is None and args.steps is None:
        args.seconds = 600.0
    overrides = dict(args.set)

    digits = data.load_digits("mnist", offline=True)
    train_images = data.to_float_images(digits.train_images, (-1.0, 1.0))  # (4000, 28, 28, 1)
    settings = {**diffusion.PRESETS[args.preset], **overrides}
    keras.utils.set_random_seed(args.seed)
    load_before = os.getloadavg()
    started = time.perf_counter()
    model = diffusion.make_diffusion(args.preset, seed=args.seed, **overrides)
    step = tf.function(model.train_step)
    steps = epoch = 0
    done = False
    while not done:
        for batch in data.make_dataset(train_images, batch_size=settings["batch_size"], epoch=epoch,
                                       seed=args.seed):
            logs = step(batch)
            steps += 1
            if steps % 100 == 0:
                print(f"step {steps}: {time.perf_counter() - started:.0f} s, loss {float(logs['loss']):.4f}, "
                      f"load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
            if args.steps is not None:
                done = steps >= args.steps
            elif steps % 10 == 0:
                done = time.perf_counter() - started >= args.seconds
            if done:
                break
        epoch += 1
    loss = float(logs["loss"])
    seconds = time.perf_counter() - started
    load_training = os.getloadavg()

    sampling_started = time.perf_counter()
    generated = model.generate(args.num_images, seed=args.seed + 1, steps=args.sampling_steps)
    sampling_seconds = time.perf_counter() - sampling_started
    reference = data.to_float_images(digits.test_images)
    quality = metrics.sample_quality(generated, reference, seed=args.seed)
    label = args.label or (f"{int(args.seconds)}s" if args.steps is None else f"{args.steps}steps")
    args.out.mkdir(parents=True, exist_ok=True)
    picture = plots.save_image_grid(generated[:100], args.out / f"ddpm_budget_{label}.png", columns=10)
    print(json.dumps({
        "preset": args.preset, "overrides": overrides, "budget_seconds": args.seconds, "budget_steps": args.steps,
        "seconds": round(seconds, 1), "steps": steps, "epochs": round(steps * settings["batch_size"] / len(train_images), 1),
        "batch_size": settings["batch_size"], "final_loss": round(loss, 4),
        "params": int(model.network.count_params()),
        "sampling_steps": args.sampling_steps, "num_images": args.num_images,
        "sampling_seconds": round(sampling_seconds, 1),
        "fid": round(quality["fid"], 2), "kid": round(quality["kid"], 4),
        "confidently_read": round(quality["confidently_read"], 3), "classes_present": quality["classes_present"],
        "class_counts": quality["class_counts"], "grid": str(picture),
        "load_average_start_1min": round(load_before[0], 2), "load_average_end_training_1min": round(load_training[0], 2),
        "load_average_end_15min": round(os.getloadavg()[2], 2),
        "data": digits.source, "classifier": quality["classifier"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
