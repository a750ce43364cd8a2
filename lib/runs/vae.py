"""Command-line runs of the VAE chapter: train, sample and evaluate in nats.

`python -m lib train vae|beta-vae|cvae --out RUN_DIR` calls `train` here. It
checks every setting and loads the data, lets `lib.training.prepare_run_dir`
check the folder (it refuses one that holds another run) and write
`RUN_DIR/run.json`, then trains with `lib.training.train` (a checkpoint every
epoch, `--resume` repeats an uninterrupted run exactly, TensorBoard logs in
`RUN_DIR/logs`). After each epoch it saves `RUN_DIR/model.keras` (loads back
with `keras.saving.load_model` once `lib.vae` is imported) and a grid of
samples `RUN_DIR/samples/epoch_NNN.png`.

The settings start from `lib.vae.PRESETS`: each kind from its own preset
(`--preset tf_docs` starts from the TensorFlow docs' VAE instead); the kind then
fixes what makes it that kind (a cvae is conditional, a beta-vae has its beta
unless `--beta` says otherwise), and the flags override the rest.

`python -m lib evaluate RUN_DIR --json` calls `evaluate`: on the held-out
images, binarised ONCE with a fixed seed (as Burda et al. 2015 do), it reports
the negative ELBO and the importance-weighted estimate of -log p(x) (the IWAE
bound with k samples per image; k = 5,000 unless `--iwae-k` says otherwise),
both in nats per image, with a progress bar on stderr.

`measure` is the measure of the course's shipped VAEs (lib/pretrained.py).

Public names: KINDS, add_arguments, settings_for, build_model, train, load,
sample, evaluate, measure.
"""

import argparse
import pathlib

import numpy as np

from lib import data as data_module
from lib import training, vae

KINDS = ("vae", "beta-vae", "cvae")

# What makes each kind that kind, whatever preset it starts from.
_KIND_SETTINGS = {
    "vae": {"num_classes": None},
    "beta-vae": {"num_classes": None, "beta": vae.PRESETS["beta-vae"]["beta"]},
    "cvae": {"num_classes": vae.PRESETS["cvae"]["num_classes"]},
}
# Flags that override a preset's value (argparse dest names are the settings' names).
_FLAGS = ("architecture", "latent_dim", "beta", "kl_warmup_steps", "batch_size", "learning_rate",
          "learning_rate_decay")
# Options other families' `sample` / `evaluate` take, and which runs take them.
_OTHER_OPTIONS = {"steps": "diffusion runs", "guidance": "conditional diffusion runs"}


def add_arguments(parser):
    """Adds the VAE flags to `python -m lib train vae|beta-vae|cvae` (defaults: the preset's)."""
    group = parser.add_argument_group("VAE (vae, beta-vae, cvae); every default comes from the preset")
    group.add_argument("--preset", choices=sorted(vae.PRESETS),
                       help="settings to start from (default: the kind's own; tf_docs: the TensorFlow docs' VAE)")
    group.add_argument("--architecture", choices=vae.ARCHITECTURES, help="encoder and decoder networks")
    group.add_argument("--latent-dim", type=int, help="size of z")
    group.add_argument("--beta", type=float, help="weight of the KL term (1 = the ELBO)")
    group.add_argument("--kl-warmup-steps", type=int, help="steps over which the KL weight rises from 0 to beta")
    group.add_argument("--batch-size", type=int, help="images per step")
    group.add_argument("--learning-rate", type=float, help="Adam's learning rate")
    group.add_argument("--learning-rate-decay", choices=vae.LEARNING_RATE_DECAYS,
                       help="how the rate falls to 0 over the run's epochs (see lib/vae.py)")
    group.add_argument("--train-size", type=int, help="train on the first N training images only")
    group.add_argument("--offline", action="store_true", help="use the offline digits even when online")


def _values(args):
    """A Namespace or dict of flags as a dict (None for missing)."""
    if args is None:
        return {}
    return dict(vars(args)) if isinstance(args, argparse.Namespace) else dict(args)


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"Expected a positive integer --{name.replace('_', '-')}. Received: {value!r}")


