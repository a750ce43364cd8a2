"""Tests for lib/data.py: the offline digits, the download fallback, scaling and the epoch pipeline.

No test downloads anything: the offline path is asked for with offline=True, and
the online path is replaced by a monkeypatched `keras.datasets` loader.
"""

import numpy as np
import pytest

from lib import data

# The offline digits split with seed 0 (data/README.md): known counts per digit.
SEED_0_TRAIN_COUNTS = [396, 387, 403, 414, 398, 391, 392, 395, 408, 416]
SEED_0_FIRST_TRAIN_LABELS = [4, 2, 0, 9, 6, 6, 2, 1, 2, 0]


@pytest.fixture(scope="module")
def offline_digits():
    return data.load_digits("mnist", offline=True, seed=0, verbose=False)


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch):
    """Any test that reaches keras.datasets gets a failed download, never a real one."""

    def refuse(*args, **kwargs):
        raise OSError("the tests never download (monkeypatched)")

    monkeypatch.setattr(data.keras.datasets.mnist, "load_data", refuse)
    monkeypatch.setattr(data.keras.datasets.fashion_mnist, "load_data", refuse)


def _rows(images):
    """The images as a sorted list of byte strings (a multiset that ignores order)."""
    return sorted(image.tobytes() for image in images)


# load_digits, offline ------------------------------------------------------------------


def test_offline_digits_shapes_types_and_ranges(offline_digits):
    digits = offline_digits
    assert digits.name == "mnist"
    assert digits.offline is True
    assert digits.num_classes == 10
    assert digits.train_images.shape == (4000, 28, 28)
    assert digits.test_images.shape == (1000, 28, 28)
    assert digits.train_images.dtype == np.uint8 and digits.test_images.dtype == np.uint8
    assert digits.train_labels.dtype == np.int64 and digits.test_labels.dtype == np.int64
    assert digits.train_labels.shape == (4000,) and digits.test_labels.shape == (1000,)
    assert digits.train_images.max() == 255 and digits.train_images.min() == 0
    assert set(np.unique(digits.train_labels)) == set(range(10))


def test_offline_split_has_known_counts_and_500_of_each_digit_in_all(offline_digits):
    digits = offline_digits
    train_counts = np.bincount(digits.train_labels, minlength=10)
    test_counts = np.bincount(digits.test_labels, minlength=10)
    assert train_counts.tolist() == SEED_0_TRAIN_COUNTS
    assert (train_counts + test_counts).tolist() == [500] * 10
    assert digits.train_labels[:10].tolist() == SEED_0_FIRST_TRAIN_LABELS


def test_offline_split_is_a_partition_of_the_shipped_file(offline_digits):
    with np.load(data.OFFLINE_DIGITS) as archive:
        shipped = archive["images"]
    together = np.concatenate([offline_digits.train_images, offline_digits.test_images])
    assert _rows(together) == _rows(shipped)
    # Held out means held out: no training image appears among the test images.
    assert not set(_rows(offline_digits.train_images)) & set(_rows(offline_digits.test_images))


def test_offline_split_is_shuffled_not_sorted_by_label(offline_digits):
    # The file is sorted by label: an unshuffled split would hold out only nines.
    assert len(np.unique(offline_digits.test_labels)) == 10


def test_offline_images_stay_paired_with_their_labels(offline_digits):
    with np.load(data.OFFLINE_DIGITS) as archive:
        label_of = {image.tobytes(): int(label) for image, label in zip(archive["images"], archive["labels"])}
    for images, labels in ((offline_digits.train_images, offline_digits.train_labels),
                           (offline_digits.test_images, offline_digits.test_labels)):
        assert [label_of[image.tobytes()] for image in images] == labels.tolist()


def test_offline_source_says_offline_and_the_sizes(offline_digits, capsys):
    source = offline_digits.source
    assert source.startswith("offline (offline=True)")
    assert "data/mnist_5k.npz" in source
    assert "4,000 train / 1,000 held out" in source
    assert "not the full 70,000" in source
    data.load_digits("mnist", offline=True, verbose=True)
    assert capsys.readouterr().out == f"Data: {source}\n"
    data.load_digits("mnist", offline=True, verbose=False)
    assert capsys.readouterr().out == ""


