"""Command-line runs of the diffusion chapter: train, sample (DDIM or DDPM) and evaluate (FID/KID).

`python -m lib train ddpm|ddpm-cond --out RUN_DIR` calls `train` here. It
checks every setting and loads the data, lets `lib.training.prepare_run_dir`
check the folder (it refuses one that holds another run) and write
`RUN_DIR/run.json`, then trains with `lib.training.train` (a checkpoint every
epoch, `--resume` repeats an uninterrupted run exactly, TensorBoard logs in
`RUN_DIR/logs`, Ctrl-C keeps the last checkpoint). After each epoch it writes
a grid of samples (DDIM, 20 steps, from fixed noise; one row per digit for
ddpm-cond) to `RUN_DIR/samples/epoch_NNN.png` and the model to
`RUN_DIR/model.keras`.

The settings start from `lib.diffusion.PRESETS` ("course" unless `--preset`);
`ddpm-cond` adds ten classes (and classifier-free guidance), and the flags
override the rest.

`python -m lib sample RUN_DIR -n 64 -o s.npy [--steps 20] [--guidance 2] [--label 3]`
and `python -m lib evaluate RUN_DIR --json [--steps 50] [--guidance 2] [--num-images 2000]`
call `sample` and `evaluate`; both sample with DDIM (eta = 0) from the EMA
weights, with a progress bar on stderr.

Public names: KINDS, add_arguments, settings_for, build_model, train, load,
sample, evaluate, measure.
"""

import argparse
import pathlib
import time

import numpy as np

from lib import data as data_module
from lib import diffusion, runs, training

KINDS = ("ddpm", "ddpm-cond")

# What makes each kind that kind, whatever preset it starts from.
_KIND_SETTINGS = {"ddpm": {"num_classes": None}, "ddpm-cond": {"num_classes": 10}}
# Flags that override a preset's value (argparse dest names are the settings' names).
_FLAGS = ("batch_size", "learning_rate", "warmup_steps", "schedule", "timesteps", "parameterization", "ema_decay",
          "label_dropout", "guidance", "sampling_steps", "epochs")
GRID_STEPS = 20  # DDIM steps of the per-epoch grid: cheap, and already readable


def add_arguments(parser):
    """Adds the diffusion flags to `python -m lib train ddpm|ddpm-cond` (defaults: the preset's)."""
    group = parser.add_argument_group("diffusion (ddpm, ddpm-cond); every default comes from the preset")
    group.add_argument("--preset", choices=sorted(diffusion.PRESETS), help="settings to start from (course)")
    group.add_argument("--batch-size", type=int, help="images per step")
    group.add_argument("--learning-rate", type=float, help="Adam's learning rate after the warm-up")
    group.add_argument("--warmup-steps", type=int, help="steps of linear learning-rate warm-up")
    group.add_argument("--schedule", help=f"noise schedule: {' or '.join(diffusion.SCHEDULES)}")
    group.add_argument("--timesteps", type=int, help="T, the number of noise levels")
    group.add_argument("--parameterization", help=f"what the network predicts: {', '.join(diffusion.PARAMETERIZATIONS)}")
    group.add_argument("--ema-decay", type=float, help="decay of the weights' moving average used for sampling")
    group.add_argument("--label-dropout", type=float, help="ddpm-cond: share of steps trained without the label")
    group.add_argument("--guidance", type=float, help="ddpm-cond: the default guidance scale of sampling")
    group.add_argument("--sampling-steps", type=int, help="the default DDIM steps of `evaluate`")
    group.add_argument("--train-size", type=int, help="train on the first N training images only")
    group.add_argument("--jit-compile", action="store_true", help="compile the training step with XLA")
    group.add_argument("--offline", action="store_true", help="use the offline digits even when online")


def _values(args):
    if args is None:
        return {}
    return dict(vars(args)) if isinstance(args, argparse.Namespace) else dict(args)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Expected a positive integer --{name.replace('_', '-')}. Received: {value!r}")