def settings_for(kind, args=None):
    """Every setting of a run of `kind`: the preset, what the kind fixes, then the flags.

    Args:
        kind: "vae", "beta-vae" or "cvae".
        args: argparse Namespace or dict of flags (preset, latent_dim, beta, ...,
            train_size, offline); None values are ignored.

    Returns:
        A JSON-ready dict: the preset's keys plus "preset", "train_size", "offline".

    Raises:
        ValueError: for an unknown kind or preset, or a setting out of range.
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    values = _values(args)
    if isinstance(args, dict):
        unknown = sorted(set(values) - {*_FLAGS, "preset", "train_size", "offline"})
        if unknown:
            raise ValueError(f"Expected settings among {sorted({*_FLAGS, 'preset', 'train_size', 'offline'})}. "
                             f"Received: {unknown}")
    preset = values.get("preset") or kind
    if preset not in vae.PRESETS:
        raise ValueError(f"Expected --preset in {sorted(vae.PRESETS)}. Received: {preset!r}")
    flags = {name: values[name] for name in _FLAGS if values.get(name) is not None}
    settings = {**vae.PRESETS[preset], **_KIND_SETTINGS[kind], **flags, "preset": preset,
                "train_size": values.get("train_size"), "offline": bool(values.get("offline"))}
    for name in ("latent_dim", "batch_size", "epochs"):
        _check_positive_int(name, settings[name])
    if settings["train_size"] is not None:
        _check_positive_int("train_size", settings["train_size"])
    if isinstance(settings["kl_warmup_steps"], bool) or not isinstance(settings["kl_warmup_steps"], int) \
            or settings["kl_warmup_steps"] < 0:
        raise ValueError(f"Expected --kl-warmup-steps >= 0. Received: {settings['kl_warmup_steps']!r}")
    if not settings["learning_rate"] > 0:
        raise ValueError(f"Expected a positive --learning-rate. Received: {settings['learning_rate']!r}")
    if not settings["beta"] >= 0:
        raise ValueError(f"Expected --beta >= 0. Received: {settings['beta']!r}")
    if settings["architecture"] not in vae.ARCHITECTURES:
        raise ValueError(f"Expected --architecture in {vae.ARCHITECTURES}. Received: {settings['architecture']!r}")
    return settings


def _model_settings(settings):
    """The keys of a preset (what make_vae and make_optimizer take)."""
    return {name: settings[name] for name in vae.PRESETS[settings["preset"]]}


def build_model(settings, *, seed=0):
    """Builds and compiles the `VAE` that a settings dict (see `settings_for`) describes.

    A learning-rate decay needs the run's length: `settings["steps_per_epoch"]` (written
    by `train`) times `settings["epochs"]`.
    """
    steps_per_epoch = settings.get("steps_per_epoch")
    total_steps = steps_per_epoch * settings["epochs"] if steps_per_epoch else None
    model = vae.make_vae(settings["preset"], seed=seed, **_model_settings(settings))
    model.compile(optimizer=vae.make_optimizer(settings["preset"], total_steps=total_steps,
                                               **_model_settings(settings)))
    return model


def _load_data(settings, verbose=True):
    """The run's digits, with the same offline choice it was trained with."""
    return data_module.load_digits(settings.get("dataset", "mnist"), offline=True if settings.get("offline") else None,
                                   verbose=verbose)


def _held_out(data, count=None):
    """Held-out images binarised once (vae.binarize_held_out) and their labels, the first `count`."""
    images, labels = data_module.to_float_images(data.test_images), data.test_labels
    if count is not None:
        images, labels = images[:count], labels[:count]
    return vae.binarize_held_out(images), labels


def _grid_labels(model, count):
    """Labels 0, 1, ..., 9, 0, ... for a conditional model's grid, else None."""
    return np.arange(count) % model.num_classes if model.num_classes else None