def test_the_same_seed_gives_the_same_split_and_another_seed_another(offline_digits):
    again = data.load_digits("mnist", offline=True, seed=0, verbose=False)
    np.testing.assert_array_equal(again.train_images, offline_digits.train_images)
    np.testing.assert_array_equal(again.test_labels, offline_digits.test_labels)
    other = data.load_digits("mnist", offline=True, seed=1, verbose=False)
    assert other.train_images.shape == (4000, 28, 28)
    assert not np.array_equal(other.train_labels, offline_digits.train_labels)
    assert _rows(other.test_images) != _rows(offline_digits.test_images)


def test_the_default_seed_is_0(offline_digits):
    default = data.load_digits(offline=True, verbose=False)
    np.testing.assert_array_equal(default.train_labels, offline_digits.train_labels)


def test_a_missing_offline_file_names_the_file_and_how_to_restore_it(monkeypatch, tmp_path):
    missing = tmp_path / "mnist_5k.npz"
    monkeypatch.setattr(data, "OFFLINE_DIGITS", missing)
    with pytest.raises(ValueError, match="Expected the offline digits in") as error:
        data.load_digits("mnist", offline=True, verbose=False)
    assert str(missing) in str(error.value)
    assert "git checkout data/mnist_5k.npz" in str(error.value)
    assert "scripts/make_offline_digits.py" in str(error.value)


# Argument checks -------------------------------------------------------------------------


def test_an_unknown_dataset_names_what_was_expected_and_received():
    with pytest.raises(ValueError) as error:
        data.load_digits("cifar10", offline=True)
    message = str(error.value)
    assert "Expected a dataset in ('mnist', 'fashion_mnist')" in message
    assert "Received: name='cifar10'" in message


@pytest.mark.parametrize("offline", ["yes", "True", 1, 1.0, 0, np.True_])
def test_offline_must_be_none_true_or_false(offline):
    # 1 and 0 equal True and False but are not them: they once slipped through and
    # tried the download (1) or fell back instead of raising (0).
    with pytest.raises(ValueError, match="Expected offline to be None, True or False. Received: ") as error:
        data.load_digits("mnist", offline=offline)
    assert f"Received: {offline!r}" in str(error.value)


# The online path and its fallback, without a network -------------------------------------


def _failing_loader(*args, **kwargs):
    raise OSError("no route to host (monkeypatched)")


def test_a_failed_download_falls_back_to_the_offline_digits_and_says_so(monkeypatch, capsys, offline_digits):
    monkeypatch.setattr(data.keras.datasets.mnist, "load_data", _failing_loader)
    digits = data.load_digits("mnist", verbose=True)
    assert digits.offline is True
    assert digits.source.startswith("offline (download failed)")
    assert capsys.readouterr().out == f"Data: {digits.source}\n"
    np.testing.assert_array_equal(digits.train_labels, offline_digits.train_labels)


def test_offline_false_raises_the_download_error(monkeypatch):
    monkeypatch.setattr(data.keras.datasets.mnist, "load_data", _failing_loader)
    with pytest.raises(OSError, match="no route to host"):
        data.load_digits("mnist", offline=False, verbose=False)


def test_offline_true_never_calls_the_downloader(monkeypatch):
    calls = []
    monkeypatch.setattr(data.keras.datasets.mnist, "load_data", lambda: calls.append("called"))
    digits = data.load_digits("mnist", offline=True, verbose=False)
    assert calls == []
    assert digits.source.startswith("offline (offline=True)")


def test_fashion_mnist_has_no_offline_copy(monkeypatch):
    with pytest.raises(ValueError, match="Fashion-MNIST could not be downloaded and has no offline copy") as error:
        data.load_digits("fashion_mnist", offline=True, verbose=False)
    assert "offline=True" in str(error.value)
    assert "keras.datasets.fashion_mnist.load_data()" in str(error.value)

    monkeypatch.setattr(data.keras.datasets.fashion_mnist, "load_data", _failing_loader)
    with pytest.raises(ValueError, match="no offline copy") as error:
        data.load_digits("fashion_mnist", verbose=False)
    assert "no route to host" in str(error.value)


