"""Tests for lib/runs/vae.py: a resumed run equals an uninterrupted one; sample and evaluate."""

import json

import keras
import numpy as np
import pytest

from lib import data as data_module
from lib import vae
from lib.runs import vae as runs

SMALL = dict(architecture="mlp", hidden_units=[32], latent_dim=2, batch_size=64, train_size=256,
             iwae_k=20, eval_images=64, offline=True)


@pytest.fixture(scope="module")
def digits():
    return data_module.load_digits("mnist", offline=True, verbose=False)


def _weights(run_dir):
    model, _ = runs.load(run_dir)
    return model.get_weights()


def test_resumed_run_equals_uninterrupted_run(tmp_path, digits):
    runs.train("vae", tmp_path / "straight", epochs=2, args=SMALL, data=digits, progress=False)
    runs.train("vae", tmp_path / "split", epochs=1, args=SMALL, data=digits, progress=False)
    history = runs.train("vae", tmp_path / "split", epochs=2, resume=True, data=digits, progress=False)
    assert [row["epoch"] for row in history] == [1, 2]
    for a, b in zip(_weights(tmp_path / "straight"), _weights(tmp_path / "split")):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "split" / "samples" / "epoch_002.png").is_file()


def test_sample_evaluate_and_saved_model(tmp_path, digits):
    run_dir = tmp_path / "cvae"
    runs.train("cvae", run_dir, epochs=1, args=SMALL, data=digits, progress=False)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["kind"] == "cvae" and run["config"]["num_classes"] == 10
    images = runs.sample(run_dir, 5, seed=1)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    numbers = runs.evaluate(run_dir, seed=0)
    assert {"neg_elbo_nats", "nll_nats", "k", "data", "held_out_images"} <= set(numbers)
    assert numbers["k"] == 20 and numbers["held_out_images"] == 64
    # The IWAE bound is tighter than the ELBO (up to noise) and both are finite and positive.
    assert 0 < numbers["nll_nats"] <= numbers["neg_elbo_nats"] + 1.0
    json.dumps(numbers)  # JSON-serialisable
    # The saved model loads with plain Keras once lib.vae is imported, and encodes as the run does.
    loaded = keras.saving.load_model(run_dir / "model.keras")
    model, _ = runs.load(run_dir)
    held_out, labels = runs.held_out_images(digits, 4)
    np.testing.assert_allclose(loaded.encode(held_out, labels[:4])[0], model.encode(held_out, labels[:4])[0])
    assert isinstance(loaded, vae.VAE)


def test_unknown_kind_and_missing_run(tmp_path):
    with pytest.raises(ValueError, match=r"Expected a kind in .*Received: kind='gan'"):
        runs.settings_for("gan")
    with pytest.raises(ValueError, match=r"run.json"):
        runs.evaluate(tmp_path / "nothing")
