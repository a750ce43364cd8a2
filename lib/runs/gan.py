"""Command-line runs of the GAN chapter: train, sample and evaluate (FID/KID).

`python -m lib train dcgan|cgan|wgan-gp --out RUN_DIR` calls `train` here. It
checks every setting, writes `RUN_DIR/run.json` (all that rebuilds the model),
then trains with `lib.training.train`: a checkpoint every epoch, `--resume`
repeating an uninterrupted run exactly, a stop on a non-finite loss. After each
epoch it writes a grid of samples from fixed noise, `RUN_DIR/samples/epoch_NNN.png`
(for the conditional GAN, one row per digit), and `RUN_DIR/generator.keras`.

`python -m lib sample RUN_DIR -n 1000 -o samples.npy` and
`python -m lib evaluate RUN_DIR --json` call `sample` and `evaluate`, which
rebuild the model from run.json and restore the latest checkpoint, so they work
on a run that was killed at any moment after its first epoch.

Public names: KINDS, DEFAULTS, add_arguments, settings_for, build_model,
train, load, sample, evaluate.
"""

import pathlib

import keras
import numpy as np

from lib import data as data_module
from lib import gan, training

KINDS = ("dcgan", "cgan", "wgan-gp")

# Every setting of a run. The architecture comes from gan.PRESETS[preset];
# WGAN-GP follows Gulrajani et al.: Adam(1e-4, beta_1=0, beta_2=0.9), 5 critic
# steps, lambda 10, and no batch norm in the critic.
DEFAULTS = {
    "dcgan": dict(preset="course", epochs=20, loss="non_saturating", num_classes=None, critic_steps=1,
                  beta_2=0.999, normalization="none"),
    "cgan": dict(preset="course", epochs=20, loss="non_saturating", num_classes=10, critic_steps=1,
                 beta_2=0.999, normalization="none"),
    "wgan-gp": dict(preset="course", epochs=20, loss="wasserstein_gp", num_classes=None, critic_steps=5,
                    learning_rate=1e-4, beta_1=0.0, beta_2=0.9, normalization="none"),
}


def add_arguments(parser):
    """Adds the GAN flags to `python -m lib train dcgan|cgan|wgan-gp`."""
    parser.add_argument("--preset", choices=sorted(gan.PRESETS),
                        help="architecture and optimiser settings (default: course)")
    parser.add_argument("--batch-size", type=int, help="images per step (preset: course 64, tf_docs 256)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate of both networks")
    parser.add_argument("--latent-dim", type=int, help="size of the noise vector")
    parser.add_argument("--jit-compile", action="store_true", help="compile the step with XLA")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="float16 compute with loss scaling (a win on recent GPUs, not on CPUs)")
    parser.add_argument("--offline", action="store_true", help="use the offline digits even when online")


