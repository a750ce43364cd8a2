"""Checks for the notebooks' exercises: immediate, specific feedback for students.

Each chapter has a module here (`lib.exercises.gan`, `lib.exercises.vae`,
`lib.exercises.style`) whose `check_*` functions take the student's function or
value, compare it with the reference in `lib/` on fixed inputs, and either print
a short success line or raise `ExerciseCheckFailed` with what was expected and
what was received. The notebooks' instructor versions hold the solutions between
`### BEGIN SOLUTION` and `### END SOLUTION`; `scripts/make_student_notebooks.py`
turns them into `raise NotImplementedError` for the student copies.

Public names: `ExerciseCheckFailed`, `expect_shape`, `expect_close`, `passed`.
"""

import numpy as np


class ExerciseCheckFailed(AssertionError):
    """Raised by an exercise check; the message says what to fix."""


def _as_numpy(value):
    """Returns `value` (tensor, array, number) as a NumPy array."""
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def expect_shape(name, value, expected_shape):
    """Raises `ExerciseCheckFailed` unless `value` has `expected_shape`."""
    got = tuple(_as_numpy(value).shape)
    if got != tuple(expected_shape):
        raise ExerciseCheckFailed(
            f"{name}: expected shape {tuple(expected_shape)}, got {got}."
        )


def expect_close(name, value, expected, *, rtol=1e-4, atol=1e-5):
    """Raises `ExerciseCheckFailed` unless `value` is close to `expected`."""
    got = _as_numpy(value).astype(np.float64)
    want = _as_numpy(expected).astype(np.float64)
    if got.shape != want.shape:
        raise ExerciseCheckFailed(
            f"{name}: expected shape {want.shape}, got {got.shape}."
        )
    if not np.all(np.isfinite(got)):
        raise ExerciseCheckFailed(f"{name}: got non-finite values {got.ravel()[:5]}.")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        worst = np.unravel_index(np.argmax(np.abs(got - want)), got.shape) if got.ndim else ()
        raise ExerciseCheckFailed(
            f"{name}: expected {np.round(want[worst], 6)}, got {np.round(got[worst], 6)}"
            + (f" at index {tuple(int(i) for i in worst)}" if got.ndim else "")
            + "."
        )


def passed(message):
    """Prints the line a student sees when a check succeeds."""
    print(f"Correct: {message}")
