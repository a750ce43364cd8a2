"""Quick or full: which mode a notebook runs in, and why.

Every notebook's parameters cell starts with `QUICK = mode.quick_mode()`.
With no setting, a notebook runs in quick mode on a machine without a GPU
(minutes on a laptop: a short real run, then the course's trained weights) and
in full mode with one (training from scratch as the chapter describes). The
environment variable `COURSE_QUICK=1` or `COURSE_QUICK=0` overrides that
choice (the course runner, the tests and the grading command set it), and so
does editing the cell to `QUICK = True` or `QUICK = False`.

Public names: `quick_mode`.
"""

import os


def quick_mode(verbose=True):
    """Decides quick or full mode and says which, and why, in one line.

    Args:
        verbose: print the line.

    Returns:
        True for quick mode, False for full mode.

    Raises:
        ValueError: if COURSE_QUICK is set to anything but 0 or 1.
    """
    setting = os.environ.get("COURSE_QUICK", "").strip()
    if setting in ("0", "1"):
        quick, reason = setting == "1", f"COURSE_QUICK={setting} is set"
    elif setting:
        raise ValueError(f"Expected COURSE_QUICK=0 (full mode) or 1 (quick mode). Received: COURSE_QUICK={setting!r}")
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        quick = not gpus
        reason = "no GPU was found" if quick else f"a GPU was found ({gpus[0].name})"
    if verbose:
        other = "full mode: COURSE_QUICK=0" if quick else "quick mode: COURSE_QUICK=1"
        print(f"{'Quick' if quick else 'Full'} mode, because {reason}. For {other} before starting Jupyter, "
              f"or QUICK = {not quick} in this cell.")
    return quick