def settings_for(kind, args=None):
    """Every setting of a run of `kind`: the preset, what the kind fixes, then the flags.

    Returns:
        A JSON-ready dict: the preset's keys plus "preset", "num_classes",
        "jit_compile", "offline", "train_size".

    Raises:
        ValueError: for an unknown kind or preset, or a setting out of range.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    values = _values(args)
    preset = values.get("preset") or "course"
    if preset not in diffusion.PRESETS:
        raise ValueError(f"Expected --preset in {sorted(diffusion.PRESETS)}. Received: {preset!r}")
    flags = {name: values[name] for name in _FLAGS if values.get(name) is not None}
    if kind == "ddpm":
        for name in ("guidance", "label_dropout"):
            if name in flags:
                raise ValueError(f"Expected no --{name.replace('_', '-')} for ddpm (unconditional); "
                                 f"it is for ddpm-cond. Received: --{name.replace('_', '-')} {flags[name]}")
    settings = {**diffusion.PRESETS[preset], **_KIND_SETTINGS[kind], **flags, "preset": preset,
                "jit_compile": bool(values.get("jit_compile")), "offline": bool(values.get("offline")),
                "train_size": values.get("train_size")}
    if settings["train_size"] is not None:
        _check_positive_int("train_size", settings["train_size"])
    for name in ("batch_size", "timesteps", "sampling_steps", "epochs"):
        _check_positive_int(name, settings[name])
    if isinstance(settings["warmup_steps"], bool) or not isinstance(settings["warmup_steps"], int) \
            or settings["warmup_steps"] < 0:
        raise ValueError(f"Expected --warmup-steps >= 0. Received: {settings['warmup_steps']!r}")
    if not settings["learning_rate"] > 0:
        raise ValueError(f"Expected a positive --learning-rate. Received: {settings['learning_rate']!r}")
    if settings["schedule"] not in diffusion.SCHEDULES:
        raise ValueError(f"Expected --schedule in {diffusion.SCHEDULES}. Received: {settings['schedule']!r}")
    if settings["parameterization"] not in diffusion.PARAMETERIZATIONS:
        raise ValueError(f"Expected --parameterization in {diffusion.PARAMETERIZATIONS}. "
                         f"Received: {settings['parameterization']!r}")
    if not 0.0 <= settings["ema_decay"] < 1.0:
        raise ValueError(f"Expected --ema-decay in [0, 1). Received: {settings['ema_decay']!r}")
    if not 0.0 <= settings["label_dropout"] < 1.0:
        raise ValueError(f"Expected --label-dropout in [0, 1). Received: {settings['label_dropout']!r}")
    if not settings["guidance"] >= 0:
        raise ValueError(f"Expected --guidance >= 0. Received: {settings['guidance']!r}")
    if settings["sampling_steps"] > settings["timesteps"]:
        raise ValueError(f"Expected --sampling-steps <= --timesteps ({settings['timesteps']}). "
                         f"Received: {settings['sampling_steps']}")
    return settings


def build_model(settings, *, seed=0):
    """Builds and compiles the `DiffusionModel` that a settings dict (see `settings_for`) describes."""
    model_settings = {name: settings[name] for name in diffusion.PRESETS[settings["preset"]]}
    return diffusion.make_diffusion(settings["preset"], num_classes=settings["num_classes"], seed=seed, **model_settings)


def _load_data(settings, verbose=True):
    """The run's digits, with the same offline choice it was trained with."""
    return data_module.load_digits(settings.get("dataset", "mnist"), offline=True if settings.get("offline") else None,
                                   verbose=verbose)


