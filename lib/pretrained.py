"""The course's trained weights: what ships in data/weights/, and how to load it.

A quick-mode notebook trains for a few steps, so the student sees the step
work, and then shows what full training gives from weights the course trained
earlier (as Phillip Lippe's UvA tutorials do). Each shipped model is one file,
`data/weights/NAME.keras`, loaded with Keras' safe mode on, and one record,
`data/weights/NAME.json`: the command that made it, the machine, the training
time, the date and the quality it reached. `SHIPPED` below lists them;
`python scripts/make_weights.py NAME` makes one (it trains through the course's
command line, exports the model without its optimizer, measures it and writes
both files).

    model = pretrained.load("dcgan")            # a GAN with .generate(), and one line saying where it came from
    pretrained.load_into("dcgan", my_model)     # the same weights, in a model the notebook built
    pretrained.record("dcgan")["quality"]       # {"fid": ..., "kid": ..., ...}

A missing or corrupt file is a `ValueError` that names the command that
recreates it. tests/test_pretrained.py checks that every shipped file loads and
still reaches the quality its record states.

Public names: `SHIPPED`, `WEIGHTS_DIR`, `load`, `load_into`, `record`,
`describe`, `measure`, `weights_path`, `record_path`, `make_command`.
"""

import importlib
import json
import pathlib

import keras
import numpy as np

# Imported so that Keras knows the course's registered classes when a .keras file loads.
from lib import diffusion, gan, style_transfer, vae  # noqa: F401

WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent.parent / "data" / "weights"

# name -> how it is made and checked:
#   kind:       what `python -m lib train KIND` trains
#   train_args: the rest of that command (the run folder is runs/weights/NAME)
#   export:     the attribute of the trained model that is shipped (None: the model)
#   measure:    "module:function", called as function(model, seed=0) -> dict
#   tolerance:  relative tolerance of tests/test_pretrained.py on each number
#   headline:   the quality numbers named in the line printed when it is loaded
#   what:       a few words for that line
#   notebooks:  the notebooks that load it
#   check:      (optional) options for a cheaper measure that make_weights also
#               records ("check_quality") and the tests repeat, e.g. fewer samples
SHIPPED = {}

# The GAN chapter (notebooks 01-03): whole models (both networks and the averaged
# generator), without optimizer state; measured on 1,000 samples against the
# 1,000 offline held-out digits.
SHIPPED.update({
    "dcgan": {
        "kind": "dcgan", "train_args": ["--epochs", "60", "--offline"], "export": None,
        "measure": "lib.metrics:generator_quality", "tolerance": 0.02, "headline": ("fid", "confidently_read"),
        "what": "DCGAN (averaged generator, raw generator and discriminator)",
        "notebooks": ("01_dcgan", "03_wgan_gp_and_measuring_gans"),
    },
    "cgan": {
        "kind": "cgan", "train_args": ["--epochs", "60", "--offline"], "export": None,
        "measure": "lib.metrics:generator_quality", "tolerance": 0.02,
        "headline": ("fid", "confidently_read", "label_accuracy"),
        "what": "conditional GAN (averaged generator, raw generator and discriminator)",
        "notebooks": ("02_conditional_gan", "03_wgan_gp_and_measuring_gans"),
    },
    "wgan_gp": {
        "kind": "wgan-gp", "train_args": ["--epochs", "30", "--offline"], "export": None,
        "measure": "lib.metrics:generator_quality", "tolerance": 0.02, "headline": ("fid", "confidently_read"),
        "what": "WGAN-GP (averaged generator, raw generator and critic)",
        "notebooks": ("03_wgan_gp_and_measuring_gans",),
    },
})

# The VAE chapter (notebooks 05, 06; notebook 11 ranks "vae" by FID): whole models
# (encoder and decoder), without optimizer state; measured on the first 500
# offline held-out digits binarised once (nats, IWAE with k = 100) and on 1,000
# samples read by the course's classifier (lib.runs.vae.measure).
SHIPPED.update({
    "vae": {
        "kind": "vae", "train_args": ["--epochs", "200", "--offline"], "export": None,
        "measure": "lib.runs.vae:measure", "tolerance": 0.02, "headline": ("nll_nats", "fid"),
        "what": "VAE (the vae preset: encoder and decoder)",
        "notebooks": ("05_conv_vae_iwae_beta", "11_ddim_and_guidance"),
    },
    "cvae": {
        "kind": "cvae", "train_args": ["--epochs", "100", "--offline"], "export": None,
        "measure": "lib.runs.vae:measure", "tolerance": 0.02, "headline": ("nll_nats", "label_accuracy"),
        "what": "conditional VAE (the cvae preset: encoder and decoder)",
        "notebooks": ("06_conditional_vae",),
    },
})

