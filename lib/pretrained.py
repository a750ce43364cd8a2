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
from lib import gan, style_transfer, vae  # noqa: F401

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
SHIPPED = {}

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
        "kind": "adain", "train_args": ["--weights", "random", "--epochs", "20"],
        "export": "decoder", "measure": "lib.runs.style:measure_adain", "tolerance": 0.02,
        "headline": ("structure", "color_progress"),
        "what": "AdaIN decoder (Huang & Belongie; random VGG19 encoder, seed 0)",
        "notebooks": ("09_adain_arbitrary_style",),
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


def measure(name, model=None, *, seed=0):
    """Measures shipped weights (or `model`) with the function its entry names.

    Returns:
        The measure's dict (FID/KID, nats or style measures; see `SHIPPED`).
    """
    module_name, function_name = _entry(name)["measure"].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return function(load(name, verbose=False) if model is None else model, seed=seed)