def train(kind, run_dir, *, epochs=None, dataset="mnist", seed=0, resume=False, args=None, progress=True,
          jit_compile=False, data=None):
    """Trains a VAE of `kind` in `run_dir` (see the module docstring).

    Args:
        kind: "vae", "beta-vae" or "cvae".
        run_dir: the run folder.
        epochs: total epochs (None: the preset's).
        dataset: "mnist" or "fashion_mnist".
        seed: seed of the weights, the batch order and the training noise.
        resume: continue from the latest checkpoint (settings come from run.json).
        args: argparse Namespace or dict of flags (see `settings_for`).
        progress: show progress bars.
        jit_compile: compile the step with XLA.
        data: an already loaded `lib.data.DigitData` (saves reloading; must match `dataset`).

    Returns:
        The history (list of per-epoch dicts).

    Raises:
        ValueError: for bad settings, a folder holding another run (without
            `resume`), or `resume` without a run of this kind.
    """
    run_dir = pathlib.Path(run_dir)
    if resume:  # checks the kind and returns the saved settings; writes nothing
        settings = training.prepare_run_dir(run_dir, kind, None, resume=True)
        seed, dataset = settings["seed"], settings["dataset"]
    else:
        settings = settings_for(kind, args)
        if dataset not in data_module.DATASETS:
            raise ValueError(f"Expected --dataset in {data_module.DATASETS}. Received: {dataset!r}")
        settings.update(dataset=dataset, seed=int(seed))
    if epochs is not None:
        _check_positive_int("epochs", epochs)
        if resume and settings["learning_rate_decay"] != "constant" and epochs != settings["epochs"]:
            raise ValueError(f"Expected --epochs {settings['epochs']} (or none) to resume {run_dir}: its "
                             f"{settings['learning_rate_decay']} learning-rate decay was planned for that many "
                             f"epochs. Received: --epochs {epochs}")
        settings["epochs"] = int(epochs)
    if data is None:
        data = _load_data(settings)
    images = data_module.to_float_images(data.train_images)
    labels = data.train_labels if settings["num_classes"] else None
    if settings["train_size"]:
        images = images[: settings["train_size"]]
        labels = None if labels is None else labels[: settings["train_size"]]
    if settings["batch_size"] > len(images):
        raise ValueError(f"Expected --batch-size <= {len(images)} training images. Received: {settings['batch_size']}")
    if not resume:
        settings.update(data=data.source, steps_per_epoch=len(images) // settings["batch_size"])
        training.prepare_run_dir(run_dir, kind, settings, resume=False)  # refuses a folder holding a run

    training.set_seed(seed)
    model = build_model(settings, seed=seed)
    grid_labels = _grid_labels(model, 100)

    def sample_images():
        return model.generate(100, labels=grid_labels, seed=0)

    def make_dataset(epoch):
        return data_module.make_dataset(images, labels, batch_size=settings["batch_size"], epoch=epoch, seed=seed)

    def on_epoch_end(epoch, logs):
        from lib import plots  # matplotlib-free grid writer

        folder = run_dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        plots.save_image_grid(sample_images(), folder / f"epoch_{epoch:03d}.png", columns=10)
        temporary = run_dir / "model.tmp.keras"
        model.save(temporary)
        temporary.replace(run_dir / "model.keras")

    if progress:
        print(f"Training {kind} ({settings['preset']} preset: {settings['architecture']}, latent {settings['latent_dim']}, "
              f"batch {settings['batch_size']}, lr {settings['learning_rate']} {settings['learning_rate_decay']}) "
              f"for {settings['epochs']} epochs into {run_dir}")
    return training.train(model, make_dataset, epochs=settings["epochs"], run_dir=run_dir, resume=resume,
                          jit_compile=jit_compile, on_epoch_end=on_epoch_end, sample_images=sample_images,
                          progress=progress)


def load(run_dir):
    """Rebuilds the run's model from run.json and restores its latest checkpoint.

    Returns:
        (model, run): run is run.json's dict plus "epochs_done".

    Raises:
        ValueError: if run.json or the checkpoint is missing or corrupt, or the run is not a VAE's.
    """
    run = training.read_run_config(run_dir)
    if run["kind"] not in KINDS:
        raise ValueError(f"Expected a VAE run ({', '.join(KINDS)}). Received: a {run['kind']} run in {run_dir}")
    model = build_model(run["config"], seed=run["config"].get("seed", 0))
    run["epochs_done"] = training.restore_latest(model, run_dir)
    return model, run


def _refuse(options, taken):
    """Raises ValueError for an option a VAE run does not take, naming the runs that do."""
    for name in options:
        flag = "--" + name.replace("_", "-")
        others = _OTHER_OPTIONS.get(name, "other families' runs")
        raise ValueError(f"Expected only {taken} for a VAE run. Received: {flag} (it is for {others})")


def sample(run_dir, n, *, seed=0, label=None, **options):
    """Returns `n` generated mean images, float32 (n, 28, 28, 1) in [0, 1].

    Args:
        run_dir: a run folder made by `train`.
        n: how many images.
        seed: seed of the latents.
        label: for a cvae run, draw only this digit (default: 0, 1, ..., 9 in turn).

    Raises:
        ValueError: for `label` with an unconditional run, a label out of range,
            or an option a VAE does not take (`steps`, `guidance`).
    """
    _refuse(options, "--label")
    _check_positive_int("n", n)
    model, run = load(run_dir)
    if label is not None:
        if model.num_classes is None:
            raise ValueError(f"Expected no --label for an unconditional {run['kind']} run. Received: --label {label}")
        if not 0 <= label < model.num_classes:
            raise ValueError(f"Expected --label in [0, {model.num_classes}). Received: --label {label}")
        return model.generate(n, labels=np.full(n, label), seed=seed)
    return model.generate(n, labels=_grid_labels(model, n), seed=seed)


def evaluate(run_dir, *, seed=0, progress=True, iwae_k=None, num_images=None, **options):
    """Held-out negative ELBO and importance-weighted negative log-likelihood, in nats per image.

    Args:
        run_dir: a run folder made by `train`.
        seed: seed of the posterior samples (the binarisation of the held-out
            images is fixed: `vae.binarize_held_out`).
        progress: show a progress bar with the time left (on stderr).
        iwae_k: importance samples per image (default `vae.EVALUATION_K`, Burda
            et al.'s 5,000; the time grows in proportion to k).
        num_images: use the first N held-out images (default: all).

    Returns:
        A JSON-ready dict: neg_elbo_nats, nll_nats, reconstruction_nats, kl_nats,
        k, held_out_images, kind, preset, beta, epochs_done, data.

    Raises:
        ValueError: for a missing run, a non-positive iwae_k or num_images, or
            an option a VAE does not take (`steps`, `guidance`).
    """
    _refuse(options, "--iwae-k and --num-images")
    k = vae.EVALUATION_K if iwae_k is None else iwae_k
    _check_positive_int("iwae_k", k)
    if num_images is not None:
        _check_positive_int("num_images", num_images)
    model, run = load(run_dir)
    settings = run["config"]
    data = _load_data(settings, verbose=False)  # quiet: the source is in the result's "data"
    images, labels = _held_out(data, num_images)
    labels = labels if model.num_classes else None
    bar = None
    if progress:
        from tqdm.auto import tqdm  # stderr, with the time left

        bar = tqdm(total=k * len(images), unit="sample", unit_scale=True,
                   desc=f"IWAE bound, k={k} on {len(images)} images")
    try:
        nats = vae.held_out_nats(model, images, labels, k=k, seed=seed,
                                 callback=None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    return {
        "kind": run["kind"],
        "preset": settings.get("preset"),
        "neg_elbo_nats": nats["negative_elbo_nats"],
        "reconstruction_nats": nats["reconstruction_nats"],
        "kl_nats": nats["kl_nats"],
        "nll_nats": nats["nll_nats"],
        "k": k,
        "held_out_images": nats["images"],
        "beta": float(settings["beta"]),
        "epochs_done": run["epochs_done"],
        "data": data.source + f"; held-out images binarised once (seed {vae.HELD_OUT_SEED})",
    }


MEASURE_IMAGES = 500  # held-out digits in `measure`
MEASURE_K = 100  # importance samples per digit in `measure` (k = 5,000 is `evaluate`'s, and takes minutes)


def measure(model, *, seed=0):
    """The quality of a shipped VAE: nats on held-out digits, and its samples read by the classifier.

    About 20 s on a 2-core CPU, so tests/test_pretrained.py can check it. The
    nats are those of `python -m lib evaluate RUN --iwae-k 100 --num-images 500`
    (the IWAE bound with k = 100 is a few tenths of a nat looser than with 5,000).

    Args:
        model: a `lib.vae.VAE`.
        seed: seed of the posterior and prior samples.

    Returns:
        A JSON-ready dict: nll_nats, neg_elbo_nats, kl_nats, k, held_out_images
        (the first 500 offline held-out digits binarised once), and
        `lib.metrics.generator_quality`'s scores of 1,000 samples (fid, kid,
        confidently_read, classes_present, and label_accuracy for a cvae).
    """
    from lib import metrics  # the classifier, only needed here

    digits = data_module.load_digits("mnist", offline=True, verbose=False)
    images, labels = _held_out(digits, MEASURE_IMAGES)
    nats = vae.held_out_nats(model, images, labels if model.num_classes else None, k=MEASURE_K, seed=seed)
    quality = metrics.generator_quality(model, seed=seed,
                                        reference=data_module.to_float_images(digits.test_images))
    return {
        "nll_nats": round(nats["nll_nats"], 3), "neg_elbo_nats": round(nats["negative_elbo_nats"], 3),
        "kl_nats": round(nats["kl_nats"], 3), "k": MEASURE_K, "held_out_images": nats["images"],
        **{key: value for key, value in quality.items() if key != "sampling_seconds"},
    }
