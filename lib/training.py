"""The course's training loop: compiled steps, checkpoints, resume, run folders.

Every model in the course (the GANs, the VAEs, the style networks) is a
`keras.Model` with one `train_step(batch)` that returns a dict of named scalars.
`keras.Model.fit()` runs it as it is. `train()` below runs the very same method
as a `tf.function` (optionally `jit_compile`d), under a `tf.distribute`
strategy when given one, and adds what a long run needs:

- a checkpoint of the model and its optimizers at the end of every epoch
  (`RUN_DIR/checkpoints`, the last three kept), so a run killed at any moment
  can be sampled and resumed;
- `resume=True`: restore the latest checkpoint and go on with the next epoch.
  Batches come from `make_dataset(epoch)`, whose order depends only on the
  epoch, and the models draw their noise from `(seed, optimizer.iterations)`,
  so a resumed run repeats an uninterrupted one step for step;
- a stop with `NonFiniteLossError` on a NaN or infinite loss, before anything
  is saved, so the last good checkpoint stays the latest;
- Ctrl-C turned into `TrainingInterrupted`, whose message names the checkpoint
  kept and the command that resumes the run (the command line prints it as
  one line, no traceback);
- one JSON line per epoch in `RUN_DIR/history.jsonl`, TensorBoard logs in
  `RUN_DIR/logs` (every logged value, and a grid of samples when the caller
  gives `sample_images`; open them with `tensorboard --logdir RUN_DIR/logs`),
  and a progress bar.

A run folder also holds `run.json` (`write_run_config`): the model kind and
every setting needed to rebuild the model, so `python -m lib sample RUN_DIR`
works without the code that trained it. `prepare_run_dir` is the one place
every family's `train` checks a folder before writing to it.

Public names: `train`, `prepare_run_dir`, `restore_latest`,
`NonFiniteLossError`, `TrainingInterrupted`, `write_run_config`,
`read_run_config`, `set_seed`, `build_optimizers`, `LOG_FOLDER`.
"""

import contextlib
import json
import math
import os
import pathlib
import time

import keras
import numpy as np
import tensorflow as tf

CHECKPOINT_FOLDER = "checkpoints"
HISTORY_FILE = "history.jsonl"
RUN_CONFIG_FILE = "run.json"
LOG_FOLDER = "logs"


class NonFiniteLossError(FloatingPointError):
    """A training step produced a NaN or infinite value; nothing was saved."""


class TrainingInterrupted(Exception):
    """Training was stopped with Ctrl-C; the message says what was kept and how to resume."""


