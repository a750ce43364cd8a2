"""Prints images per second of the VAE training step: eager, tf.function, jit_compile.

Usage:
    python benchmarks/bench_vae.py                     # the `vae` preset of lib/vae.py (what `train vae` trains)
    python benchmarks/bench_vae.py --preset tf_docs    # the TensorFlow docs' VAE
    python benchmarks/bench_vae.py --architecture mlp --steps 50

The step is `VAE.train_step` (binarise, encode, sample, decode, negative ELBO,
Adam update) on random images; a few warm-up steps (tracing and compiling) are
not timed. The figures depend on the machine and on whatever else runs on it.
"""

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import vae  # noqa: E402
from lib.runs import vae as runs  # noqa: E402


def describe_machine():
    """One line naming the machine: platform, CPU count, TensorFlow, GPU."""
    gpus = tf.config.list_physical_devices("GPU")
    gpu_names = [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]
    return (f"{platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
            f"GPU: {', '.join(gpu_names) if gpu_names else 'none'}")


def time_step(step, images, warmup, steps):
    """Seconds per step after `warmup` untimed steps."""
    for _ in range(warmup):
        step(images)
    started = time.perf_counter()
    for _ in range(steps):
        logs = step(images)
    float(logs["loss"])  # wait for the last step
    return (time.perf_counter() - started) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(vae.PRESETS), default="vae")
    parser.add_argument("--architecture", choices=vae.ARCHITECTURES, help="default: the preset's")
    parser.add_argument("--batch-size", type=int, help="default: the preset's")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    settings = runs.settings_for("vae", {"preset": args.preset, "architecture": args.architecture})
    # A decaying learning rate needs the run's length; the step's time does not depend on it.
    settings["steps_per_epoch"] = 4000 // settings["batch_size"]
    args.batch_size = args.batch_size or settings["batch_size"]
    images = tf.constant(np.random.default_rng(0).uniform(size=(args.batch_size, 28, 28, 1)).astype("float32"))
    print(describe_machine())
    print(f"VAE train_step, {args.preset} preset, {settings['architecture']}, latent_dim={settings['latent_dim']}, batch {args.batch_size}, "
          f"{args.warmup} warm-up + {args.steps} timed steps")
    for mode in ("eager", "tf.function", "tf.function(jit_compile=True)"):
        model = runs.build_model(settings, seed=0)
        if mode == "eager":
            step = model.train_step
        else:
            step = tf.function(model.train_step, jit_compile="jit" in mode)
        seconds = time_step(step, images, args.warmup, args.steps)
        print(f"{mode:>32}: {args.batch_size / seconds:9.0f} images/s  ({seconds * 1000:.1f} ms/step)")


if __name__ == "__main__":
    main()
