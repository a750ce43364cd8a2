"""Tests for lib/runs/vae.py: settings from the presets, a resumed run equals an
uninterrupted one, the run folder is checked before anything is written, sample and
evaluate (with its progress bar on stderr), and the options a VAE refuses."""

import json

import keras
import numpy as np
import pytest

from lib import data as data_module
from lib import training, vae
from lib.runs import vae as runs

SMALL = dict(architecture="mlp", latent_dim=2, batch_size=64, train_size=256, learning_rate_decay="constant",
             offline=True)  # a constant rate: a run can be continued for more epochs


@pytest.fixture(scope="module")
def digits():
    return data_module.load_digits("mnist", offline=True, verbose=False)


def _weights(run_dir):
    model, _ = runs.load(run_dir)
    return model.get_weights()


def test_settings_come_from_the_presets():
    assert runs.settings_for("vae") == {**vae.PRESETS["vae"], "preset": "vae", "train_size": None, "offline": False}
    docs = runs.settings_for("vae", {"preset": "tf_docs"})
    assert {key: docs[key] for key in vae.PRESETS["tf_docs"]} == vae.PRESETS["tf_docs"]
    # The kind fixes what makes it that kind, whatever the preset; flags win over both.
    assert runs.settings_for("cvae", {"preset": "tf_docs"})["num_classes"] == vae.PRESETS["cvae"]["num_classes"]
    assert runs.settings_for("beta-vae", {"preset": "vae"})["beta"] == vae.PRESETS["beta-vae"]["beta"]
    assert runs.settings_for("beta-vae", {"beta": 2.0})["beta"] == 2.0
    assert runs.settings_for("vae", {"latent_dim": 7, "learning_rate": None})["latent_dim"] == 7


@pytest.mark.parametrize("flags, message", [
    ({"latent_dim": 0}, r"positive integer --latent-dim"),
    ({"batch_size": -1}, r"positive integer --batch-size"),
    ({"learning_rate": 0.0}, r"positive --learning-rate"),
    ({"beta": -1.0}, r"--beta >= 0"),
    ({"kl_warmup_steps": -3}, r"--kl-warmup-steps >= 0"),
    ({"preset": "huge"}, r"--preset in"),
    ({"train_size": 0}, r"positive integer --train-size"),
    ({"filters": [8, 16]}, r"Expected settings among .*Received: \['filters'\]"),
])
def test_bad_settings(flags, message):
    with pytest.raises(ValueError, match=message):
        runs.settings_for("vae", flags)
    with pytest.raises(ValueError, match=r"Expected a kind in .*Received: kind='gan'"):
        runs.settings_for("gan")


def test_resumed_run_equals_uninterrupted_run(tmp_path, digits):
    runs.train("vae", tmp_path / "straight", epochs=2, args=SMALL, data=digits, progress=False)
    runs.train("vae", tmp_path / "split", epochs=1, args=SMALL, data=digits, progress=False)
    history = runs.train("vae", tmp_path / "split", epochs=2, resume=True, data=digits, progress=False)
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) >= {"loss", "reconstruction_loss", "kl_loss"}
    for a, b in zip(_weights(tmp_path / "straight"), _weights(tmp_path / "split")):
        np.testing.assert_array_equal(a, b)
    assert (tmp_path / "split" / "samples" / "epoch_002.png").is_file()
    assert any((tmp_path / "split" / training.LOG_FOLDER).iterdir())  # TensorBoard logs


def test_run_stopped_by_ctrl_c_resumes_exactly_with_its_decay_and_warmup(tmp_path, digits, monkeypatch):
    args = {**SMALL, "learning_rate_decay": "linear_end", "kl_warmup_steps": 5}
    runs.train("vae", tmp_path / "straight", epochs=3, args=args, data=digits, progress=False)
    make_dataset = data_module.make_dataset

    def interrupted(*arguments, epoch, **keywords):
        if epoch == 2:
            raise KeyboardInterrupt
        return make_dataset(*arguments, epoch=epoch, **keywords)

    monkeypatch.setattr(runs.data_module, "make_dataset", interrupted)
    with pytest.raises(training.TrainingInterrupted, match="--epochs 3 --resume"):
        runs.train("vae", tmp_path / "split", epochs=3, args=args, data=digits, progress=False)
    monkeypatch.setattr(runs.data_module, "make_dataset", make_dataset)
    with pytest.raises(ValueError, match=r"--epochs 3 .*linear_end learning-rate decay"):
        runs.train("vae", tmp_path / "split", epochs=4, resume=True, data=digits, progress=False)
    runs.train("vae", tmp_path / "split", resume=True, data=digits, progress=False)
    for a, b in zip(_weights(tmp_path / "straight"), _weights(tmp_path / "split")):
        np.testing.assert_array_equal(a, b)
    # The saved model, compiled with its decaying rate, loads in safe mode.
    loaded = keras.saving.load_model(tmp_path / "split" / "model.keras", safe_mode=True)
    assert isinstance(loaded, vae.VAE) and isinstance(loaded.optimizer._learning_rate, vae.LinearEndDecay)


