"""Makes one of the course's shipped models: data/weights/NAME.keras and its record.

    python scripts/make_weights.py dcgan            # train, export, measure, record
    python scripts/make_weights.py dcgan --resume   # continue a run that was stopped
    python scripts/make_weights.py dcgan --export-only  # re-export and re-measure runs/weights/dcgan

NAME is a key of `lib.pretrained.SHIPPED`, which holds the training command
(`python -m lib train KIND --out runs/weights/NAME ...`), what is exported, and
the measure. The script runs that command through the course's own command
line, loads the trained run, exports the model without its optimizer
(`data/weights/NAME.keras`, checked to load with safe mode on), measures it,
and writes `data/weights/NAME.json`: the commands, the machine, the training
time (the sum of the epochs' step time in the run's history), the date and the
quality. Both files are written through temporary files, never half-written.
"""

import argparse
import datetime
import inspect
import json
import os
import pathlib
import platform
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import cli, pretrained, runs, training  # noqa: E402


def machine():
    """A short description of this computer, for the record."""
    model = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU(s)" if gpus else "no GPU"
    return f"{os.cpu_count()}-core CPU ({model}), {device}, TensorFlow {tf.__version__}, Keras {keras.__version__}"


def without_optimizer(model):
    """A copy of a composite model with the same weights and no optimizer state."""
    if isinstance(model, keras.Model) and type(model).__name__ not in ("Functional", "Sequential"):
        copy = type(model).from_config(model.get_config())
        copy.set_weights(model.get_weights())
        return copy
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(pretrained.SHIPPED))
    parser.add_argument("--resume", action="store_true", help="continue runs/weights/NAME")
    parser.add_argument("--export-only", action="store_true", help="skip training; export runs/weights/NAME")
    args = parser.parse_args(argv)

    entry = pretrained.SHIPPED[args.name]
    run_dir = ROOT / "runs" / "weights" / args.name
    command = shlex.split(pretrained.train_command(args.name))[3:]  # after "python -m lib"
    command[command.index("--out") + 1] = str(run_dir)
    started = time.perf_counter()
    if not args.export_only:
        status = cli.main(command + (["--resume"] if args.resume else []))
        if status:
            return status
    family = runs.family_of_kind(entry["kind"])
    model, run = runs.family_module(family).load(run_dir)
    shipped = model if entry["export"] is None else getattr(model, entry["export"])
    if inspect.ismethod(shipped):  # an export method, e.g. DiffusionModel.export_for_sampling (EMA weights only)
        shipped = shipped()
    shipped = without_optimizer(shipped)

    pretrained.WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
    path = pretrained.weights_path(args.name)
    temporary = path.with_name(path.stem + ".tmp.keras")
    shipped.save(temporary)
    reloaded = keras.saving.load_model(temporary, compile=False, safe_mode=True)  # must load in safe mode
    quality = pretrained.measure(args.name, reloaded, seed=0)
    check = entry.get("check")  # a cheaper measure the tests repeat (fewer samples)
    check_quality = pretrained.measure(args.name, reloaded, seed=0, **check) if check else None
    os.replace(temporary, path)

    history = [json.loads(line) for line in (run_dir / training.HISTORY_FILE).read_text().splitlines() if line]
    made = {
        "name": args.name,
        "file": f"data/weights/{args.name}.keras",
        "command": pretrained.make_command(args.name),
        "train_command": pretrained.train_command(args.name),
        "kind": entry["kind"],
        "epochs": len(history),
        "training_seconds": round(sum(row.get("seconds", 0.0) for row in history), 1),
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "settings": run["config"],
        "quality": quality,
        **({"check": check, "check_quality": check_quality} if check else {}),
        "measure": entry["measure"],
        "megabytes": round(path.stat().st_size / 2**20, 2),
    }
    record = pretrained.record_path(args.name)
    temporary = record.with_name(record.name + ".tmp")
    temporary.write_text(json.dumps(made, indent=1, sort_keys=True) + "\n")
    os.replace(temporary, record)
    print(f"Wrote {path} ({made['megabytes']} MB) and {record} in {time.perf_counter() - started:.0f} s")
    print(json.dumps(quality, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
