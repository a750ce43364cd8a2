"""Trains a VAE preset for a fixed budget (seconds or steps), then measures it in nats.

    python benchmarks/vae_quality_budget.py --preset course --seconds 240
    python benchmarks/vae_quality_budget.py --preset tf_docs --seconds 240
    python benchmarks/vae_quality_budget.py --preset course --steps 1800    # quality at a fixed step count
    python benchmarks/vae_quality_budget.py --preset course --steps 1800 --set learning_rate_decay=constant

The question it answers: on this machine, in the same 240 seconds, which
settings give the better VAE? "course" is what `python -m lib train vae` trains
(the "vae" preset of lib/vae.py); "tf_docs" is the TensorFlow docs'
convolutional VAE (its networks, latent 50, Adam 1e-4, batch 32), trained with
the same step. Both train on the 4,000 offline MNIST training digits with the
model's own `train_step` as a `tf.function` (as `lib.training.train` runs it)
until the budget is spent (building and tracing included: a user waits for them
too). Then it measures, on the first 500 of the 1,000 held-out digits binarised
once (`vae.binarize_held_out`), the importance-weighted estimate of -log p(x)
with k = 500 samples per image and the negative ELBO, in nats per image, with
a seed unrelated to training's (`vae.held_out_nats`).

A preset whose learning rate decays to 0 over the run ("linear_end", "cosine")
must know the run's length: with `--steps N` it is N
(`vae.make_optimizer(total_steps=N)`); with `--seconds S` the script times the
first 20 steps after tracing and plans the same decay to end when the budget
does (what a user does by choosing `--epochs` for the time they have).

A timed budget depends on the machine and on whatever else runs on it, so the
script prints the load average beside its figures; `--steps N` trains exactly
N steps instead (the same quality whatever the load), for studying settings on
a busy machine. `--set KEY=VALUE` changes one preset value (a JSON value:
`--set latent_dim=16 --set filters=[16,32]`). With `--out` it writes a 10x10
grid of samples to <out>/vae_<preset>_<budget>.png. It prints one JSON line.
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import data, plots, vae  # noqa: E402
from lib.runs import vae as vae_runs  # noqa: E402

PRESETS = {"course": "vae", "tf_docs": "tf_docs"}  # benchmark name -> lib.vae.PRESETS key
HELD_OUT_IMAGES = 500
IWAE_K = 500
MEASURE_SEED = 12345  # the measurement's samples share nothing with training's seeds
CALIBRATION_STEPS = 20


class PlannedDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lib.vae's decay (`decay`: "linear_end" or "cosine") over a number of steps held in a variable.

    The variable is set once the first steps have been timed; the rate does not
    move before, so the steps taken until then are those of the planned run.
    """

    def __init__(self, initial_learning_rate, total_steps, decay):
        self.initial_learning_rate = initial_learning_rate
        self.total_steps = total_steps
        self.decay = decay

    def __call__(self, step):
        progress = tf.minimum(tf.cast(step, tf.float32) / tf.cast(self.total_steps, tf.float32), 1.0)
        if self.decay == "cosine":
            return self.initial_learning_rate * 0.5 * (1.0 + tf.cos(math.pi * progress))
        end_fraction = vae.LinearEndDecay(1.0, 1).end_fraction
        return self.initial_learning_rate * tf.clip_by_value((1.0 - progress) / end_fraction, 0.0, 1.0)


