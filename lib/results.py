"""Records the headline numbers of a notebook run, for the course runner's summary.

A notebook calls `record("05_conv_vae", nll_nats=87.1, quick=True)`; the numbers
go to `<results dir>/<name>.json`, where the results directory is the
`COURSE_RESULTS_DIR` environment variable or `runs/results` under the repository.
`scripts/run_course.py` reads them back and prints one table.

Public names: `record`, `read_all`, `results_dir`.
"""

import json
import os
import pathlib

_REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parent.parent


def results_dir():
    """Returns the folder the results go to (created on demand)."""
    folder = pathlib.Path(
        os.environ.get("COURSE_RESULTS_DIR", _REPOSITORY_ROOT / "runs" / "results")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def record(name, **numbers):
    """Writes `numbers` (JSON-serialisable scalars or short strings) for `name`.

    Raises:
        ValueError: if `name` is empty or a value is not a number, bool or str.
    """
    if not name or "/" in name:
        raise ValueError(f"Expected a plain non-empty name. Received: name={name!r}")
    clean = {}
    for key, value in numbers.items():
        if hasattr(value, "numpy"):
            value = value.numpy()
        if hasattr(value, "item"):
            value = value.item()
        if not isinstance(value, (int, float, bool, str)):
            raise ValueError(
                f"Expected numbers, bools or strings. Received: {key}={value!r}"
            )
        clean[key] = value
    path = results_dir() / f"{name}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(clean, indent=1, sort_keys=True))
    os.replace(temporary, path)  # never leave a half-written file
    return path


def read_all(folder=None):
    """Returns {name: numbers} for every result file in `folder`."""
    folder = pathlib.Path(folder) if folder else results_dir()
    return {
        path.stem: json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))
    }