def _grid_labels(model, count):
    """Labels 0, 1, ..., 9, 0, ... (ten of each digit, a row each in a 10-column grid), else None."""
    return np.repeat(np.arange(model.num_classes), -(-count // model.num_classes))[:count] if model.num_classes \
        else None


def train(kind, run_dir, *, epochs=None, dataset="mnist", seed=0, resume=False, args=None, progress=True, data=None):
    """Trains a diffusion model of `kind` in `run_dir` (see the module docstring).

    Args:
        kind: "ddpm" or "ddpm-cond".
        run_dir: the run folder.
        epochs: total epochs (None: the preset's).
        dataset: "mnist" or "fashion_mnist".
        seed: seed of the weights, the batch order and every draw of the steps.
        resume: continue from the latest checkpoint (settings come from run.json).
        args: argparse Namespace or dict of flags (see `settings_for`).
        progress: show progress bars.
        data: an already loaded `lib.data.DigitData` (saves reloading).

    Returns:
        The history (list of per-epoch dicts).

    Raises:
        ValueError: for bad settings, a folder holding another run (without
            `resume`), or `resume` without a run of this kind.
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        settings = training.read_run_config(run_dir)["config"]  # checked again by prepare_run_dir
        seed, dataset = settings["seed"], settings["dataset"]
    else:
        settings = settings_for(kind, args)
        if dataset not in data_module.DATASETS:
            raise ValueError(f"Expected --dataset in {data_module.DATASETS}. Received: {dataset!r}")
        settings.update(dataset=dataset, seed=int(seed))
    if epochs is not None:
        _check_positive_int("epochs", epochs)
        settings["epochs"] = int(epochs)
    if data is None:
        data = _load_data(settings)
    images = data_module.to_float_images(data.train_images, (-1.0, 1.0))  # (N, 28, 28, 1) in [-1, 1]
    labels = data.train_labels if settings["num_classes"] else None
    if settings.get("train_size"):
        images = images[: settings["train_size"]]
        labels = None if labels is None else labels[: settings["train_size"]]
    if settings["batch_size"] > len(images):
        raise ValueError(f"Expected --batch-size <= {len(images)} training images. Received: {settings['batch_size']}")
    settings.update(data=data.source)
    saved = training.prepare_run_dir(run_dir, kind, settings, resume=resume)
    if resume:
        settings = {**saved, "epochs": settings["epochs"]}

    training.set_seed(seed)
    model = build_model(settings, seed=seed)
    grid_labels = _grid_labels(model, 100)
    last_grid = {}

    def sample_images():
        last_grid["images"] = model.generate(100, labels=grid_labels, seed=0, steps=GRID_STEPS)
        return last_grid["images"]

    def make_dataset(epoch):
        return data_module.make_dataset(images, labels, batch_size=settings["batch_size"], epoch=epoch, seed=seed)

    def on_epoch_end(epoch, logs):
        from lib import plots  # matplotlib-free grid writer

        folder = run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        grid = last_grid.pop("images", None)  # drawn for TensorBoard just before
        plots.save_image_grid(sample_images() if grid is None else grid, folder / f"epoch_{epoch:03d}.png",
                              columns=10)
        temporary = run_dir / "model.tmp.keras"
        model.save(temporary)
        temporary.replace(run_dir / "model.keras")

    if progress:
        print(f"Training {kind} ({settings['preset']} preset: U-Net widths {settings['widths']}, "
              f"{settings['schedule']} schedule, T {settings['timesteps']}, {settings['parameterization']}-prediction, "
              f"batch {settings['batch_size']}, lr {settings['learning_rate']}) for {settings['epochs']} epochs "
              f"into {run_dir}")
    return training.train(model, make_dataset, epochs=settings["epochs"], run_dir=run_dir, resume=resume,
                          jit_compile=settings["jit_compile"], on_epoch_end=on_epoch_end,
                          sample_images=sample_images, progress=progress)


def load(run_dir):
    """Rebuilds the run's model from run.json and restores its latest checkpoint.

    Returns:
        (model, run): run is run.json's dict plus "epochs_done".

    Raises:
        ValueError: if run.json or the checkpoint is missing or corrupt, or the run is not a diffusion run.
    """
    run = training.read_run_config(run_dir)
    if run["kind"] not in KINDS:
        raise ValueError(f"Expected a diffusion run ({', '.join(KINDS)}). Received: a {run['kind']} run in {run_dir}")
    model = build_model(run["config"], seed=run["config"].get("seed", 0))
    run["epochs_done"] = training.restore_latest(model, run_dir)
    return model, run


def _progress_callback(progress, description):
    """A `callback(done, total)` drawing a tqdm bar on stderr, and a function that closes it."""
    if not progress:
        return None, lambda: None
    from tqdm.auto import tqdm

    bar = {}

    def callback(done, total):
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=description, leave=False, disable=None)
        bar["bar"].update(1)

    return callback, lambda: bar["bar"].close() if "bar" in bar else None


def _labels_for(model, run, n, label):
    if label is None:
        return np.arange(n) % model.num_classes if model.num_classes else None
    if model.num_classes is None:
        raise ValueError(f"Expected no --label for an unconditional {run['kind']} run (it is for ddpm-cond). "
                         f"Received: --label {label}")
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < model.num_classes:
        raise ValueError(f"Expected --label in [0, {model.num_classes - 1}]. Received: --label {label!r}")
    return np.full(n, int(label))


def _check_guidance_option(model, run, guidance):
    if guidance is not None and model.num_classes is None:
        raise ValueError(f"Expected no --guidance for an unconditional {run['kind']} run: classifier-free guidance "
                         f"needs a model trained with labels (ddpm-cond). Received: --guidance {guidance}")


def sample(run_dir, n, *, seed=0, progress=True, steps=None, guidance=None, label=None, **options):
    """Returns `n` generated images, float32 (n, 28, 28, 1) in [0, 1], drawn with DDIM.

    Args:
        run_dir: a run folder made by `train`.
        n: how many images.
        seed: seed of the starting noise.
        progress: a progress bar on stderr.
        steps: DDIM steps (default: the run's `sampling_steps`).
        guidance: ddpm-cond only: the guidance scale (default: the run's).
        label: ddpm-cond only: draw only this digit (default 0, 1, ..., 9 in turn).

    Raises:
        ValueError: for an option this run does not take, a label out of range, bad steps.
    """
    runs.check_options(options, (), "diffusion runs")
    _check_positive_int("n", n)
    model, run = load(run_dir)
    _check_guidance_option(model, run, guidance)
    labels = _labels_for(model, run, n, label)
    steps = run["config"]["sampling_steps"] if steps is None else steps
    callback, close = _progress_callback(progress, f"sampling ({steps} DDIM steps)")
    try:
        return model.generate(n, labels=labels, seed=seed, steps=steps, guidance=guidance, callback=callback)
    finally:
        close()


def evaluate(run_dir, *, seed=0, progress=True, steps=None, guidance=None, num_images=None, **options):
    """FID, KID and readability of DDIM samples against the held-out digits.

    Args:
        run_dir: a run folder made by `train`.
        seed: the sampling seed.
        progress: a progress bar on stderr.
        steps: DDIM steps (default: the run's `sampling_steps`).
        guidance: ddpm-cond only: the guidance scale (default: the run's).
        num_images: how many samples (default 2,000); all held-out digits are the reference.

    Returns:
        A JSON-ready dict: fid, kid, kid_std, confidently_read, class_counts,
        classes_present (and label_accuracy for ddpm-cond), sampling_steps,
        guidance, sampling_seconds, num_generated, num_reference, kind,
        epochs_done, reference, classifier.
    """
    from lib import metrics  # imported here: scipy is only needed to evaluate

    runs.check_options(options, (), "diffusion runs")
    model, run = load(run_dir)
    _check_guidance_option(model, run, guidance)
    count = 2000 if num_images is None else num_images
    _check_positive_int("num_images", count)
    steps = run["config"]["sampling_steps"] if steps is None else steps
    digits = _load_data(run["config"], verbose=False)
    reference = data_module.to_float_images(digits.test_images)  # (M, 28, 28, 1) in [0, 1]
    labels = _labels_for(model, run, count, None)
    callback, close = _progress_callback(progress, f"sampling {count} images ({steps} DDIM steps)")
    started = time.perf_counter()
    try:
        generated = model.generate(count, labels=labels, seed=seed, steps=steps, guidance=guidance, callback=callback)
    finally:
        close()
    seconds = time.perf_counter() - started
    result = metrics.sample_quality(generated, reference, labels=labels, seed=seed)
    result.update(sampling_steps=int(steps), sampler="ddim", sampling_seconds=round(seconds, 2),
                  guidance=None if model.num_classes is None else (model.guidance if guidance is None else guidance),
                  kind=run["kind"], epochs_done=run["epochs_done"], reference=digits.source)
    return result


def measure(model, *, seed=0, num_images=1000):
    """The measure of the shipped diffusion weights (lib.pretrained): 1,000 DDIM samples.

    50 steps for an unconditional model; 25 for a conditional one, which calls
    the network twice per step for guidance (at the model's own scale), so both
    take about the same time.

    Args:
        model: a `lib.diffusion.DiffusionModel`.
        seed: seed of the samples.
        num_images: how many samples to score (fewer for a quick check: FID is
            biased upwards for small sets, so compare only at the same number).

    Returns:
        `lib.metrics.generator_quality`'s dict (fid, kid, confidently_read,
        classes_present, label_accuracy for a conditional model, sampling_seconds)
        plus "sampling_steps".
    """
    from lib import metrics

    steps = 50 if model.num_classes is None else 25
    result = metrics.generator_quality(model, seed=seed, num_images=num_images, steps=steps)
    result["sampling_steps"] = steps
    return result