def test_a_working_download_is_used_and_named(monkeypatch, capsys):
    train_x = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    test_x = np.zeros((2, 28, 28), np.int64)

    def fake_load_data():
        return (train_x, np.array([1, 2, 3], np.uint8)), (test_x, np.array([4, 5], np.uint8))

    monkeypatch.setattr(data.keras.datasets.fashion_mnist, "load_data", fake_load_data)
    digits = data.load_digits("fashion_mnist", verbose=True)
    assert digits.offline is False
    assert digits.name == "fashion_mnist"
    assert digits.source == "online: keras.datasets.fashion_mnist (3 train / 2 test images)"
    assert capsys.readouterr().out == f"Data: {digits.source}\n"
    assert digits.train_images.dtype == np.uint8 and digits.train_labels.dtype == np.int64
    np.testing.assert_array_equal(digits.train_images, train_x)
    assert digits.train_labels.tolist() == [1, 2, 3] and digits.test_labels.tolist() == [4, 5]


# to_float_images -------------------------------------------------------------------------


def test_to_float_images_scales_to_0_1_with_a_channel_axis():
    images = np.array([[[0, 51], [204, 255]]], np.uint8)  # (1, 2, 2)
    scaled = data.to_float_images(images)
    assert scaled.shape == (1, 2, 2, 1) and scaled.dtype == np.float32
    np.testing.assert_allclose(scaled[0, :, :, 0], [[0.0, 0.2], [0.8, 1.0]], atol=1e-7)


def test_to_float_images_scales_to_minus_1_1():
    images = np.array([[[0, 51], [204, 255]]], np.uint8)
    scaled = data.to_float_images(images, value_range=(-1.0, 1.0))
    np.testing.assert_allclose(scaled[0, :, :, 0], [[-1.0, -0.6], [0.6, 1.0]], atol=1e-6)


def test_to_float_images_on_the_offline_digits(offline_digits):
    scaled = data.to_float_images(offline_digits.test_images[:50], (-1.0, 1.0))
    assert scaled.shape == (50, 28, 28, 1)
    assert scaled.min() == -1.0 and scaled.max() == 1.0


def test_to_float_images_accepts_one_channel_and_other_integer_types():
    images = np.full((2, 3, 3, 1), 255, np.int64)
    scaled = data.to_float_images(images)
    assert scaled.shape == (2, 3, 3, 1)
    np.testing.assert_array_equal(scaled, np.ones((2, 3, 3, 1), np.float32))


@pytest.mark.parametrize("shape", [(28, 28), (2, 28, 28, 3), (1, 2, 28, 28, 1)])
def test_to_float_images_refuses_other_shapes(shape):
    with pytest.raises(ValueError, match=r"Expected images of shape \(N, H, W\) or \(N, H, W, 1\)") as error:
        data.to_float_images(np.zeros(shape, np.uint8))
    assert f"Received: shape={shape}" in str(error.value)


@pytest.mark.parametrize(
    "images, received",
    [
        (np.full((1, 2, 2), 0.5, np.float32), "dtype=float32"),
        (np.full((1, 2, 2), 256, np.int32), "max=256"),
        (np.full((1, 2, 2), -1, np.int32), "min=-1"),
    ],
)
def test_to_float_images_refuses_non_pixel_values(images, received):
    with pytest.raises(ValueError, match="Expected uint8 pixel values 0..255. Received: ") as error:
        data.to_float_images(images)
    assert received in str(error.value)


@pytest.mark.parametrize("value_range", [(1.0, 0.0), (0.5, 0.5)])
def test_to_float_images_refuses_a_backwards_or_empty_range(value_range):
    with pytest.raises(ValueError, match=r"Expected value_range=\(low, high\) with low < high") as error:
        data.to_float_images(np.zeros((1, 2, 2), np.uint8), value_range)
    assert f"Received: {value_range}" in str(error.value)


# make_dataset ----------------------------------------------------------------------------


def _numbered(count=10, size=2):
    """Images whose every pixel is the image's index, and labels equal to it."""
    images = np.broadcast_to(np.arange(count, dtype=np.float64)[:, None, None, None], (count, size, size, 1))
    return np.ascontiguousarray(images), np.arange(count)


def _order(dataset):
    """The image indices in the order the dataset yields them, batch by batch."""
    return [batch[0][:, 0, 0, 0].numpy().astype(int).tolist() for batch in dataset]


def test_make_dataset_batches_images_with_their_labels():
    images, labels = _numbered()
    dataset = data.make_dataset(images, labels, batch_size=4, seed=3)
    batches = list(dataset)
    assert len(batches) == 2  # 10 images, the last 2 dropped
    for batch_images, batch_labels in batches:
        assert batch_images.shape == (4, 2, 2, 1)
        assert batch_images.dtype.name == "float32" and batch_labels.dtype.name == "int32"
        # Every pixel of an image still equals its own label after shuffling.
        np.testing.assert_array_equal(batch_images.numpy(), np.broadcast_to(
            batch_labels.numpy()[:, None, None, None].astype(np.float32), (4, 2, 2, 1)))


