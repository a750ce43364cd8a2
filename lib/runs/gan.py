"""Command-line runs of the GAN chapter: train, sample and evaluate (FID/KID).

`python -m lib train dcgan|cgan|wgan-gp --out RUN_DIR` calls `train` here. It
checks every setting (the kind's preset in `lib.gan.PRESETS`, changed by the
flags), loads the digits, records the run (`lib.training.prepare_run_dir`),
then trains with `lib.training.train`: a checkpoint every epoch, `--resume`
repeating an uninterrupted run exactly, TensorBoard logs, a stop on a
non-finite loss. After each epoch it writes a grid of samples from fixed
noise, `RUN_DIR/samples/epoch_NNN.png` (for the conditional GAN, one row per
digit), and the generator that `generate` samples from (the averaged one),
`RUN_DIR/generator.keras`.

`python -m lib sample RUN_DIR -n 1000 -o samples.npy` and
`python -m lib evaluate RUN_DIR --json` call `sample` and `evaluate`, which
rebuild the model from run.json and restore the latest checkpoint, so they work
on a run that was killed at any moment after its first epoch.

Public names: KINDS, add_arguments, settings_for, build_model, train, load,
sample, evaluate.
"""

import pathlib

import keras
import numpy as np

from lib import data as data_module
from lib import gan, runs, training

KINDS = ("dcgan", "cgan", "wgan-gp")


def add_arguments(parser):
    """Adds the GAN flags to `python -m lib train dcgan|cgan|wgan-gp` (defaults: lib.gan.PRESETS)."""
    parser.add_argument("--preset", choices=sorted(gan.PRESETS),
                        help="the settings to start from (default: the kind's own; dcgan also takes tf_docs, "
                             "the TensorFlow tutorial's DCGAN)")
    parser.add_argument("--batch-size", type=int, help="images per step (default: the preset's)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate of both networks (the preset's)")
    parser.add_argument("--latent-dim", type=int, help="size of the noise vector (the preset's)")
    parser.add_argument("--ema-decay", type=float,
                        help="decay of the averaged generator that samples, in [0, 1) (the preset's)")
    parser.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="float16 compute with loss scaling (a win on recent GPUs, not on CPUs)")
    parser.add_argument("--offline", action="store_true", help="use the offline digits even when online")


def settings_for(kind, args=None):
    """All settings of a run of `kind`: its preset (or --preset's), then the flags.

    Raises:
        ValueError: for an unknown kind, a preset of another kind, or a setting
            out of range.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a GAN kind in {KINDS}. Received: {kind!r}")
    preset = getattr(args, "preset", None) or kind
    settings = dict(gan.PRESETS[preset], preset=preset)
    if settings["variant"] != kind:
        raise ValueError(f"Expected a {kind} preset for `train {kind}`. Received: --preset {preset}, "
                         f"a {settings['variant']} preset")
    for name in ("batch_size", "learning_rate", "latent_dim", "ema_decay"):
        value = getattr(args, name, None)
        if value is not None:
            settings[name] = value
    settings["jit_compile"] = bool(getattr(args, "jit_compile", False))
    settings["mixed_precision"] = bool(getattr(args, "mixed_precision", False))
    settings["offline"] = bool(getattr(args, "offline", False))
    for name in ("batch_size", "latent_dim"):
        if not isinstance(settings[name], int) or settings[name] <= 0:
            raise ValueError(f"Expected a positive integer --{name.replace('_', '-')}. Received: {settings[name]!r}")
    if not settings["learning_rate"] > 0:
        raise ValueError(f"Expected a positive --learning-rate. Received: {settings['learning_rate']!r}")
    if settings["ema_decay"] is not None and not 0 <= settings["ema_decay"] < 1:
        raise ValueError(f"Expected --ema-decay in [0, 1). Received: {settings['ema_decay']!r}")
    return settings


def build_model(settings, *, seed=0):
    """Builds and compiles the GAN that `settings` describe (see `lib.gan.make_gan`)."""
    if settings.get("mixed_precision"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    model = gan.make_gan(settings, seed=seed)
    if settings.get("mixed_precision"):
        model.compile(keras.optimizers.LossScaleOptimizer(model.generator_optimizer),
                      keras.optimizers.LossScaleOptimizer(model.discriminator_optimizer))
    return model


def _fixed_inputs(model, count=100, seed=1234):
    """The same noise (and labels: ten of each digit, one row each) for every grid."""
    noise = np.random.default_rng(seed).standard_normal((count, model.latent_dim)).astype("float32")
    labels = np.tile(np.arange(10), count // 10) if model.num_classes else None
    return noise, labels


def train(kind, run_dir, *, epochs=None, dataset="mnist", seed=0, resume=False, args=None, progress=True):
    """Trains a GAN of `kind` into `run_dir` (see the module docstring).

    Raises:
        ValueError: for bad settings, an occupied run folder without `resume`,
            or `resume` without a run of this kind and a checkpoint.
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        settings = training.prepare_run_dir(run_dir, kind, None, resume=True)
        seed, dataset = settings["seed"], settings["dataset"]
    else:
        settings = settings_for(kind, args)
        if dataset not in data_module.DATASETS:
            raise ValueError(f"Expected --dataset in {data_module.DATASETS}. Received: {dataset!r}")
        settings.update(seed=seed, dataset=dataset)
    epochs = settings["epochs"] if epochs is None else epochs
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"Expected a positive integer --epochs. Received: {epochs!r}")

    digits = data_module.load_digits(dataset, offline=True if settings.get("offline") else None, seed=0)
    images = data_module.to_float_images(digits.train_images, (-1.0, 1.0))  # (N, 28, 28, 1), tanh range
    labels = digits.train_labels if settings["num_classes"] else None
    if settings["batch_size"] > len(images):
        raise ValueError(f"Expected --batch-size <= {len(images)} images. Received: {settings['batch_size']}")
    if not resume:
        settings["data"] = digits.source
        training.prepare_run_dir(run_dir, kind, settings, resume=False)

    training.set_seed(seed)
    model = build_model(settings, seed=seed)
    noise, fixed_labels = _fixed_inputs(model)
    samples_dir = run_dir / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)

    def grid():
        return model.generate(noise=noise, labels=fixed_labels)  # (100, 28, 28, 1) in [0, 1]

    def on_epoch_end(epoch, logs):
        from lib import plots  # matplotlib-free PNG writer

        plots.save_image_grid(grid(), samples_dir / f"epoch_{epoch:03d}.png", columns=10)
        temporary = run_dir / "generator.tmp.keras"
        model.sampling_generator().save(temporary)
        temporary.replace(run_dir / "generator.keras")

    def make_dataset(epoch):
        return data_module.make_dataset(images, labels, batch_size=settings["batch_size"], epoch=epoch, seed=seed)

    print(f"Training {kind} ({settings['preset']} preset, batch {settings['batch_size']}, "
          f"lr {settings['learning_rate']}) for {epochs} epochs into {run_dir}")
    return training.train(model, make_dataset, epochs=epochs, run_dir=run_dir, resume=resume,
                          jit_compile=settings["jit_compile"], on_epoch_end=on_epoch_end, sample_images=grid,
                          progress=progress)


