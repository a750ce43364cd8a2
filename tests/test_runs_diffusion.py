"""Tests for lib/runs/diffusion.py and `python -m lib ... ddpm|ddpm-cond`: settings from the presets,
a resumed run equals an uninterrupted one, bad input leaves nothing behind, sample and evaluate."""

import json

import numpy as np
import pytest

from lib import cli, diffusion
from lib import data as data_module
from lib.runs import diffusion as runs

# The "tiny" preset on 32 digits: four steps an epoch.
SMALL = dict(preset="tiny", train_size=32, offline=True, timesteps=40)


@pytest.fixture(scope="module")
def digits():
    return data_module.load_digits("mnist", offline=True, verbose=False)


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory, digits):
    run_dir = tmp_path_factory.mktemp("runs") / "cond"
    runs.train("ddpm-cond", run_dir, epochs=1, args=SMALL, data=digits, progress=False)
    return run_dir


def _weights(run_dir):
    model, _ = runs.load(run_dir)
    return model.network.get_weights() + model.ema_network.get_weights()


def test_settings_come_from_the_presets():
    settings = runs.settings_for("ddpm")
    assert {key: settings[key] for key in diffusion.PRESETS["course"]} == diffusion.PRESETS["course"]
    assert settings["num_classes"] is None and runs.settings_for("ddpm-cond")["num_classes"] == 10
    assert runs.settings_for("ddpm", {"preset": "tiny", "learning_rate": 0.01})["learning_rate"] == 0.01
    assert runs.settings_for("ddpm", {"schedule": "linear", "batch_size": None})["schedule"] == "linear"


@pytest.mark.parametrize("kind, flags, message", [
    ("ddpm", {"schedule": "sigmoid"}, r"--schedule in \('linear', 'cosine'\)"),
    ("ddpm", {"parameterization": "score"}, "--parameterization in"),
    ("ddpm", {"batch_size": 0}, "positive integer --batch-size"),
    ("ddpm", {"timesteps": -5}, "positive integer --timesteps"),
    ("ddpm", {"guidance": 2.0}, "Expected no --guidance for ddpm"),
    ("ddpm", {"ema_decay": 1.5}, r"--ema-decay in \[0, 1\)"),
    ("ddpm-cond", {"guidance": -1.0}, "--guidance >= 0"),
    ("ddpm", {"sampling_steps": 2000}, "--sampling-steps <= --timesteps"),
    ("ddpm", {"preset": "huge"}, "--preset in"),
    ("ddpm", {"train_size": 0}, "positive integer --train-size"),
])
def test_bad_settings(kind, flags, message):
    with pytest.raises(ValueError, match=message):
        runs.settings_for(kind, flags)


def test_resumed_run_equals_uninterrupted_run(tmp_path, digits):
    runs.train("ddpm", tmp_path / "straight", epochs=2, args=SMALL, data=digits, progress=False)
    runs.train("ddpm", tmp_path / "split", epochs=1, args=SMALL, data=digits, progress=False)
    history = runs.train("ddpm", tmp_path / "split", epochs=2, resume=True, data=digits, progress=False)
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) >= {"loss", "noise_loss", "image_loss"}
    for a, b in zip(_weights(tmp_path / "straight"), _weights(tmp_path / "split")):
        np.testing.assert_array_equal(a, b)
    for name in ("run.json", "model.keras", "samples/epoch_002.png", "logs"):
        assert (tmp_path / "split" / name).exists(), name


def test_a_folder_holding_a_run_is_refused(cond_run, digits):
    with pytest.raises(ValueError, match="already holds a run"):
        runs.train("ddpm-cond", cond_run, epochs=1, args=SMALL, data=digits, progress=False)
    with pytest.raises(ValueError, match="Expected a ddpm run to resume"):
        runs.train("ddpm", cond_run, epochs=2, resume=True, data=digits, progress=False)


def test_sample_draws_the_asked_for_digits(cond_run, capsys):
    images = runs.sample(cond_run, 6, steps=3, label=7, guidance=2.0)
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    np.testing.assert_array_equal(images, runs.sample(cond_run, 6, steps=3, label=7, guidance=2.0, progress=False))
    for options, message in [({"label": 10}, r"--label in \[0, 9\]"), ({"steps": 0}, "Expected steps"),
                             ({"steps": 41}, r"Expected steps, an integer in \[1, 40\]"),
                             ({"iwae_k": 5}, "Expected no --iwae-k for diffusion runs")]:
        with pytest.raises(ValueError, match=message):
            runs.sample(cond_run, 2, **options)


def test_evaluate_reports_fid_kid_and_the_steps_used(cond_run):
    result = runs.evaluate(cond_run, num_images=20, steps=2, guidance=1.5, progress=False)
    assert {"fid", "kid", "confidently_read", "label_accuracy", "class_counts", "sampling_steps",
            "sampling_seconds"} <= set(result)
    assert result["sampling_steps"] == 2 and result["guidance"] == 1.5 and result["num_generated"] == 20
    json.dumps(result)


@pytest.fixture(scope="module")
def command_line_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "ddpm"
    assert cli.main(["train", "ddpm", "--out", str(run_dir), "--epochs", "1", "--preset", "tiny",
                     "--train-size", "16", "--offline", "--timesteps", "30"]) == 0
    return run_dir


def test_command_line_train_sample_evaluate(command_line_run, tmp_path, capsys):
    run_dir, output = command_line_run, tmp_path / "s.npy"
    assert cli.main(["sample", str(run_dir), "-n", "5", "-o", str(output), "--steps", "3"]) == 0
    images = np.load(output)
    assert images.shape == (5, 28, 28, 1) and 0 <= images.min() and images.max() <= 1
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir), "--json", "--num-images", "12", "--steps", "2"]) == 0
    result = json.loads(capsys.readouterr().out)  # stdout holds the JSON alone
    assert result["sampling_steps"] == 2 and result["kind"] == "ddpm"


@pytest.mark.parametrize("argv, message", [
    (["sample", "RUN", "-n", "4", "-o", "OUT", "--guidance", "2"], "Expected no --guidance for an unconditional"),
    (["sample", "RUN", "-n", "4", "-o", "OUT", "--label", "3"], "Expected no --label for an unconditional"),
    (["sample", "RUN", "-n", "4", "-o", "OUT", "--steps", "31"], "Expected steps"),
    (["evaluate", "RUN", "--iwae-k", "5"], "Expected no --iwae-k for diffusion runs"),
])
def test_bad_sampling_options_write_nothing(command_line_run, tmp_path, capsys, argv, message):
    run_dir = command_line_run
    capsys.readouterr()
    argv = [str(run_dir) if part == "RUN" else str(tmp_path / "out.npy") if part == "OUT" else part for part in argv]
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("out*"))  # nothing half-written


def test_bad_training_flags_leave_no_run_folder(tmp_path, capsys):
    for flags in (["--schedule", "sigmoid"], ["--guidance", "2"], ["--batch-size", "0"]):
        with pytest.raises(SystemExit) as stop:
            cli.main(["train", "ddpm", "--out", str(tmp_path / "bad"), "--preset", "tiny", "--offline", *flags])
        assert stop.value.code == 2
        assert not (tmp_path / "bad").exists()