def _setting(text):
    key, _, value = text.partition("=")
    if not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="course",
                        help="course: what `python -m lib train vae` trains; tf_docs: the TensorFlow docs' VAE")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--seconds", type=float, help="train for this wall-clock time (default 240)")
    budget.add_argument("--steps", type=int, help="train exactly this many steps instead")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="KEY=VALUE",
                        help="change one preset value (JSON), e.g. learning_rate=2e-3")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, help="write a grid of samples into this folder")
    args = parser.parse_args(argv)
    if args.seconds is None and args.steps is None:
        args.seconds = 240.0

    digits = data.load_digits("mnist", offline=True, verbose=False)
    train_images = data.to_float_images(digits.train_images)  # (4000, 28, 28, 1) in [0, 1]
    held_out = vae.binarize_held_out(data.to_float_images(digits.test_images[:HELD_OUT_IMAGES]))
    settings = vae_runs.settings_for("vae", {"preset": PRESETS[args.preset]})
    for key, value in args.set:
        if key not in vae.PRESETS["vae"]:
            parser.error(f"--set {key}: not a preset setting ({sorted(vae.PRESETS['vae'])})")
        settings[key] = value
    steps_per_epoch = len(train_images) // settings["batch_size"]
    decays = settings["learning_rate_decay"] != "constant"

    model_settings = {key: settings[key] for key in vae.PRESETS["vae"]}
    load_before = os.getloadavg()
    started = time.perf_counter()
    model = vae.make_vae(settings["preset"], seed=args.seed, **model_settings)
    planned = args.steps
    if decays and args.steps is None:
        # The run's length is not known before the steps are timed: the decay reads it from a
        # variable, set once the first steps have been timed (the rate barely moves before).
        total = tf.Variable(10**9, dtype=tf.int64, trainable=False, name="planned_steps")
        model.compile(optimizer=keras.optimizers.Adam(
            PlannedDecay(settings["learning_rate"], total, settings["learning_rate_decay"])))
    else:
        model.compile(optimizer=vae.make_optimizer(settings["preset"], total_steps=planned, **model_settings))
    step = tf.function(model.train_step)

    def spent(steps):
        if steps == 0:
            return False  # at least one step, however small the budget
        if planned is not None:
            return steps >= planned or (args.seconds is not None and time.perf_counter() - started >= args.seconds)
        return time.perf_counter() - started >= args.seconds

    steps = epoch = 0
    while not spent(steps):
        for batch in data.make_dataset(train_images, batch_size=settings["batch_size"], epoch=epoch, seed=args.seed):
            logs = step(batch)
            steps += 1
            if steps == 1:
                float(logs["loss"])  # traced and run once
                timed = time.perf_counter()
            elif steps == 1 + CALIBRATION_STEPS and planned is None and decays:
                float(logs["loss"])
                per_step = (time.perf_counter() - timed) / CALIBRATION_STEPS
                planned = steps + max(1, int((args.seconds - (time.perf_counter() - started)) / per_step))
                total.assign(planned)
            if spent(steps) if planned is not None else (steps % 20 == 0 and spent(steps)):
                break
        epoch += 1
    float(logs["loss"])  # wait for the last step
    seconds = time.perf_counter() - started
    load_after = os.getloadavg()

    measured = time.perf_counter()
    nats = vae.held_out_nats(model, held_out, k=IWAE_K, seed=MEASURE_SEED)
    result = {
        "preset": args.preset, "lib_preset": PRESETS[args.preset], "changed": dict(args.set),
        "budget": f"{args.steps} steps" if args.steps is not None else f"{args.seconds:g} s",
        "seconds": round(seconds, 1), "steps": steps, "planned_steps": planned,
        "seconds_per_step": round(seconds / steps, 4), "epochs": round(steps / steps_per_epoch, 1),
        "nll_nats": round(nats["nll_nats"], 2), "neg_elbo_nats": round(nats["negative_elbo_nats"], 2),
        "kl_nats": round(nats["kl_nats"], 2), "k": IWAE_K, "held_out_images": nats["images"],
        "measure_seconds": round(time.perf_counter() - measured, 1),
        "settings": {key: settings[key] for key in vae.PRESETS["vae"] if key != "epochs"},
        "load_average_1min": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpus": os.cpu_count(), "data": digits.source,
    }
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        budget_name = f"{args.steps}steps" if args.steps is not None else f"{int(args.seconds)}s"
        picture = plots.save_image_grid(model.generate(100, seed=args.seed), args.out /
                                        f"vae_{args.preset}_{budget_name}.png", columns=10)
        result["grid"] = str(picture)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    keras.config.disable_interactive_logging()
    sys.exit(main())