def test_a_folder_holding_another_run_is_refused_before_writing(tmp_path, digits):
    run_dir = tmp_path / "gan_run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps({"kind": "dcgan", "config": {"seed": 3}}))
    before = (run_dir / "run.json").read_text()
    with pytest.raises(ValueError, match=r"already holds a run \(dcgan\)"):
        runs.train("vae", run_dir, epochs=1, args=SMALL, data=digits, progress=False)
    assert (run_dir / "run.json").read_text() == before
    assert sorted(path.name for path in run_dir.iterdir()) == ["run.json"]
    with pytest.raises(ValueError, match=r"Expected a vae run to resume.*dcgan"):
        runs.train("vae", run_dir, epochs=1, resume=True, data=digits, progress=False)
    assert (run_dir / "run.json").read_text() == before
    # A bad setting is refused before the folder is even created.
    with pytest.raises(ValueError, match=r"--batch-size <= 256"):
        runs.train("vae", tmp_path / "new", epochs=1, args={**SMALL, "batch_size": 1000}, data=digits,
                   progress=False)
    assert not (tmp_path / "new").exists()


def test_sample_evaluate_and_saved_model(tmp_path, digits, capsys):
    run_dir = tmp_path / "cvae"
    runs.train("cvae", run_dir, epochs=1, args=SMALL, data=digits, progress=False)
    run = json.loads((run_dir / "run.json").read_text())
    assert run["kind"] == "cvae" and run["config"]["num_classes"] == 10
    images = runs.sample(run_dir, 5, seed=1)
    assert isinstance(images, np.ndarray) and images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    sevens = runs.sample(run_dir, 3, seed=1, label=7)
    model, _ = runs.load(run_dir)
    np.testing.assert_allclose(sevens, model.generate(3, labels=[7, 7, 7], seed=1))
    capsys.readouterr()
    numbers = runs.evaluate(run_dir, seed=0, iwae_k=20, num_images=64, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""  # the progress bar goes to stderr, with the time left
    assert "IWAE bound, k=20 on 64 images" in captured.err and "<" in captured.err
    assert {"neg_elbo_nats", "nll_nats", "k", "data", "held_out_images", "epochs_done"} <= set(numbers)
    assert numbers["k"] == 20 and numbers["held_out_images"] == 64 and numbers["epochs_done"] == 1
    # The IWAE bound is tighter than the ELBO (up to noise) and both are finite and positive.
    assert 0 < numbers["nll_nats"] <= numbers["neg_elbo_nats"] + 1.0
    json.dumps(numbers)  # JSON-serialisable
    # The saved model loads with plain Keras (safe mode) once lib.vae is imported, and encodes as the run does.
    loaded = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    assert isinstance(loaded, vae.VAE)
    held_out = vae.binarize_held_out(data_module.to_float_images(digits.test_images[:4]))
    labels = digits.test_labels[:4]
    np.testing.assert_allclose(loaded.encode(held_out, labels)[0], model.encode(held_out, labels)[0])


def test_options_a_vae_does_not_take(tmp_path, digits):
    run_dir = tmp_path / "vae"
    runs.train("vae", run_dir, epochs=1, args=SMALL, data=digits, progress=False)
    with pytest.raises(ValueError, match=r"--iwae-k and --num-images for a VAE run.*--steps \(it is for diffusion"):
        runs.evaluate(run_dir, steps=10)
    with pytest.raises(ValueError, match=r"--guidance"):
        runs.sample(run_dir, 2, guidance=2.0)
    with pytest.raises(ValueError, match=r"no --label for an unconditional vae run"):
        runs.sample(run_dir, 2, label=3)
    with pytest.raises(ValueError, match=r"positive integer --iwae-k"):
        runs.evaluate(run_dir, iwae_k=0)


def test_missing_run(tmp_path):
    with pytest.raises(ValueError, match=r"run.json"):
        runs.evaluate(tmp_path / "nothing")