# The style-transfer chapter (notebooks 08, 09): the networks stylising needs (the
# fast-style transformation network, the AdaIN decoder), trained offline with
# random VGG19 weights (seed 0); measured on the held-out photograph (chelsea).
SHIPPED.update({
    "fast_style": {
        "kind": "fast-style", "train_args": ["--style", "immunohistochemistry", "--weights", "random", "--epochs", "20"],
        "export": "transform_network", "measure": "lib.runs.style:measure_fast_style", "tolerance": 0.02,
        "headline": ("structure", "color_progress"),
        "what": "fast-style network (Johnson et al.; style: immunohistochemistry)",
        "notebooks": ("08_fast_style_transfer",),
    },
    "adain": {
        "kind": "adain", "train_args": ["--weights", "random", "--epochs", "50"],
        "export": "decoder", "measure": "lib.runs.style:measure_adain", "tolerance": 0.02,
        "headline": ("structure", "color_progress"),
        "what": "AdaIN decoder (Huang & Belongie; random VGG19 encoder, seed 0)",
        "notebooks": ("09_adain_arbitrary_style",),
    },
})

# The diffusion chapter (notebooks 10, 11): the sampling network only (the EMA
# weights, `DiffusionModel.export_for_sampling`), without optimizer state;
# measured on 1,000 DDIM samples (50 steps; 25 for the guided conditional model,
# which calls the network twice per step) against the 1,000 offline held-out digits.
SHIPPED.update({
    "ddpm": {
        "kind": "ddpm", "train_args": ["--epochs", "150", "--offline"], "export": "export_for_sampling",
        "check": {"num_images": 250},
        "measure": "lib.runs.diffusion:measure", "tolerance": 0.02, "headline": ("fid", "confidently_read"),
        "what": "DDPM (U-Net with EMA weights, v-prediction, cosine schedule)",
        "notebooks": ("10_ddpm_from_scratch", "11_ddim_and_guidance"),
    },
    "ddpm_cond": {
        "kind": "ddpm-cond", "train_args": ["--epochs", "100", "--offline"], "export": "export_for_sampling",
        "check": {"num_images": 250},
        "measure": "lib.runs.diffusion:measure", "tolerance": 0.02,
        "headline": ("fid", "confidently_read", "label_accuracy"),
        "what": "class-conditional DDPM for classifier-free guidance (EMA weights, guidance 2 by default)",
        "notebooks": ("11_ddim_and_guidance",),
    },
})


def _entry(name):
    if name not in SHIPPED:
        raise ValueError(f"Expected the name of shipped weights, one of {sorted(SHIPPED)}. Received: {name!r}")
    return SHIPPED[name]


def make_command(name):
    """The one command that recreates `data/weights/NAME.keras` and its record."""
    _entry(name)
    return f"python scripts/make_weights.py {name}"


def train_command(name):
    """The training command behind `make_command(name)`."""
    entry = _entry(name)
    return " ".join(["python -m lib train", entry["kind"], "--out", f"runs/weights/{name}", *entry["train_args"]])


def weights_path(name):
    """`data/weights/NAME.keras` (a pathlib.Path)."""
    _entry(name)
    return WEIGHTS_DIR / f"{name}.keras"


def record_path(name):
    """`data/weights/NAME.json` (a pathlib.Path)."""
    _entry(name)
    return WEIGHTS_DIR / f"{name}.json"


def record(name):
    """The record of shipped weights: command, machine, training time, date, quality.

    Raises:
        ValueError: for an unknown name or a missing or unreadable record.
    """
    path = record_path(name)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(
            f"Expected the record {path} of the course's trained {name}. Received: a missing or unreadable "
            f"file ({type(error).__name__}: {error}). Recreate it with `{make_command(name)}`."
        ) from None


def describe(name):
    """One line: what was loaded, from which file, made by which command, how good."""
    entry, made = _entry(name), record(name)
    quality = ", ".join(f"{key} {value:.3g}" for key, value in made.get("quality", {}).items()
                        if isinstance(value, float) and key in entry.get("headline", ()))
    minutes = made.get("training_seconds", 0) / 60
    return (f"Loaded the course's trained {entry['what']} from data/weights/{name}.keras, made by "
            f"`{made.get('command', make_command(name))}` ({minutes:.0f} min on {made.get('machine', 'unknown')}, "
            f"{made.get('date', 'undated')})" + (f"; {quality}." if quality else "."))


