"""The course's shipped weights (lib/pretrained.py, data/weights/).

Every file listed in `pretrained.SHIPPED` must be there, load with Keras' safe
mode on, and still reach the quality its record states (within the entry's
tolerance), from the offline data. A missing or corrupt file must say which
command recreates it.
"""

import json
import math

import keras
import numpy as np
import pytest

from lib import pretrained


def _numbers(quality):
    """The numeric entries of a quality dict that a re-measurement must reproduce (not timings)."""
    return {key: value for key, value in quality.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not key.endswith("seconds")}


@pytest.mark.parametrize("name", sorted(pretrained.SHIPPED))
def test_shipped_weights_load_in_safe_mode_and_reach_their_recorded_quality(name):
    entry = pretrained.SHIPPED[name]
    made = pretrained.record(name)
    assert made["command"] == pretrained.make_command(name)
    assert made["training_seconds"] > 0 and made["machine"] and made["date"]
    model = pretrained.load(name, verbose=False)
    # A costly measure (1,000 diffusion samples) is repeated on its recorded cheaper check.
    check = entry.get("check")
    measured = _numbers(pretrained.measure(name, model, seed=0, **(check or {})))
    recorded = _numbers(made["check_quality"] if check else made["quality"])
    assert measured.keys() == recorded.keys()
    for key, value in recorded.items():
        assert math.isclose(measured[key], value, rel_tol=entry["tolerance"], abs_tol=1e-3), (
            f"{name}: {key} measured {measured[key]:.4g}, recorded {value:.4g}")


def test_the_shipped_files_stay_small():
    total = sum(path.stat().st_size for path in pretrained.WEIGHTS_DIR.glob("*.keras"))
    assert total < 40 * 2**20, f"data/weights/ holds {total / 2**20:.1f} MB"
    listed = {f"{name}.keras" for name in pretrained.SHIPPED}
    assert {path.name for path in pretrained.WEIGHTS_DIR.glob("*.keras")} <= listed


@pytest.fixture
def tiny_entry(monkeypatch, tmp_path):
    """A shipped entry "tiny" whose file is a small Dense network in a temporary weights folder."""
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setitem(pretrained.SHIPPED, "tiny", {
        "kind": "dcgan", "train_args": ["--epochs", "1"], "export": None, "measure": "math:fabs",
        "tolerance": 0.01, "headline": (), "what": "tiny network", "notebooks": ()})
    network = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    network.save(tmp_path / "tiny.keras")
    (tmp_path / "tiny.json").write_text(json.dumps({
        "command": "python scripts/make_weights.py tiny", "training_seconds": 60, "machine": "test",
        "date": "2026-11-27", "quality": {"fid": 1.0}}))
    return network


def test_load_says_where_the_weights_came_from(tiny_entry, capsys):
    model = pretrained.load("tiny")
    np.testing.assert_allclose(model.get_weights()[0], tiny_entry.get_weights()[0])
    line = capsys.readouterr().out
    assert "data/weights/tiny.keras" in line and "python scripts/make_weights.py tiny" in line


def test_a_missing_file_names_the_command_that_recreates_it(tiny_entry, tmp_path):
    (tmp_path / "tiny.keras").unlink()
    with pytest.raises(ValueError, match=r"no such file.*python scripts/make_weights.py tiny"):
        pretrained.load("tiny")


def test_a_corrupt_file_names_the_command_that_recreates_it(tiny_entry, tmp_path):
    path = tmp_path / "tiny.keras"
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"could not be loaded.*python scripts/make_weights.py tiny"):
        pretrained.load("tiny")


def test_load_into_copies_the_weights_and_refuses_another_architecture(tiny_entry):
    same = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    pretrained.load_into("tiny", same, verbose=False)
    np.testing.assert_allclose(same.get_weights()[0], tiny_entry.get_weights()[0])
    wider = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5)])
    with pytest.raises(ValueError, match=r"has shape \(3, 5\)"):
        pretrained.load_into("tiny", wider, verbose=False)


def test_an_unknown_name_is_refused():
    with pytest.raises(ValueError, match="Expected the name of shipped weights"):
        pretrained.load("imagenet")


def test_data_readme_shows_the_records_as_they_are():
    readme = (pretrained.WEIGHTS_DIR.parent / "README.md").read_text()
    for row in pretrained.readme_table().splitlines():
        assert row in readme, f"data/README.md is out of date; replace its table with readme_table(). Missing: {row}"
