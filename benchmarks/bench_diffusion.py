"""Seconds to sample with the diffusion model against the number of DDIM steps: eager, tf.function, jit_compile.

    python benchmarks/bench_diffusion.py                          # 2,000 digits, DDIM 10/20/50 steps, three modes
    python benchmarks/bench_diffusion.py --num-images 2000 --steps 50 --modes function
    python benchmarks/bench_diffusion.py --quality --out docs/images   # FID against steps, DDIM and DDPM

Sampling is `DiffusionModel.generate` (chunks of 500 images, one network call
per chunk and step) with the course's default U-Net (`lib.diffusion.PRESETS["course"]`);
the weights do not change the time, so an untrained network is timed unless
`--weights NAME` names shipped weights (`data/weights/NAME.keras`). Each mode
is warmed up first (tracing, XLA compilation: reported apart), then timed.
The figures depend on the machine and on whatever else runs on it; the first
lines name the machine and the load average.

`--pictures` writes the README's pictures from the shipped weights:
`OUT/ddpm_samples.png` (100 digits, DDIM 50 steps), `OUT/ddpm_strip.png`
(DDPM's full chain from noise to digit) and `OUT/ddpm_cond_guidance.png`
(each row one asked-for digit, at the model's guidance scale).

`--quality` instead samples the shipped `ddpm` weights with DDIM and with DDPM's
ancestral sampler at several step counts (up to the full chain of T steps) and
scores each set with the course's classifier against the held-out digits
(FID, KID, the share confidently read). It writes
`OUT/ddpm_quality_vs_steps.json` (read by notebook 11) and a plot beside it.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lib import diffusion  # noqa: E402


def describe_machine():
    gpus = tf.config.list_physical_devices("GPU")
    gpu = ", ".join(tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus)
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
            f"GPU: {gpu or 'none'}; Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__}")


def load_model(weights):
    if weights:
        from lib import pretrained

        return pretrained.load(weights)
    keras.utils.set_random_seed(0)
    return diffusion.make_diffusion("course")


def time_sampling(model, modes, step_counts, num_images):
    rows = []
    for mode in modes:
        started = time.perf_counter()
        model.generate(min(num_images, 500), steps=2, mode=mode, seed=1)  # trace / compile
        warmup = time.perf_counter() - started
        for steps in step_counts:
            started = time.perf_counter()
            model.generate(num_images, steps=steps, mode=mode, seed=0)
            seconds = time.perf_counter() - started
            row = {"mode": mode, "steps": steps, "num_images": num_images, "seconds": round(seconds, 2),
                   "ms_per_image_step": round(1000 * seconds / (num_images * steps), 3),
                   "warmup_seconds": round(warmup, 2), "load_average_1min": round(os.getloadavg()[0], 2)}
            rows.append(row)
            print(f"{mode:<12} {steps:>5} {num_images:>6} {seconds:9.2f} {row['ms_per_image_step']:10.3f} "
                  f"{warmup:9.2f} {row['load_average_1min']:6.2f}", flush=True)
    return rows


def quality_against_steps(model, num_images, ddim_steps, ddpm_steps, seed=0):
    from lib import data, metrics

    digits = data.load_digits("mnist", offline=True, verbose=False)
    reference = data.to_float_images(digits.test_images)
    table = {"ddim": {}, "ddpm": {}}
    for sampler, counts in (("ddim", ddim_steps), ("ddpm", ddpm_steps)):
        for steps in counts:
            started = time.perf_counter()
            images = model.generate(num_images, steps=steps, sampler=sampler, seed=seed)
            seconds = time.perf_counter() - started
            quality = metrics.sample_quality(images, reference, seed=seed)
            table[sampler][steps] = {"fid": round(quality["fid"], 2), "kid": round(quality["kid"], 5),
                                     "confidently_read": round(quality["confidently_read"], 4),
                                     "classes_present": quality["classes_present"], "seconds": round(seconds, 1)}
            print(sampler, steps, json.dumps(table[sampler][steps]), flush=True)
    return table


def pictures(out):
    import matplotlib

    matplotlib.use("Agg")
    from lib import plots, pretrained
    from lib.plots import diffusion as diffusion_plots

    out.mkdir(parents=True, exist_ok=True)
    ddpm = pretrained.load("ddpm")
    plots.save_image_grid(ddpm.generate(100, seed=0, steps=50), out / "ddpm_samples.png", columns=10)
    _, snapshots = ddpm.sample_chain(3, seed=0, sampler="ddpm", steps=ddpm.timesteps, keep=10)
    diffusion_plots.plot_denoising_strip(snapshots).savefig(out / "ddpm_strip.png", dpi=100)
    conditional = pretrained.load("ddpm_cond")
    labels = np.repeat(np.arange(10), 10)
    plots.save_image_grid(conditional.generate(100, labels=labels, seed=0, steps=50), out / "ddpm_cond_guidance.png",
                          columns=10)
    print(f"Wrote {out / 'ddpm_samples.png'}, {out / 'ddpm_strip.png'}, {out / 'ddpm_cond_guidance.png'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num-images", type=int, default=2000)
    parser.add_argument("--steps", type=int, action="append", help="DDIM steps (default 10, 20, 50)")
    parser.add_argument("--modes", nargs="+", default=["eager", "function", "jit_compile"],
                        choices=["eager", "function", "jit_compile"])
    parser.add_argument("--weights", help="shipped weights to time (default: an untrained course U-Net)")
    parser.add_argument("--quality", action="store_true", help="FID against steps for the shipped ddpm weights")
    parser.add_argument("--pictures", action="store_true", help="the README's pictures from the shipped weights")
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    print(f"Machine: {describe_machine()}")
    print(f"Load average at start: {os.getloadavg()}")
    if args.pictures:
        pictures(args.out)
        return 0
    if args.quality:
        model = load_model(args.weights or "ddpm")
        started = time.perf_counter()
        table = quality_against_steps(model, args.num_images, args.steps or [5, 10, 20, 50, 100],
                                      [10, 50, 100, 250, model.timesteps])
        record = {"command": "python benchmarks/bench_diffusion.py --quality" + (
            f" --num-images {args.num_images}" if args.num_images != 2000 else ""),
                  "weights": f"data/weights/{args.weights or 'ddpm'}.keras", "num_images": args.num_images,
                  "reference": "the 1,000 offline held-out digits", "machine": describe_machine(),
                  "load_average": [round(x, 2) for x in os.getloadavg()],
                  "seconds": round(time.perf_counter() - started), "table": table}
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / "ddpm_quality_vs_steps.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        import matplotlib

        matplotlib.use("Agg")
        from lib.plots import diffusion as diffusion_plots

        figure = diffusion_plots.plot_quality_against_steps(
            table, title=f"DDIM and DDPM, {args.num_images} samples of the shipped ddpm weights")
        figure.savefig(args.out / "ddpm_quality_vs_steps.png", dpi=110)
        print(f"Wrote {path}")
        return 0
    model = load_model(args.weights)
    print(f"Network: {model.network.count_params():,} weights; {args.num_images} images in chunks of 500")
    print(f"{'mode':<12} {'steps':>5} {'images':>6} {'seconds':>9} {'ms/img/step':>10} {'warmup s':>9} {'load':>6}")
    time_sampling(model, args.modes, args.steps or [10, 20, 50], args.num_images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
