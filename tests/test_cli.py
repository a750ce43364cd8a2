"""Tests of the command line (lib/cli.py) and the GAN runs behind it (lib/runs/gan.py)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from lib import cli, training
from lib.runs import gan as gan_runs

TINY = ["--batch-size", "500", "--latent-dim", "8", "--offline"]  # 8 steps an epoch on 4,000 digits


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """One tiny DCGAN run of one epoch, shared by the tests below."""
    run_dir = tmp_path_factory.mktemp("runs") / "dcgan"
    assert cli.main(["train", "dcgan", "--out", str(run_dir), "--epochs", "1", *TINY]) == 0
    return run_dir


def test_train_writes_a_complete_run_folder(trained_run):
    run = training.read_run_config(trained_run)
    assert run["kind"] == "dcgan" and run["config"]["batch_size"] == 500
    assert "offline" in run["config"]["data"]
    assert (trained_run / "samples" / "epoch_001.png").is_file()
    assert (trained_run / "generator.keras").is_file()
    assert training.restore_latest(gan_runs.load(trained_run)[0], trained_run) == 1


def test_sample_writes_unit_range_float_images(trained_run, tmp_path):
    output = tmp_path / "samples.npy"
    assert cli.main(["sample", str(trained_run), "-n", "12", "-o", str(output)]) == 0
    images = np.load(output)
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0


def test_evaluate_prints_one_json_object_with_fid_and_kid(trained_run, capsys):
    assert cli.main(["evaluate", str(trained_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"fid", "kid", "classifier", "epochs_done"} <= set(result)
    assert result["fid"] > 0 and result["epochs_done"] == 1


def test_resume_continues_where_the_run_stopped(trained_run):
    assert cli.main(["train", "dcgan", "--out", str(trained_run), "--epochs", "2", "--resume"]) == 0
    rows = [json.loads(line) for line in (trained_run / "history.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]


def test_a_second_train_into_the_same_folder_is_refused(trained_run, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", "dcgan", "--out", str(trained_run), "--epochs", "1", *TINY])
    assert stop.value.code == 2
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["train", "dcgan", "--out", "{tmp}/a", "--epochs", "-3"], "expected a positive integer, received '-3'"),
        (["train", "gan", "--out", "{tmp}/a"], "invalid choice: 'gan'"),
        (["train", "dcgan", "--out", "{tmp}/a", "--dataset", "cifar10"], "invalid choice: 'cifar10'"),
        (["train", "dcgan", "--out", "{tmp}/a", "--batch-size", "0"], "positive integer --batch-size"),
        (["train", "dcgan", "--out", "{tmp}/a", "--bogus"], "unrecognized arguments: --bogus"),
        (["sample", "{tmp}/missing", "-n", "5", "-o", "{tmp}/s.npy"], "no run.json"),
        (["sample", "{tmp}", "-n", "0", "-o", "{tmp}/s.npy"], "expected a positive integer"),
        (["evaluate", "{tmp}/missing"], "no run.json"),
    ],
)
def test_bad_input_is_a_usage_error_that_writes_nothing(tmp_path, capsys, arguments, message):
    arguments = [argument.replace("{tmp}", str(tmp_path)) for argument in arguments]
    with pytest.raises(SystemExit) as stop:
        cli.main(arguments)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "s.npy").exists()


def test_sampling_a_run_without_a_checkpoint_says_so(tmp_path, capsys):
    training.write_run_config(tmp_path, "dcgan", gan_runs.settings_for("dcgan") | {"seed": 0, "dataset": "mnist"})
    with pytest.raises(SystemExit):
        cli.main(["sample", str(tmp_path), "-n", "4", "-o", str(tmp_path / "s.npy")])
    assert "Expected a checkpoint" in capsys.readouterr().err


def test_fashion_mnist_offline_is_a_clear_usage_error(tmp_path, capsys, monkeypatch):
    from lib import data

    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(data.keras.datasets.fashion_mnist, "load_data", no_network)
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", "dcgan", "--out", str(tmp_path / "f"), "--dataset", "fashion_mnist"])
    assert stop.value.code == 2
    assert "Fashion-MNIST could not be downloaded" in capsys.readouterr().err
    assert not (tmp_path / "f").exists()


def test_kind_help_lists_the_kinds_own_flags(capsys):
    assert cli.main(["train", "dcgan", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert "--preset" in help_text and "--mixed-precision" in help_text


def test_python_dash_m_lib_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "lib", "train", "nonsense"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2 and "invalid choice: 'nonsense'" in result.stderr


def test_evaluate_json_prints_json_alone_on_stdout_when_the_download_fails(tmp_path, capsys, monkeypatch):
    """Offline, Keras prints "Downloading data from ..." before failing: that line must not reach stdout."""
    from lib import data

    def failing_download(*args, **kwargs):
        print("Downloading data from https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz")
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(data.keras.datasets.mnist, "load_data", failing_download)
    run_dir = tmp_path / "online_dcgan"  # no --offline: the run tries the download first
    assert cli.main(["train", "dcgan", "--out", str(run_dir), "--epochs", "1", "--batch-size", "500",
                     "--latent-dim", "8"]) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", str(run_dir), "--json", "--num-images", "200"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # the whole of stdout is one JSON object
    assert result["num_generated"] == 200 and "confidently_read" in result
    assert "Downloading data from" in captured.err


def test_ctrl_c_during_training_prints_one_line_with_the_resume_command(tmp_path, capsys, monkeypatch):
    from lib import data

    real_make_dataset = data.make_dataset
    calls = []

    def interrupted_in_the_second_epoch(*args, **kwargs):
        calls.append(kwargs.get("epoch"))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_make_dataset(*args, **kwargs)

    monkeypatch.setattr(data, "make_dataset", interrupted_in_the_second_epoch)
    run_dir = tmp_path / "stopped"
    assert cli.main(["train", "dcgan", "--out", str(run_dir), "--epochs", "3", *TINY]) == 130
    message = capsys.readouterr().err.strip()
    assert "Traceback" not in message and len(message.splitlines()) == 1
    assert "Stopped by Ctrl-C during epoch 2 of 3" in message
    assert f"python -m lib train dcgan --out {run_dir} --epochs 3 --resume" in message
    assert "ckpt-1" in message


def test_training_writes_tensorboard_logs_with_the_step_values_and_samples(trained_run):
    import tensorflow as tf

    event_files = list((trained_run / "logs").glob("events.out.tfevents.*"))
    assert event_files, "no TensorBoard event file in RUN_DIR/logs"
    tags = {value.tag for path in event_files for event in tf.compat.v1.train.summary_iterator(str(path))
            for value in event.summary.value}
    assert {"loss", "discriminator_loss", "generator_loss", "seconds", "samples"} <= tags


def test_a_run_folder_of_another_kind_is_refused_before_anything_is_written(trained_run, capsys):
    before = sorted(path.name for path in trained_run.iterdir())
    with pytest.raises(SystemExit):
        cli.main(["train", "wgan-gp", "--out", str(trained_run), "--epochs", "1", *TINY])
    assert "already holds a run (dcgan)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "cgan", "--out", str(trained_run), "--resume"])
    assert "Expected a cgan run to resume" in capsys.readouterr().err
    assert sorted(path.name for path in trained_run.iterdir()) == before


@pytest.mark.parametrize("arguments, message", [
    (["sample", "{run}", "-n", "4", "-o", "{tmp}/s.npy", "--steps", "20"], "Expected no --steps for GAN runs"),
    (["sample", "{run}", "-n", "4", "-o", "{tmp}/s.npy", "--label", "3"], "Expected no --label for an unconditional"),
    (["evaluate", "{run}", "--iwae-k", "10"], "Expected no --iwae-k for GAN runs"),
])
def test_options_of_other_families_are_usage_errors(trained_run, tmp_path, capsys, arguments, message):
    arguments = [a.replace("{run}", str(trained_run)).replace("{tmp}", str(tmp_path)) for a in arguments]
    with pytest.raises(SystemExit) as stop:
        cli.main(arguments)
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "s.npy").exists()
