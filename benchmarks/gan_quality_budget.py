"""Trains a DCGAN preset for a fixed budget (seconds or steps), then measures its digits.

    python benchmarks/gan_quality_budget.py --preset dcgan --seconds 240
    python benchmarks/gan_quality_budget.py --preset tf_docs --seconds 240
    python benchmarks/gan_quality_budget.py --preset dcgan --steps 4580     # quality at a fixed step count
    python benchmarks/gan_quality_budget.py --preset dcgan --steps 4580 --set ema_decay=0.995

The question it answers: on this machine, in the same 240 seconds, which
settings give better digits? It trains on the 4,000 offline MNIST training
digits with the same `GAN.train_step` as everything else (as a `tf.function`)
until the budget is spent (tracing included: a user waits for it too), then
draws 2,000 digits from the averaged generator and 2,000 from the raw one
(same noise) and scores both against the 1,000 held-out real digits with the
course's classifier (`lib.metrics.sample_quality`): FID, KID, the share read
with probability >= 0.9 ("confidently_read"), and the classes present.

A timed budget depends on the machine and on whatever else runs on it, so the
script prints the load average beside its figures; `--steps N` trains exactly
N steps instead (the same quality whatever the load), for studying settings
on a busy machine. `--set KEY=VALUE` changes one preset value (a JSON value:
`--set learning_rate=1e-4 --set discriminator_filters=[32,64]`).
With `--out FOLDER` it writes a 10x10 grid of the averaged generator's digits
to FOLDER/dcgan_course_<budget>.png (dcgan preset) or dcgan_tf_docs_<budget>.png;
it prints one JSON line.
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
import tensorflow as tf  # noqa: E402

from lib import data, gan, metrics, plots  # noqa: E402
from lib.runs import gan as gan_runs  # noqa: E402


def _setting(text):
    key, _, value = text.partition("=")
    if not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _quality(images, reference):
    scores = metrics.sample_quality(images, reference)
    return {"fid": round(scores["fid"], 2), "kid": round(scores["kid"], 4),
            "confidently_read": round(scores["confidently_read"], 3), "classes_present": scores["classes_present"],
            "class_counts": scores["class_counts"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=[name for name, p in gan.PRESETS.items() if p["variant"] == "dcgan"],
                        default="dcgan")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="train for this wall-clock time (default 240)")
    budget.add_argument("--steps", type=int, help="train exactly this many steps instead")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="change one preset value (JSON), e.g. ema_decay=0.995")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-images", type=int, default=2000, help="samples measured per generator")
    parser.add_argument("--out", type=pathlib.Path, help="write the grid of digits into this folder")
    args = parser.parse_args(argv)
    if args.seconds is None and args.steps is None:
        args.seconds = 240.0

    digits = data.load_digits("mnist", offline=True, verbose=False)
    train_images = data.to_float_images(digits.train_images, (-1.0, 1.0))  # (4000, 28, 28, 1) in [-1, 1]
    reference = data.to_float_images(digits.test_images)  # (1000, 28, 28, 1) in [0, 1]
    settings = gan_runs.settings_for("dcgan", argparse.Namespace(preset=args.preset))
    for key, value in args.set:
        if key not in settings:
            parser.error(f"--set {key}: not a setting of the {args.preset} preset ({sorted(settings)})")
        settings[key] = value

    keras.utils.set_random_seed(args.seed)
    load_before = os.getloadavg()
    started = time.perf_counter()
    model = gan_runs.build_model(settings, seed=args.seed)
    step = tf.function(model.train_step)

    def spent(steps):
        if args.steps is not None:
            return steps >= args.steps
        return time.perf_counter() - started >= args.seconds

    steps = epoch = 0
    while not spent(steps):
        for batch in data.make_dataset(train_images, batch_size=settings["batch_size"], epoch=epoch, seed=args.seed):
            logs = step(batch)
            steps += 1
            if spent(steps) if args.steps is not None else (steps % 20 == 0 and spent(steps)):
                break
        epoch += 1
    float(logs["loss"])  # wait for the last step
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()

    averaged = model.generate(args.num_images, seed=args.seed + 1)
    raw = model.generate(args.num_images, seed=args.seed + 1, averaged=False)
    result = {
        "preset": args.preset, "changed": dict(args.set),
        "budget": f"{args.steps} steps" if args.steps is not None else f"{args.seconds:g} s",
        "seconds": round(seconds, 1), "steps": steps, "seconds_per_step": round(seconds / steps, 4),
        "batch_size": settings["batch_size"], "learning_rate": settings["learning_rate"],
        "ema_decay": settings["ema_decay"], "num_images": args.num_images,
        "averaged": _quality(averaged, reference) if settings["ema_decay"] is not None else None,
        "raw": _quality(raw, reference),
        "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpus": os.cpu_count(), "data": digits.source,
    }
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        budget_name = f"{args.steps}steps" if args.steps is not None else f"{int(args.seconds)}s"
        name = "course" if args.preset == "dcgan" else args.preset  # the course's default, or the docs' settings
        picture = plots.save_image_grid(averaged[:100], args.out / f"dcgan_{name}_{budget_name}.png", columns=10)
        result["grid"] = str(picture)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