def settings_for(kind, args=None):
    """All settings of a run of `kind`: the defaults, the preset, then the flags.

    Raises:
        ValueError: for an unknown kind or a setting out of range.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a GAN kind in {KINDS}. Received: {kind!r}")
    settings = dict(DEFAULTS[kind])
    preset = getattr(args, "preset", None) or settings["preset"]
    # The kind's own settings (WGAN-GP's optimiser) win over the preset's.
    settings = {**gan.PRESETS[preset], **settings, "preset": preset}
    for name in ("batch_size", "learning_rate", "latent_dim"):
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
    return settings


def build_model(settings, seed=0):
    """Builds and compiles the GAN that `settings` describe."""
    if settings.get("mixed_precision"):
        keras.mixed_precision.set_global_policy("mixed_float16")
    generator = gan.build_generator(
        settings["latent_dim"], projection_filters=settings["projection_filters"],
        generator_blocks=settings["generator_blocks"], kernel_size=settings["kernel_size"],
        num_classes=settings["num_classes"])
    discriminator = gan.build_discriminator(
        discriminator_filters=settings["discriminator_filters"], kernel_size=settings["kernel_size"],
        dropout=settings["dropout"], normalization=settings["normalization"],
        num_classes=settings["num_classes"])
    model = gan.GAN(generator, discriminator, settings["latent_dim"], loss=settings["loss"],
                    num_classes=settings["num_classes"], critic_steps=settings["critic_steps"], seed=seed)

    def optimizer():
        adam = keras.optimizers.Adam(settings["learning_rate"], beta_1=settings["beta_1"],
                                     beta_2=settings["beta_2"])
        return keras.optimizers.LossScaleOptimizer(adam) if settings.get("mixed_precision") else adam

    model.compile(optimizer(), optimizer())
    return model


def _fixed_inputs(model, count=100, seed=1234):
    """The same noise (and labels: ten of each digit, one row each) for every grid."""
    noise = np.random.default_rng(seed).standard_normal((count, model.latent_dim)).astype("float32")
    labels = np.repeat(np.arange(10), count // 10) if model.num_classes else None
    return noise, labels


def train(kind, run_dir, *, epochs=None, dataset="mnist", seed=0, resume=False, args=None, progress=True):
    """Trains a GAN of `kind` into `run_dir` (see the module docstring).

    Raises:
        ValueError: for bad settings, an occupied run folder without
            `resume`, or `resume` without a checkpoint.
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        run = training.read_run_config(run_dir)
        if run["kind"] != kind:
            raise ValueError(f"Expected a {kind} run to resume. Received: {run_dir} holds a {run['kind']} run")
        settings = run["config"]
        seed = settings["seed"]
        dataset = settings["dataset"]
    else:
        settings = settings_for(kind, args)
        if dataset not in data_module.DATASETS:
            raise ValueError(f"Expected --dataset in {data_module.DATASETS}. Received: {dataset!r}")
        if (run_dir / training.RUN_CONFIG_FILE).exists():
            raise ValueError(
                f"Expected a new run folder. Received: {run_dir}, which already holds a run; "
                "pass --resume to continue it or choose another --out"
            )
        settings.update(seed=seed, dataset=dataset)
    epochs = settings["epochs"] if epochs is None else epochs
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"Expected a positive integer --epochs. Received: {epochs!r}")

    digits = data_module.load_digits(dataset, offline=True if settings.get("offline") else None, seed=0)
    images = data_module.to_float_images(digits.train_images, (-1.0, 1.0))  # (N, 28, 28, 1), tanh range
    labels = digits.train_labels if settings["num_classes"] else None
    if settings["batch_size"] > len(images):
        raise ValueError(f"Expected --batch-size <= {len(images)} images. Received: {settings['batch_size']}")
    settings["data"] = digits.source

    training.set_seed(seed)
    model = build_model(settings, seed=seed)
    if not resume:
        training.write_run_config(run_dir, kind, settings)  # first, so a killed run can be sampled
    noise, fixed_labels = _fixed_inputs(model)
    samples_dir = run_dir / "samples"
    samples_dir.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(epoch, logs):
        from lib import plots  # matplotlib-free PNG writer

        grid = model.generate(noise=noise, labels=fixed_labels)
        plots.save_image_grid(grid, samples_dir / f"epoch_{epoch:03d}.png", columns=10)
        temporary = run_dir / "generator.tmp.keras"
        model.generator.save(temporary)
        temporary.replace(run_dir / "generator.keras")

    def make_dataset(epoch):
        return data_module.make_dataset(images, labels, batch_size=settings["batch_size"], epoch=epoch, seed=seed)

    print(f"Training {kind} ({settings['preset']} preset, batch {settings['batch_size']}, "
          f"lr {settings['learning_rate']}) for {epochs} epochs into {run_dir}")
    return training.train(model, make_dataset, epochs=epochs, run_dir=run_dir, resume=resume,
                          jit_compile=settings["jit_compile"], on_epoch_end=on_epoch_end, progress=progress)


def load(run_dir):
    """Rebuilds the GAN of a run folder and restores its latest checkpoint.

    Returns:
        (model, run) where run is the parsed run.json.

    Raises:
        ValueError: if run.json or the checkpoint is missing or corrupt.
    """
    run = training.read_run_config(run_dir)
    if run["kind"] not in KINDS:
        raise ValueError(f"Expected a GAN run ({KINDS}). Received: a {run['kind']} run in {run_dir}")
    model = build_model(run["config"], seed=run["config"]["seed"])
    run["epochs_done"] = training.restore_latest(model, run_dir)
    return model, run


def sample(run_dir, n, *, seed=0):
    """Returns `n` generated images, float32 in [0, 1], shape (n, 28, 28, 1).

    A conditional GAN draws the digits 0, 1, ..., 9 in turn.
    """
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"Expected a positive number of images. Received: n={n!r}")
    model, _ = load(run_dir)
    labels = np.arange(n) % model.num_classes if model.num_classes else None
    return model.generate(n, labels=labels, seed=seed)


def evaluate(run_dir, *, seed=0, num_images=None):
    """FID and KID of a run's samples against the held-out real digits.

    Returns:
        A JSON-ready dict: fid, kid, kid_std, the classifier used, how many
        images on each side, the data, the epochs trained.
    """
    from lib import metrics  # imported here: scipy is only needed to evaluate

    model, run = load(run_dir)
    digits = data_module.load_digits(run["config"]["dataset"], offline=True if run["config"].get("offline") else None,
                                     seed=0, verbose=False)
    reference = data_module.to_float_images(digits.test_images)  # (M, 28, 28, 1) in [0, 1]
    count = num_images or len(reference)
    labels = np.arange(count) % model.num_classes if model.num_classes else None
    generated = model.generate(count, labels=labels, seed=seed)
    # KID over 10 random halves, so kid_std is a real spread (subsets of the
    # whole set would all be the same set).
    result = metrics.evaluate_images(generated, reference, seed=seed, subset_size=len(reference) // 2)
    result.update(kind=run["kind"], epochs_done=run["epochs_done"], reference=digits.source)
    return result
