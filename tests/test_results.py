"""Tests for lib/results.py: where results go, what a record holds, and reading them back."""

import json
import math
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from lib import results

REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A results folder of this test's own, through COURSE_RESULTS_DIR (not yet created)."""
    target = tmp_path / "nested" / "results"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(target))
    return target


def test_results_dir_honours_the_environment_variable_and_creates_it(folder):
    assert not folder.exists()
    assert results.results_dir() == folder
    assert folder.is_dir()


def test_results_dir_defaults_to_runs_results_in_the_repository(monkeypatch):
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    assert results.results_dir() == REPOSITORY_ROOT / "runs" / "results"


def test_record_writes_one_json_file_named_after_the_notebook(folder):
    path = results.record("05_conv_vae", nll_nats=87.1, quick=True)
    assert path == folder / "05_conv_vae.json"
    assert json.loads(path.read_text()) == {"nll_nats": 87.1, "quick": True}
    assert sorted(item.name for item in folder.iterdir()) == ["05_conv_vae.json"]  # no temporary file left


def test_record_round_trips_numbers_bools_and_strings_exactly(folder):
    numbers = {"fid": 17.503918237, "tiny": 1e-12, "huge": 3.5e300, "count": 1000, "negative": -2,
               "all_classes": False, "sampler": "DDIM-50"}
    results.record("01_dcgan", **numbers)
    back = results.read_all()["01_dcgan"]
    assert back == numbers
    assert type(back["count"]) is int and type(back["all_classes"]) is bool and type(back["fid"]) is float


def test_record_turns_numpy_and_tensorflow_scalars_into_python_values(folder):
    results.record(
        "10_ddpm",
        fid=np.float32(0.5),
        steps=np.int64(50),
        read=np.bool_(True),
        loss=tf.constant(0.25),
        epochs=tf.constant(3),
        one_element=np.array([2.5]),
    )
    back = json.loads((folder / "10_ddpm.json").read_text())
    assert back == {"fid": 0.5, "steps": 50, "read": True, "loss": 0.25, "epochs": 3, "one_element": 2.5}
    assert type(back["steps"]) is int and type(back["read"]) is bool and type(back["epochs"]) is int


def test_record_replaces_an_earlier_record_of_the_same_name(folder):
    results.record("04_vae", nll_nats=100.0, quick=True)
    results.record("04_vae", nll_nats=90.0)
    assert results.read_all() == {"04_vae": {"nll_nats": 90.0}}


def test_record_with_no_numbers_writes_an_empty_object(folder):
    results.record("07_gatys")
    assert results.read_all() == {"07_gatys": {}}


@pytest.mark.parametrize("name", ["", None, "runs/05_conv_vae", "/tmp/x"])
def test_record_refuses_an_empty_name_or_a_path(folder, name):
    with pytest.raises(ValueError, match="Expected a plain non-empty name. Received: ") as error:
        results.record(name, fid=1.0)
    assert f"name={name!r}" in str(error.value)
    assert not folder.exists() or not any(folder.iterdir())


@pytest.mark.parametrize(
    "value",
    [None, [1.0, 2.0], {"fid": 1.0}, (1, 2), b"bytes", pathlib.Path("runs"), 1 + 2j],
)
def test_record_refuses_values_that_are_not_numbers_bools_or_strings(folder, value):
    with pytest.raises(ValueError, match="Expected numbers, bools or strings. Received: ") as error:
        results.record("03_wgan", fid=20.6, bad=value)
    assert f"bad={value!r}" in str(error.value)
    assert not (folder / "03_wgan.json").exists()  # nothing half-recorded


def test_record_refuses_an_array_of_several_values(folder):
    # An array's .item() fails for more than one element: still a ValueError, and nothing written.
    with pytest.raises(ValueError):
        results.record("03_wgan", scores=np.array([1.0, 2.0]))
    assert not (folder / "03_wgan.json").exists()


def test_read_all_reads_every_record_back_sorted_by_name(folder):
    results.record("10_ddpm", fid=13.3)
    results.record("01_dcgan", fid=17.5, all_classes=True)
    everything = results.read_all()
    assert list(everything) == ["01_dcgan", "10_ddpm"]
    assert everything == {"01_dcgan": {"fid": 17.5, "all_classes": True}, "10_ddpm": {"fid": 13.3}}


def test_read_all_of_an_empty_folder_is_empty(folder):
    assert results.read_all() == {}


def test_read_all_reads_a_given_folder_and_only_json_files(folder, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "02_cgan.json").write_text(json.dumps({"label_accuracy": 0.985}))
    (other / "notes.txt").write_text("not a result")
    (other / "04_vae.json.tmp").write_text("{half")  # a write that never finished
    assert results.read_all(other) == {"02_cgan": {"label_accuracy": 0.985}}
    assert results.read_all(str(other)) == {"02_cgan": {"label_accuracy": 0.985}}
    assert not folder.exists()  # the default folder was not touched


def test_record_keeps_floats_bit_exact(folder):
    value = math.pi / 7
    results.record("05_conv_vae", value=value)
    assert results.read_all()["05_conv_vae"]["value"] == value