def load(name, *, verbose=True):
    """Loads shipped weights with Keras' safe mode on.

    Args:
        name: a key of `SHIPPED` ("dcgan", "vae", ...).
        verbose: print one line naming the file, the command that made it and
            the quality it reached.

    Returns:
        The Keras model (for generators, one with the course's `generate` call).

    Raises:
        ValueError: for an unknown name, or a missing or corrupt file (the
            message names the command that recreates it).
    """
    path = weights_path(name)
    if not path.is_file():
        raise ValueError(
            f"Expected the course's trained weights at {path}. Received: no such file. "
            f"Recreate it with `{make_command(name)}` (see data/README.md for how long it takes)."
        )
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # a truncated zip, a bad config, a missing class, ...
        raise ValueError(
            f"Expected a readable Keras file at {path}. Received: a file that could not be loaded "
            f"({type(error).__name__}: {str(error)[:300]}). Recreate it with `{make_command(name)}`."
        ) from None
    if verbose:
        print(describe(name))
    return model


def load_into(name, model, *, verbose=True):
    """Copies shipped weights into `model`, a model of the same architecture.

    Use it when a notebook built the network itself (so the student sees how it
    is made) and wants the trained weights in it.

    Args:
        name: a key of `SHIPPED`.
        model: a built Keras model with the same weights, in the same order and
            shapes, as the shipped one.
        verbose: print where the weights came from.

    Returns:
        `model`, with the trained weights.

    Raises:
        ValueError: as `load`, or if the architectures differ (the first
            mismatching weight is named).
    """
    trained = load(name, verbose=verbose)
    source, target = trained.weights, model.weights
    if len(source) != len(target):
        raise ValueError(
            f"Expected a model with the {len(source)} weights of the shipped {name}. "
            f"Received: a model with {len(target)} weights"
        )
    for shipped, own in zip(source, target):
        if tuple(shipped.shape) != tuple(own.shape):
            raise ValueError(
                f"Expected the architecture of the shipped {name}. Received: weight {own.path} has shape "
                f"{tuple(own.shape)}, the shipped {shipped.path} has {tuple(shipped.shape)}"
            )
    model.set_weights([np.asarray(weight) for weight in trained.get_weights()])
    return model


def measure(name, model=None, *, seed=0, **options):
    """Measures shipped weights (or `model`) with the function its entry names.

    Args:
        name: a key of `SHIPPED`.
        model: the model to measure (default: the shipped file).
        seed: the measure's seed.
        **options: passed to the measure (e.g. the entry's "check" options, a
            cheaper measurement that the tests repeat: `num_images=250`).

    Returns:
        The measure's dict (FID/KID, nats or style measures; see `SHIPPED`).
    """
    module_name, function_name = _entry(name)["measure"].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return function(load(name, verbose=False) if model is None else model, seed=seed, **options)


def _quality_text(name, quality):
    """The headline measures of a record, in words a reader knows."""
    words = {"fid": "FID {:.1f}", "confidently_read": "{:.0%} confidently read", "label_accuracy": "{:.0%} of the asked-for digit",
             "nll_nats": "-log p(x) {:.1f} nats", "structure": "structure {:.2f}", "color_progress": "colour progress {:.2f}"}
    keys = [key for key in _entry(name).get("headline", ()) if key in quality]
    text = [words[key].format(quality[key]) if key in words else f"{key} {quality[key]:.3g}" for key in keys]
    if "classes_present" in quality:
        text.append(f"{quality['classes_present']} classes")
    return ", ".join(text)


def readme_table():
    """The table of shipped weights in data/README.md, from the records (Markdown)."""
    lines = ["| Name | What | Made by | Training | Size | Quality |", "|---|---|---|---|---:|---|"]
    for name in SHIPPED:
        made = record(name)
        lines.append(
            f"| `{name}` | {_entry(name)['what']} | `{make_command(name)}` = `{train_command(name)}` "
            f"| {made['training_seconds'] / 60:.0f} min, {made['machine']}, {made['date']} "
            f"| {made['megabytes']:.1f} MB | {_quality_text(name, made['quality'])} |")
    return "\n".join(lines)
