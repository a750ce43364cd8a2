"""Tests of lib/training.py and lib/data.py: checkpoints, resume, stops, run folders, data."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from lib import data, gan, training


def tiny_gan(seed=0, noise_seed=0):
    keras.utils.set_random_seed(seed)  # initial weights
    generator = gan.build_generator(8, projection_filters=16, generator_blocks=[[8, 2]])
    discriminator = gan.build_discriminator(discriminator_filters=[8, 16])
    model = gan.GAN(generator, discriminator, seed=noise_seed)
    model.compile(keras.optimizers.Adam(1e-3, beta_1=0.5), keras.optimizers.Adam(1e-3, beta_1=0.5))
    return model


def images(count=64, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


def make_dataset_fn(array, batch_size=16):
    return lambda epoch: data.make_dataset(array, batch_size=batch_size, epoch=epoch, seed=1)


# -- data -------------------------------------------------------------------------------


def test_offline_mnist_fallback_gives_real_digits_and_says_so(capsys):
    digits = data.load_digits("mnist", offline=True)
    assert "offline" in capsys.readouterr().out
    assert digits.offline and "data/mnist_5k.npz" in digits.source
    assert digits.train_images.shape == (4000, 28, 28) and digits.test_images.shape == (1000, 28, 28)
    assert digits.train_images.dtype == np.uint8 and digits.train_images.max() == 255
    # Shuffled before the split: all ten classes on both sides, about 100 each held out.
    assert np.bincount(digits.test_labels, minlength=10).min() > 60
    assert set(np.unique(digits.train_labels)) == set(range(10))
    again = data.load_digits("mnist", offline=True, verbose=False)
    np.testing.assert_array_equal(digits.test_labels, again.test_labels)


def test_fashion_mnist_offline_is_a_clear_error_not_a_substitution():
    with pytest.raises(ValueError, match="Fashion-MNIST.*no offline copy"):
        data.load_digits("fashion_mnist", offline=True)


def test_unknown_dataset_name_is_rejected():
    with pytest.raises(ValueError, match=r"Expected a dataset in \('mnist', 'fashion_mnist'\).*'cifar'"):
        data.load_digits("cifar")


def test_to_float_images_scales_to_the_requested_range():
    pixels = np.array([[[0, 255], [51, 102]]], np.uint8)
    scaled = data.to_float_images(pixels, (-1, 1))
    assert scaled.shape == (1, 2, 2, 1) and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[0, :, :, 0], [[-1.0, 1.0], [-0.6, -0.2]], atol=1e-6)
    with pytest.raises(ValueError, match="0..255"):
        data.to_float_images(np.array([[[300]]]))
    with pytest.raises(ValueError, match="shape"):
        data.to_float_images(np.zeros((28, 28), np.uint8))


def test_make_dataset_order_depends_only_on_seed_and_epoch():
    array = np.arange(32, dtype="float32").reshape(32, 1, 1, 1)

    def first_batch(epoch, seed=1):
        return next(iter(data.make_dataset(array, batch_size=8, epoch=epoch, seed=seed))).numpy().ravel()

    np.testing.assert_array_equal(first_batch(2), first_batch(2))
    assert not np.array_equal(first_batch(2), first_batch(3))
    assert not np.array_equal(first_batch(2), first_batch(2, seed=2))
    with pytest.raises(ValueError, match="positive integer batch_size"):
        data.make_dataset(array, batch_size=0)
    with pytest.raises(ValueError, match="one label per image"):
        data.make_dataset(array, np.zeros(3), batch_size=8)


# -- training loop ------------------------------------------------------------------------


def test_train_writes_checkpoints_history_and_calls_back(tmp_path):
    seen = []
    history = training.train(tiny_gan(), make_dataset_fn(images()), epochs=2, run_dir=tmp_path,
                             progress=False, on_epoch_end=lambda epoch, logs: seen.append(epoch))
    assert seen == [1, 2] and [row["epoch"] for row in history] == [1, 2]
    rows = [json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()]
    assert rows == history and {"discriminator_loss", "generator_loss", "seconds"} <= set(rows[0])
    assert training.restore_latest(tiny_gan(), tmp_path) == 2


def test_a_resumed_run_matches_an_uninterrupted_run(tmp_path):
    array = images()
    uninterrupted = tiny_gan()
    full_history = training.train(uninterrupted, make_dataset_fn(array), epochs=3,
                                  run_dir=tmp_path / "full", progress=False)

    interrupted = tiny_gan()
    training.train(interrupted, make_dataset_fn(array), epochs=1, run_dir=tmp_path / "split", progress=False)
    resumed = tiny_gan(seed=99)  # a fresh process would start from other weights: the checkpoint must win
    resumed_history = training.train(resumed, make_dataset_fn(array), epochs=3, run_dir=tmp_path / "split",
                                     resume=True, progress=False)

    for expected, got in zip(uninterrupted.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    for expected, got in zip(full_history, resumed_history):
        assert got["epoch"] == expected["epoch"]
        assert got["generator_loss"] == pytest.approx(expected["generator_loss"], rel=1e-5)
    assert int(resumed.discriminator_optimizer.iterations) == int(uninterrupted.discriminator_optimizer.iterations)


def test_a_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    array = images()

    def make(epoch):  # the second epoch's data is poisoned with NaN
        batch = array if epoch == 0 else np.full_like(array, np.nan)
        return data.make_dataset(batch, batch_size=16, epoch=epoch)

    model = tiny_gan()
    with pytest.raises(training.NonFiniteLossError, match="epoch 2, step 1.*last good checkpoint"):
        training.train(model, make, epochs=3, run_dir=tmp_path, progress=False)
    fresh = tiny_gan(seed=5)
    assert training.restore_latest(fresh, tmp_path) == 1
    assert all(np.isfinite(weight).all() for weight in fresh.get_weights())


@pytest.mark.parametrize("epochs", [0, -1, 2.5, True])
def test_train_rejects_a_bad_epoch_count(tmp_path, epochs):
    with pytest.raises(ValueError, match="positive integer number of epochs"):
        training.train(tiny_gan(), make_dataset_fn(images()), epochs=epochs, run_dir=tmp_path, progress=False)


def test_restore_reports_a_missing_or_corrupt_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="Expected a checkpoint"):
        training.restore_latest(tiny_gan(), tmp_path)
    training.train(tiny_gan(), make_dataset_fn(images()), epochs=1, run_dir=tmp_path, progress=False)
    for data_file in (tmp_path / "checkpoints").glob("*.data-*"):
        data_file.write_bytes(data_file.read_bytes()[:100])  # truncated, as by a full disk
    with pytest.raises(ValueError, match="could not be restored"):
        training.restore_latest(tiny_gan(), tmp_path)


def test_restore_rejects_a_checkpoint_of_another_architecture(tmp_path):
    training.train(tiny_gan(), make_dataset_fn(images()), epochs=1, run_dir=tmp_path, progress=False)
    other = gan.GAN(gan.build_generator(8, projection_filters=32, generator_blocks=[[8, 2]]),
                    gan.build_discriminator(discriminator_filters=[8, 16]))
    other.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    with pytest.raises(ValueError, match="could not be restored"):
        training.restore_latest(other, tmp_path)


def test_run_config_round_trip_and_errors(tmp_path):
    training.write_run_config(tmp_path / "run", "dcgan", {"epochs": 3, "preset": "course"})
    assert training.read_run_config(tmp_path / "run") == {"kind": "dcgan",
                                                          "config": {"epochs": 3, "preset": "course"}}
    assert not list((tmp_path / "run").glob("*.tmp"))
    with pytest.raises(ValueError, match="no run.json"):
        training.read_run_config(tmp_path / "missing")
    (tmp_path / "run" / "run.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        training.read_run_config(tmp_path / "run")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        training.write_run_config(tmp_path / "other", "dcgan", {"array": np.zeros(2)})


def test_set_seed_rejects_negative_seeds():
    with pytest.raises(ValueError, match="non-negative integer seed"):
        training.set_seed(-1)


def test_train_runs_under_a_mirrored_strategy():
    from tests.distributed import run_with_two_cpus

    output = run_with_two_cpus(
        """
        import tempfile, keras, numpy as np
        from lib import data, gan, training
        with strategy.scope():
            model = gan.GAN(gan.build_generator(8, projection_filters=16, generator_blocks=[[8, 2]]),
                            gan.build_discriminator(discriminator_filters=[8, 16]))
            model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
        array = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
        history = training.train(model, lambda e: data.make_dataset(array, batch_size=16, epoch=e),
                                 epochs=2, run_dir=tempfile.mkdtemp(), strategy=strategy, progress=False)
        print(len(history), history[-1]["discriminator_loss"], int(model.discriminator_optimizer.iterations.numpy()))
        """
    )
    epochs, d_loss, steps = output.split()
    assert int(epochs) == 2 and np.isfinite(float(d_loss)) and int(steps) == 4


KNOWN_FIRST_HELD_OUT_LABELS = [3, 0, 6, 7, 8, 2, 7, 1, 8, 1]


def test_offline_digits_are_the_same_split_as_before_and_a_missing_file_says_how_to_restore_it(monkeypatch,
                                                                                                tmp_path):
    digits = data.load_digits("mnist", offline=True, verbose=False)
    # Known values of the split every measurement in the course was made on (seed 0).
    assert digits.test_labels[:10].tolist() == KNOWN_FIRST_HELD_OUT_LABELS
    monkeypatch.setattr(data, "OFFLINE_DIGITS", tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="make_offline_digits.py"):
        data.load_digits("mnist", offline=True, verbose=False)


# -- run folders -------------------------------------------------------------------------


def test_prepare_run_dir_records_a_new_run_and_refuses_an_occupied_folder(tmp_path):
    run_dir = tmp_path / "run"
    assert training.prepare_run_dir(run_dir, "vae", {"epochs": 3}, resume=False) == {"epochs": 3}
    assert training.read_run_config(run_dir) == {"kind": "vae", "config": {"epochs": 3}}
    with pytest.raises(ValueError, match=r"already holds a run \(vae\)"):
        training.prepare_run_dir(run_dir, "dcgan", {"epochs": 1}, resume=False)
    assert training.read_run_config(run_dir)["kind"] == "vae"  # untouched
    assert training.prepare_run_dir(run_dir, "vae", None, resume=True) == {"epochs": 3}
    with pytest.raises(ValueError, match="Expected a dcgan run to resume"):
        training.prepare_run_dir(run_dir, "dcgan", None, resume=True)


def test_prepare_run_dir_refuses_a_file_and_a_folder_with_checkpoints_only(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="which is a file"):
        training.prepare_run_dir(tmp_path / "file", "vae", {}, resume=False)
    (tmp_path / "old" / training.CHECKPOINT_FOLDER).mkdir(parents=True)
    with pytest.raises(ValueError, match="already holds a run"):
        training.prepare_run_dir(tmp_path / "old", "vae", {}, resume=False)
    assert not (tmp_path / "old" / training.RUN_CONFIG_FILE).exists()