def load(run_dir):
    """Rebuilds the GAN of a run folder and restores its latest checkpoint.

    Returns:
        (model, run) where run is the parsed run.json plus "epochs_done".

    Raises:
        ValueError: if run.json or the checkpoint is missing or corrupt.
    """
    run = training.read_run_config(run_dir)
    if run["kind"] not in KINDS:
        raise ValueError(f"Expected a GAN run ({KINDS}). Received: a {run['kind']} run in {run_dir}")
    model = build_model(run["config"], seed=run["config"]["seed"])
    run["epochs_done"] = training.restore_latest(model, run_dir)
    return model, run


def _labels(model, n, label):
    """The labels to ask a conditional GAN for: `label` n times, or 0, 1, ..., 9 in turn."""
    if not model.num_classes:
        if label is not None:
            raise ValueError(f"Expected no --label for an unconditional GAN. Received: --label {label}")
        return None
    if label is not None:
        gan.validate_labels(np.array([label]), model.num_classes)
        return np.full(n, label)
    return np.arange(n) % model.num_classes


def sample(run_dir, n, *, seed=0, **options):
    """Returns `n` generated images, float32 in [0, 1], shape (n, 28, 28, 1).

    A conditional GAN draws the digits 0, 1, ..., 9 in turn, or `label` only.
    """
    runs.check_options(options, ("label",), "GAN runs")
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"Expected a positive number of images. Received: n={n!r}")
    model, _ = load(run_dir)
    return model.generate(n, labels=_labels(model, n, options.get("label")), seed=seed)


def evaluate(run_dir, *, seed=0, progress=True, **options):
    """FID, KID and legibility of a run's samples against the held-out real digits.

    Returns:
        A JSON-ready dict: `lib.metrics.sample_quality`'s numbers (fid, kid,
        confidently_read, classes_present, ...), the kind, the epochs trained
        and the data.
    """
    from lib import metrics  # imported here: scipy is only needed to evaluate

    runs.check_options(options, ("num_images",), "GAN runs")
    model, run = load(run_dir)
    digits = data_module.load_digits(run["config"]["dataset"], offline=True if run["config"].get("offline") else None,
                                     seed=0, verbose=False)
    reference = data_module.to_float_images(digits.test_images)  # (M, 28, 28, 1) in [0, 1]
    count = options.get("num_images") or len(reference)
    labels = _labels(model, count, None)
    generated = model.generate(count, labels=labels, seed=seed)
    result = metrics.sample_quality(generated, reference, labels=labels, seed=seed)
    result.update(kind=run["kind"], epochs_done=run["epochs_done"], reference=digits.source)
    return result
