"""Prints images per second of the GAN training step: eager, tf.function, jit_compile.

    python benchmarks/bench_gan.py                 # every preset, 20 timed steps each mode
    python benchmarks/bench_gan.py --steps 50 --preset dcgan --preset tf_docs

The step is `lib.gan.GAN.train_step` (`critic_steps` discriminator updates,
one generator update and the averaged generator's update), run three ways on
the same real digits: eagerly, as a `tf.function`, and as a
`tf.function(jit_compile=True)`, for each preset of `lib.gan.PRESETS` (the
course's dcgan, cgan and wgan-gp, and the TensorFlow docs' DCGAN tutorial,
tf_docs). Images per second count the real images of one training step (a
WGAN-GP step makes five critic updates on the same batch). Warm-up steps
(tracing, compiling) are not timed. The figures depend on the machine and on
whatever else runs on it: the first lines name the machine and the load
average, and a figure taken while other jobs run is not final.
"""

import argparse
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import data, gan  # noqa: E402


def describe_machine():
    gpus = tf.config.list_physical_devices("GPU")
    gpu = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            f"GPU: {gpu or 'none'}; Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}")


def images_per_second(preset, mode, steps, warmup, images, labels):
    settings = gan.PRESETS[preset]
    keras.utils.set_random_seed(0)
    model = gan.make_gan(settings)
    batch = tf.constant(images[: settings["batch_size"]])
    if settings["num_classes"]:
        batch = (batch, tf.constant(labels[: settings["batch_size"]], tf.int32))
    if mode == "eager":
        step = model.train_step
    else:
        step = tf.function(model.train_step, jit_compile=(mode == "jit_compile"))
    for _ in range(warmup):
        step(batch)
    started = time.perf_counter()
    for _ in range(steps):
        logs = step(batch)
    float(logs["loss"])  # wait for the last step to finish
    seconds = (time.perf_counter() - started) / steps
    return settings["batch_size"] / seconds, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per mode (20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (3)")
    parser.add_argument("--preset", choices=sorted(gan.PRESETS), action="append",
                        help="which presets (default: all)")
    args = parser.parse_args(argv)
    digits = data.load_digits("mnist", verbose=False)
    images = data.to_float_images(digits.train_images[:512], (-1.0, 1.0))
    labels = digits.train_labels[:512]
    print(f"Machine: {describe_machine()}")
    print(f"Load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"Data: {digits.source}")
    print(f"{'preset':<9} {'batch':>5} {'mode':<12} {'s/step':>8} {'images/s':>9} {'x eager':>8}")
    for preset in args.preset or sorted(gan.PRESETS):
        eager = None
        for mode in ("eager", "tf.function", "jit_compile"):
            rate, seconds = images_per_second(preset, mode, args.steps, args.warmup, images, labels)
            eager = eager or rate
            print(f"{preset:<9} {gan.PRESETS[preset]['batch_size']:>5} {mode:<12} {seconds:8.3f} "
                  f"{rate:9.0f} {rate / eager:8.2f}", flush=True)
    print(f"Load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
