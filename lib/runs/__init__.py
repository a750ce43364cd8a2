"""What `python -m lib` runs: one module per family, one interface.

Each family module (`lib/runs/gan.py`, `vae.py`, `style.py`, `diffusion.py`)
defines the same names (see docs/library.md): `KINDS` (what `python -m lib
train KIND` accepts), `add_arguments(parser)`, `settings_for(kind, args)`,
`build_model(settings, *, seed)`, `train(kind, run_dir, *, epochs, dataset,
seed, resume, args, progress)`, `load(run_dir)`, `sample(run_dir, n, *, seed,
**options)` and `evaluate(run_dir, *, seed, progress, **options)`. The command
line reads the kinds from the modules listed here, so a new family is one new
module and one word in `FAMILIES`.

Public names: `FAMILIES`, `family_module`, `kinds`, `family_of_kind`,
`check_options`.
"""

import functools
import importlib

FAMILIES = ("gan", "vae", "style", "diffusion")


def family_module(family):
    """Returns the module `lib.runs.<family>`.

    Raises:
        ValueError: for a family not in `FAMILIES`.
    """
    if family not in FAMILIES:
        raise ValueError(f"Expected a family in {FAMILIES}. Received: {family!r}")
    return importlib.import_module(f"lib.runs.{family}")


@functools.cache
def kinds():
    """Returns {kind: family} for every kind of every family module present."""
    table = {}
    for family in FAMILIES:
        try:
            module = family_module(family)
        except ModuleNotFoundError as error:
            if error.name != f"lib.runs.{family}":
                raise  # a real import error inside the module, not a missing module
            continue
        for kind in module.KINDS:
            table[kind] = family
    return table


def family_of_kind(kind):
    """Returns the family of `kind` ("dcgan" -> "gan").

    Raises:
        ValueError: for an unknown kind.
    """
    table = kinds()
    if kind not in table:
        raise ValueError(f"Expected a kind in {sorted(table)}. Received: kind={kind!r}")
    return table[kind]


# The options `python -m lib sample` / `evaluate` pass on, and the flag each comes from.
_OPTION_FLAGS = {"steps": "--steps", "guidance": "--guidance", "label": "--label", "iwae_k": "--iwae-k",
                 "num_images": "--num-images"}


def check_options(options, allowed, runs_of):
    """Refuses sampling or evaluation options that this family does not use.

    Args:
        options: the options given (name -> value).
        allowed: the names this family takes.
        runs_of: how to name this family's runs in the message ("GAN runs").

    Raises:
        ValueError: naming the first flag that does not apply.
    """
    for name in options:
        if name not in allowed:
            flag = _OPTION_FLAGS.get(name, name)
            raise ValueError(f"Expected no {flag} for {runs_of}. Received: {flag} {options[name]} "
                             f"({flag} applies to other kinds of runs)")