def test_make_dataset_without_labels_yields_image_batches():
    images, _ = _numbered(6)
    batches = list(data.make_dataset(images, batch_size=3, shuffle=False))
    assert [batch.shape for batch in batches] == [(3, 2, 2, 1), (3, 2, 2, 1)]
    assert batches[0][:, 0, 0, 0].numpy().tolist() == [0.0, 1.0, 2.0]


def test_make_dataset_without_shuffle_keeps_the_order():
    images, labels = _numbered()
    dataset = data.make_dataset(images, labels, batch_size=5, shuffle=False)
    assert _order(dataset) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_make_dataset_drop_remainder():
    images, labels = _numbered()
    kept = data.make_dataset(images, labels, batch_size=4, shuffle=False, drop_remainder=False)
    assert _order(kept) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = data.make_dataset(images, labels, batch_size=4, shuffle=False)
    assert _order(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    # Without dropping, a batch larger than the set is one short batch.
    assert _order(data.make_dataset(images, labels, batch_size=16, shuffle=False, drop_remainder=False)) == [
        list(range(10))]


def test_make_dataset_order_depends_only_on_seed_and_epoch():
    import keras

    images, labels = _numbered(20)
    orders = {}
    for global_seed in (1, 2):  # TensorFlow's global seed must not matter (a resumed process)
        keras.utils.set_random_seed(global_seed)
        orders[global_seed] = [_order(data.make_dataset(images, labels, batch_size=20, epoch=epoch, seed=7))[0]
                               for epoch in range(3)]
    assert orders[1] == orders[2]
    epoch_orders = orders[1]
    for order in epoch_orders:
        assert sorted(order) == list(range(20))  # each epoch sees every image once
    assert epoch_orders[0] != epoch_orders[1] != epoch_orders[2] != epoch_orders[0]
    assert epoch_orders[0] != list(range(20))
    # Another run seed, another order for the same epoch.
    other_seed = _order(data.make_dataset(images, labels, batch_size=20, epoch=0, seed=8))[0]
    assert other_seed != epoch_orders[0]
    # Iterating the same dataset twice gives the same order (one epoch per call).
    dataset = data.make_dataset(images, labels, batch_size=20, epoch=1, seed=7)
    assert _order(dataset) == _order(dataset) == [epoch_orders[1]]


def test_make_dataset_does_not_shuffle_the_callers_arrays():
    images, labels = _numbered()
    list(data.make_dataset(images, labels, batch_size=5, seed=1))
    np.testing.assert_array_equal(labels, np.arange(10))
    assert images[:, 0, 0, 0].tolist() == list(range(10))


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((4, 2, 2, 1), np.uint8), "dtype=uint8"),
        (np.zeros((4, 2, 2), np.float32), r"shape=\(4, 2, 2\)"),
    ],
)
def test_make_dataset_refuses_images_that_are_not_rank_4_floats(images, match):
    with pytest.raises(ValueError, match=r"Expected float images of shape \(N, H, W, C\)") as error:
        data.make_dataset(images, batch_size=2)
    assert error.match(match)


@pytest.mark.parametrize("batch_size", [0, -1, 2.0, "4", None])
def test_make_dataset_refuses_a_batch_size_that_is_not_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match="Expected a positive integer batch_size. Received: "):
        data.make_dataset(np.zeros((4, 2, 2, 1), np.float32), batch_size=batch_size)


def test_make_dataset_refuses_a_batch_larger_than_the_set_when_dropping():
    with pytest.raises(ValueError, match=r"Expected batch_size <= the number of images \(4\)") as error:
        data.make_dataset(np.zeros((4, 2, 2, 1), np.float32), batch_size=5)
    assert "Received: batch_size=5" in str(error.value)


def test_make_dataset_refuses_labels_of_another_length():
    with pytest.raises(ValueError, match=r"Expected one label per image, shape \(4,\)") as error:
        data.make_dataset(np.zeros((4, 2, 2, 1), np.float32), np.arange(3), batch_size=2)
    assert "Received: shape=(3,)" in str(error.value)