def set_seed(seed, *, deterministic=False):
    """Seeds Python, NumPy and TensorFlow; optionally makes ops deterministic.

    Args:
        seed: a non-negative integer.
        deterministic: also call `tf.config.experimental.enable_op_determinism()`
            (repeatable on GPUs too, at some cost in speed).

    Raises:
        ValueError: if `seed` is not a non-negative integer.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"Expected a non-negative integer seed. Received: seed={seed!r}")
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def _atomic_write_text(path, text):
    """Writes `text` to `path` through a temporary file, so readers never see half a file."""
    path = pathlib.Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_run_config(run_dir, kind, config):
    """Writes `RUN_DIR/run.json`: the model kind and the settings that rebuild it.

    Raises:
        ValueError: if `config` is not JSON-serialisable.
    """
    try:
        text = json.dumps({"kind": kind, "config": config}, indent=1, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"Expected a JSON-serialisable config. Received: {config!r} ({error})") from None
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(run_dir / RUN_CONFIG_FILE, text)


def read_run_config(run_dir):
    """Returns the dict in `RUN_DIR/run.json` (keys "kind" and "config").

    Raises:
        ValueError: if the folder or file is missing or the file is not valid.
    """
    path = pathlib.Path(run_dir) / RUN_CONFIG_FILE
    if not path.is_file():
        raise ValueError(
            f"Expected a run folder made by `python -m lib train` with a {RUN_CONFIG_FILE}. "
            f"Received: {run_dir} (no {path.name} there)"
        )
    try:
        run = json.loads(path.read_text())
        run["kind"], run["config"]  # noqa: B018 (both keys must be there)
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"Expected a valid {path}. It is corrupt: {error}") from None
    return run


def prepare_run_dir(run_dir, kind, settings, *, resume):
    """Checks a run folder, then records a new run in it (or reads the run to resume).

    Every family's `train` calls this once its own settings are checked and its
    data loaded, and before it trains: a new run gets `run.json` only after the
    folder passed the checks, so a refused command leaves nothing behind.

    Args:
        run_dir: the run folder (`--out`).
        kind: the kind being trained ("dcgan", "vae", ...).
        settings: the JSON-serialisable settings of a new run (ignored on resume).
        resume: continue the run in `run_dir` instead of starting one.

    Returns:
        The settings of the run: `settings` for a new run, the saved ones on resume.

    Raises:
        ValueError: when resuming a folder with no run or a run of another kind;
            when starting a run in a folder that already holds one (of any kind)
            or its checkpoints; when `run_dir` is a file or cannot be created.
    """
    run_dir = pathlib.Path(run_dir)
    if resume:
        run = read_run_config(run_dir)
        if run["kind"] != kind:
            raise ValueError(
                f"Expected a {kind} run to resume. Received: {run_dir}, which holds a {run['kind']} run"
            )
        return run["config"]
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(f"Expected a folder for the run. Received: {run_dir}, which is a file")
    if (run_dir / RUN_CONFIG_FILE).exists() or (run_dir / CHECKPOINT_FOLDER).exists():
        try:
            held = read_run_config(run_dir)["kind"]
        except ValueError:
            held = "unreadable"
        raise ValueError(
            f"Expected a new run folder. Received: {run_dir}, which already holds a run ({held}); "
            "pass --resume to continue it or choose another --out"
        )
    try:
        write_run_config(run_dir, kind, settings)
    except OSError as error:
        raise ValueError(f"Expected a run folder that can be written. Received: {run_dir} ({error})") from None
    return settings


def build_optimizers(model):
    """Creates the optimizer variables before the first step.

    Under `tf.distribute` they must exist before `strategy.run` (an optimizer
    left to build itself inside `strategy.run` fails with "You must feed a value
    for placeholder tensor"), and a checkpoint can only restore slots that exist. A model
    with several optimizers (a GAN) defines `build_optimizers()` itself;
    otherwise `model.optimizer` is built on all trainable variables.
    """
    if hasattr(model, "build_optimizers"):
        model.build_optimizers()
    elif getattr(model, "optimizer", None) is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def _checkpoint(model):
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_done")
    return tf.train.Checkpoint(model=model, epochs_done=epoch), epoch


def restore_latest(model, run_dir):
    """Restores the newest checkpoint of `RUN_DIR` into `model`.

    Args:
        model: a model of the same architecture, built (its optimizers may be
            built or not: unbuilt optimizer slots are ignored).
        run_dir: the run folder.

    Returns:
        The number of epochs the checkpoint had completed.

    Raises:
        ValueError: if there is no checkpoint or it cannot be read.
    """
    folder = pathlib.Path(run_dir) / CHECKPOINT_FOLDER
    latest = tf.train.latest_checkpoint(str(folder)) if folder.is_dir() else None
    if latest is None:
        raise ValueError(
            f"Expected a checkpoint in {folder}. Received: none (was the run "
            "started with `python -m lib train ... --out` and did it finish an epoch?)"
        )
    checkpoint, epochs_done = _checkpoint(model)
    try:
        status = checkpoint.restore(latest)
        status.assert_existing_objects_matched()
    except Exception as error:  # truncated files raise IndexError, mismatches AssertionError, ...
        raise ValueError(
            f"Expected a readable checkpoint matching the model. Received: {latest}, "
            f"which could not be restored ({type(error).__name__}: {str(error)[:300]})"
        ) from None
    status.expect_partial()
    return int(epochs_done.numpy())


def _to_python(logs):
    return {name: float(np.asarray(value)) for name, value in logs.items()}


def _read_history(path, keep_epochs):
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row for row in rows if row.get("epoch", 0) <= keep_epochs]


def _resume_hint(run_dir, manager, epoch, epochs):
    """The one line printed when Ctrl-C stops a run."""
    try:
        kind = read_run_config(run_dir)["kind"]
    except ValueError:
        kind = "KIND"
    where = f"Stopped by Ctrl-C during epoch {epoch + 1} of {epochs}."
    if manager.latest_checkpoint is None:
        return f"{where} No epoch had finished, so no checkpoint was kept; start the run again."
    return (f"{where} Kept: {manager.latest_checkpoint}. Continue with: "
            f"python -m lib train {kind} --out {run_dir} --epochs {epochs} --resume")


def _log_epoch(writer, epoch, row, sample_images):
    """Writes one epoch's values (and a grid of samples) to TensorBoard."""
    with writer.as_default(step=epoch):
        for name, value in row.items():
            if name != "epoch":
                tf.summary.scalar(name, value)
        if sample_images is not None:
            from lib.plots import tile_images  # NumPy only

            images = np.asarray(sample_images(), dtype=np.float32)  # (n, h, w, c) in [0, 1]
            tf.summary.image("samples", tile_images(images)[np.newaxis], max_outputs=1)
    writer.flush()


def train(
    model,
    make_dataset,
    *,
    epochs,
    run_dir,
    resume=False,
    jit_compile=False,
    strategy=None,
    on_epoch_end=None,
    sample_images=None,
    progress=True,
):
    """Trains `model` for `epochs` epochs with a checkpoint after each.

    Args:
        model: a compiled `keras.Model` whose `train_step(batch)` returns a
            dict of scalar tensors; all its optimizers are its attributes.
            Build and compile it inside `strategy.scope()` when using one.
        make_dataset: `make_dataset(epoch) -> tf.data.Dataset` of batches,
            the same batches every time it is called with the same epoch.
        epochs: the total number of epochs (a resumed run counts those done).
        run_dir: the run folder (created if needed).
        resume: restore the latest checkpoint in `run_dir` first.
        jit_compile: compile the step with XLA.
        strategy: an optional `tf.distribute.Strategy`.
        on_epoch_end: optional `on_epoch_end(epoch, logs)`, epoch counted from 1.
        sample_images: optional `sample_images() -> (n, h, w, c)` images in
            [0, 1]; their grid is logged to TensorBoard as "samples" each epoch.
        progress: show a progress bar.

    Returns:
        The list of per-epoch log dicts (from `history.jsonl`, resumed
        epochs included).

    Raises:
        ValueError: for a non-positive `epochs`, or `resume=True` with no
            readable checkpoint.
        NonFiniteLossError: when a logged value becomes NaN or infinite.
        TrainingInterrupted: on Ctrl-C; the message names the checkpoint kept
            and the command that resumes the run.
    """
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs <= 0:
        raise ValueError(f"Expected a positive integer number of epochs. Received: epochs={epochs!r}")
    run_dir = pathlib.Path(run_dir)
    distributed = strategy is not None
    with strategy.scope() if distributed else contextlib.nullcontext():
        build_optimizers(model)
        checkpoint, epochs_done = _checkpoint(model)
    manager = tf.train.CheckpointManager(checkpoint, str(run_dir / CHECKPOINT_FOLDER), max_to_keep=3)
    start_epoch = 0
    if resume:
        start_epoch = restore_latest(model, run_dir)
        epochs_done.assign(start_epoch)
    history_path = run_dir / HISTORY_FILE
    history = _read_history(history_path, start_epoch)
    run_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write_text(history_path, "".join(json.dumps(row) + "\n" for row in history))

    if not distributed:
        step = tf.function(model.train_step, jit_compile=jit_compile)
    else:
        replica_step = tf.function(model.train_step, jit_compile=jit_compile)

        @tf.function
        def step(batch):
            per_replica = strategy.run(replica_step, args=(batch,))
            # Trackers already average over the replicas; MEAN keeps one value.
            return {
                name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                for name, value in per_replica.items()
            }

    writer = tf.summary.create_file_writer(str(run_dir / LOG_FOLDER))
    epoch = start_epoch
    bar = None
    try:
        for epoch in range(start_epoch, epochs):
            model.reset_metrics()
            dataset = make_dataset(epoch)
            total = int(dataset.cardinality()) if int(dataset.cardinality()) > 0 else None
            if distributed:
                dataset = strategy.experimental_distribute_dataset(dataset)
            started = time.perf_counter()
            bar = None
            if progress:
                from tqdm.auto import tqdm  # only needed for the bar

                # disable=None: a bar on a terminal or in Jupyter, none in a log file.
                bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=False, disable=None)
            logs = {}
            for step_index, batch in enumerate(dataset):
                logs = _to_python(step(batch))
                bad = {name: value for name, value in logs.items() if not math.isfinite(value)}
                if bad:
                    if bar is not None:
                        bar.close()
                    raise NonFiniteLossError(
                        f"Non-finite training value {bad} at epoch {epoch + 1}, step {step_index + 1}. "
                        f"Nothing was saved; the last good checkpoint is still "
                        f"{manager.latest_checkpoint or 'none (no epoch finished)'}. "
                        "Try a lower learning rate, or resume from that checkpoint."
                    )
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({name: f"{value:.3g}" for name, value in logs.items()})
            if bar is not None:
                bar.close()
            row = {"epoch": epoch + 1, **logs, "seconds": round(time.perf_counter() - started, 3)}
            epochs_done.assign(epoch + 1)
            manager.save()  # the checkpoint first: history never claims an unsaved epoch
            history.append(row)
            with history_path.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            _log_epoch(writer, epoch + 1, row, sample_images)
            if progress:
                print(f"epoch {epoch + 1}/{epochs}  " + "  ".join(
                    f"{name} {value:.4g}" for name, value in row.items() if name != "epoch"))
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1, row)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        raise TrainingInterrupted(_resume_hint(run_dir, manager, epoch, epochs)) from None
    finally:
        writer.close()
    return history
