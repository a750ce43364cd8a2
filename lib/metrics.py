"""FID and KID for 28x28 digit images, on features of the course's own MNIST classifier.

How good are a generator's samples? Two numbers compare a set of generated images
with a set of real ones through the features a trained classifier sees in them:

* Frechet distance (FID; Heusel et al. 2017, https://arxiv.org/abs/1706.08500):
  fit a Gaussian to each feature set and measure the distance between the two
  Gaussians. Lower is better; 0 means the same mean and covariance.
* Kernel distance (KID; Binkowski et al. 2018, https://arxiv.org/abs/1801.01401):
  the unbiased squared maximum mean discrepancy with a cubic polynomial kernel,
  averaged over random subsets. Unlike FID it has no bias that depends on the
  number of samples, so small sets can be compared; it can be slightly negative.

The papers use Inception-v3 features of ImageNet photos. An Inception network
cannot be downloaded on an offline machine and says little about 28x28 digits, so,
as is usual for MNIST, we use the 128 features of the penultimate layer ("features")
of a small CNN trained on MNIST by `scripts/train_mnist_classifier.py`; its weights
and held-out accuracy are committed in `data/`. Numbers computed with these features
are comparable with each other, NOT with FIDs published for Inception features.

Public names: `build_mnist_classifier`, `FeatureExtractor`, `load_feature_extractor`,
`make_feature_extractor`, `metadata_path`,
`DEFAULT_WEIGHTS`, `classifier_features`, `predict_digits`, `class_histogram`,
`classifier_accuracy`, `confidently_read`, `frechet_distance`,
`kernel_inception_distance`, `evaluate_images`, `sample_quality`,
`generator_quality`, `CONFIDENT_PROBABILITY`.
"""

import dataclasses
import functools
import json
import pathlib
import warnings

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf

DEFAULT_WEIGHTS = pathlib.Path(__file__).resolve().parent.parent / "data" / "mnist_classifier.weights.h5"
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
REGENERATE = "python scripts/train_mnist_classifier.py"
# A sample counts as "confidently read" when the classifier gives its top digit at
# least this probability: a measure of legibility that FID does not give directly.
CONFIDENT_PROBABILITY = 0.9
# A class counts as present when at least this share of the samples is read as it
# (2 % of the samples, against 10 % for a perfectly balanced generator).
PRESENT_CLASS_SHARE = 0.02


def build_mnist_classifier(feature_dim=128, dropout=0.3):
    """The small MNIST CNN whose "features" layer FID and KID use (about 150k weights).

    Input images are float32 in [0, 1]. Shapes:
        (batch, 28, 28, 1) -conv 32-> (batch, 28, 28, 32) -conv 32, pool-> (batch, 14, 14, 32)
        -conv 64, pool-> (batch, 7, 7, 64) -conv 128 valid, pool-> (batch, 2, 2, 128)
        -flatten-> (batch, 512) -dense "features", ReLU-> (batch, feature_dim)
        -dense "logits"-> (batch, 10)

    Args:
        feature_dim: units of the penultimate dense layer named "features".
        dropout: dropout rate before the features layer and before the logits
            (active only in training).

    Returns:
        A `keras.Model` named "mnist_classifier" that outputs logits (no softmax).

    Raises:
        ValueError: for feature_dim < 1 or dropout outside [0, 1).
    """
    if not isinstance(feature_dim, int) or feature_dim < 1:
        raise ValueError(f"Expected feature_dim to be a positive int. Received: feature_dim={feature_dim!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected dropout in [0, 1). Received: dropout={dropout!r}")
    layers = keras.layers
    inputs = keras.Input(IMAGE_SHAPE, name="images")
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)  # (b, 28, 28, 32)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool1")(x)  # (b, 14, 14, 32)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.MaxPooling2D(name="pool2")(x)  # (b, 7, 7, 64)
    x = layers.Conv2D(128, 3, padding="valid", activation="relu", name="conv4")(x)  # (b, 5, 5, 128)
    x = layers.MaxPooling2D(name="pool3")(x)  # (b, 2, 2, 128)
    x = layers.Flatten(name="flatten")(x)  # (b, 512)
    x = layers.Dropout(dropout, name="dropout1")(x)
    features = layers.Dense(feature_dim, activation="relu", name="features")(x)  # (b, feature_dim)
    x = layers.Dropout(dropout, name="dropout2")(features)
    logits = layers.Dense(NUM_CLASSES, name="logits")(x)  # (b, 10)
    return keras.Model(inputs, logits, name="mnist_classifier")


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """A trained classifier ready for FID/KID, with where it came from.

    Attributes:
        model: `keras.Model` mapping images (batch, 28, 28, 1) in [0, 1] to
            {"features": (batch, feature_dim), "logits": (batch, 10)}.
        path: the weights file it was loaded from.
        accuracy: held-out accuracy recorded when it was trained (None if unknown).
        description: one line naming the weights file and its accuracy.
        forward: `model` compiled once with `tf.function` (about 2x faster than
            calling the model eagerly, batch after batch).
    """

    model: keras.Model
    path: str
    accuracy: float | None
    description: str
    forward: object = dataclasses.field(default=None, repr=False, compare=False)


def metadata_path(weights_path):
    """The JSON record beside a weights file: x.weights.h5 -> x.json (a pathlib.Path)."""
    weights_path = pathlib.Path(weights_path)
    name = weights_path.name
    stem = name[: -len(".weights.h5")] if name.endswith(".weights.h5") else weights_path.stem
    return weights_path.with_name(stem + ".json")


def load_feature_extractor(path=None):
    """Load the committed MNIST classifier (or another weights file) for FID/KID.

    The result is cached per file (path and modification time), so calling this in
    every evaluation costs nothing after the first time.

    Args:
        path: a ".weights.h5" file saved from `build_mnist_classifier()`; None uses
            `DEFAULT_WEIGHTS` (data/mnist_classifier.weights.h5). Its held-out
            accuracy is read from the JSON file beside it (mnist_classifier.json).

    Returns:
        A `FeatureExtractor`.

    Raises:
        ValueError: if the file is missing, corrupt, or does not fit the network;
            the message says how to regenerate it.
    """
    weights_path = pathlib.Path(DEFAULT_WEIGHTS if path is None else path).resolve()
    if not weights_path.is_file():
        raise ValueError(
            f"Expected the MNIST classifier weights at {weights_path}, but there is no such "
            f"file. Regenerate it with `{REGENERATE}` (a few minutes on a CPU)."
        )
    return _load_feature_extractor(str(weights_path), weights_path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_feature_extractor(weights_path, modification_time):
    del modification_time  # only part of the cache key: a rewritten file is reloaded
    weights_path = pathlib.Path(weights_path)
    classifier = build_mnist_classifier()
    try:
        classifier.load_weights(weights_path)
    except Exception as error:  # h5py OSError, shape mismatch ValueError, ...
        raise ValueError(
            f"Expected a weights file saved from build_mnist_classifier(). Received: "
            f"{weights_path}, which could not be loaded ({type(error).__name__}: {error}). "
            f"Regenerate it with `{REGENERATE}`."
        ) from error
    accuracy, trained_on = None, None
    record_path = metadata_path(weights_path)
    try:
        metadata = json.loads(record_path.read_text())
        accuracy = float(metadata["accuracy"])
        trained_on = metadata.get("trained_on")
    except (OSError, ValueError, KeyError, TypeError):
        pass  # the weights are usable without their record; the description says so
    return make_feature_extractor(classifier, path=weights_path, accuracy=accuracy, trained_on=trained_on)


def make_feature_extractor(classifier, *, path=None, accuracy=None, trained_on=None):
    """Wrap a classifier from `build_mnist_classifier()` (trained or not) for FID/KID.

    Args:
        classifier: a `keras.Model` with a layer named "features" and logits output.
        path: where its weights came from (for the description), or None.
        accuracy: its held-out accuracy, or None if unknown.
        trained_on: a few words on its training data, or None.

    Returns:
        A `FeatureExtractor`.

    Raises:
        ValueError: if the model has no layer named "features".
    """
    try:
        features = classifier.get_layer("features").output
    except ValueError as error:
        raise ValueError(
            f"Expected a classifier with a layer named 'features'. Received: model {classifier.name!r}"
        ) from error
    model = keras.Model(
        classifier.input, {"features": features, "logits": classifier.output}, name="mnist_feature_extractor"
    )
    name = "untrained weights" if path is None else pathlib.Path(path).name
    accuracy_text = "held-out accuracy unknown" if accuracy is None else f"held-out accuracy {accuracy:.2%}"
    trained_text = "" if trained_on is None else f"; trained on {trained_on}"
    description = f"MNIST classifier {name} ({accuracy_text}{trained_text}), {features.shape[-1]} 'features' for FID/KID"
    # One trace for every batch size: (batch, 28, 28, 1) float32 -> dict of outputs.
    forward = tf.function(
        lambda images: model(images, training=False),
        input_signature=[tf.TensorSpec((None, *IMAGE_SHAPE), tf.float32)],
    )
    return FeatureExtractor(
        model=model,
        path="" if path is None else str(path),
        accuracy=accuracy,
        description=description,
        forward=forward,
    )


def _check_images(images, name="images"):
    """Validate digit images and return them as float32 (N, 28, 28, 1)."""
    array = np.asarray(images)
    if array.ndim == 3 and array.shape[1:] == (28, 28):
        array = array[..., None]
    if array.ndim != 4 or array.shape[1:] != IMAGE_SHAPE:
        raise ValueError(
            f"Expected {name} of shape (N, 28, 28, 1) or (N, 28, 28). Received: shape={array.shape}"
        )
    if array.shape[0] < 2:
        raise ValueError(f"Expected at least 2 {name}. Received: {array.shape[0]}")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"Expected float {name} in [0, 1] (divide uint8 pixels by 255). Received: dtype={array.dtype}"
        )
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise ValueError(f"Expected finite {name}. Received: NaN or inf values")
    low, high = float(array.min()), float(array.max())
    if low < -1e-3 or high > 1.0 + 1e-3:
        hint = " (images in [-1, 1] from a tanh generator: use (x + 1) / 2)" if low < 0 else ""
        raise ValueError(f"Expected {name} in [0, 1]{hint}. Received: values in [{low:.4g}, {high:.4g}]")
    return np.clip(array, 0.0, 1.0)


def _run_extractor(images, extractor, batch_size, output):
    if extractor is None:
        extractor = load_feature_extractor()
    if not isinstance(extractor, FeatureExtractor):
        raise ValueError(
            "Expected a FeatureExtractor from load_feature_extractor(). "
            f"Received: {type(extractor).__name__}"
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Expected batch_size to be a positive int. Received: batch_size={batch_size!r}")
    images = _check_images(images)
    forward = extractor.forward or (lambda batch: extractor.model(batch, training=False))
    outputs = [
        keras.ops.convert_to_numpy(forward(images[start : start + batch_size])[output])
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float64)


def classifier_features(images, extractor=None, batch_size=500):
    """The classifier's "features" layer for each image.

    Args:
        images: float array (N, 28, 28, 1) or (N, 28, 28) in [0, 1], N >= 2.
        extractor: a `FeatureExtractor`; None loads the committed one.
        batch_size: images per forward pass.

    Returns:
        float64 array (N, 128).

    Raises:
        ValueError: for images of the wrong rank, shape, dtype or range, or fewer than 2.
    """
    return _run_extractor(images, extractor, batch_size, "features")


def predict_digits(images, extractor=None, batch_size=500):
    """The digit (0-9) the classifier sees in each image: int64 array (N,)."""
    return np.argmax(_run_extractor(images, extractor, batch_size, "logits"), axis=1).astype(np.int64)


def class_histogram(images, extractor=None, batch_size=500):
    """How many images the classifier assigns to each digit: int64 array (10,).

    A generator that covers all digits gives about N/10 per class; mode collapse
    shows as a class with (almost) no samples.
    """
    return np.bincount(predict_digits(images, extractor, batch_size), minlength=NUM_CLASSES).astype(np.int64)


def classifier_accuracy(images, labels, extractor=None, batch_size=500):
    """Fraction of `images` whose predicted digit equals `labels` (int array (N,))."""
    labels = np.asarray(labels)
    num_images = np.shape(images)[0] if np.ndim(images) else 0
    if labels.ndim != 1 or len(labels) != num_images:
        raise ValueError(f"Expected labels of shape ({num_images},). Received: shape={labels.shape}")
    return float(np.mean(predict_digits(images, extractor, batch_size) == labels))


def confidently_read(images, extractor=None, batch_size=500, threshold=CONFIDENT_PROBABILITY):
    """Fraction of `images` whose most likely digit has probability >= `threshold`."""
    logits = _run_extractor(images, extractor, batch_size, "logits")  # (N, 10)
    probabilities = tf.nn.softmax(logits, axis=-1).numpy()
    return float(np.mean(probabilities.max(axis=1) >= threshold))


def _check_features(features_a, features_b):
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    for name, array in (("features_a", a), ("features_b", b)):
        if array.ndim != 2:
            raise ValueError(f"Expected {name} of shape (N, feature_dim). Received: shape={array.shape}")
        if array.shape[0] < 2:
            raise ValueError(f"Expected at least 2 rows in {name}. Received: {array.shape[0]}")
        if not np.isfinite(array).all():
            raise ValueError(f"Expected finite {name}. Received: NaN or inf values")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"Expected features of the same dimension. Received: {a.shape[1]} and {b.shape[1]}"
        )
    return a, b


def _sqrtm(matrix):
    with warnings.catch_warnings():
        # A singular matrix (dead ReLU units) makes scipy warn; _is_good_root checks the result.
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return scipy.linalg.sqrtm(matrix)


def _is_good_root(root, matrix):
    """True if root is finite, nearly real, and root @ root reproduces matrix."""
    if not np.isfinite(root).all():
        return False
    scale = max(np.abs(matrix).max(), 1e-30)
    if np.iscomplexobj(root) and np.abs(root.imag).max() > 1e-3 * np.sqrt(scale):
        return False
    return np.abs(root @ root - matrix).max() <= 1e-3 * scale


def frechet_distance(features_a, features_b, eps=1e-6):
    """Frechet distance between Gaussians fitted to two feature sets (the "F" of FID).

    Formula:
        FID = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2})
    with mu the feature means and S the covariance matrices (unbiased, N - 1).
    The matrix square root comes from `scipy.linalg.sqrtm`. When S_a S_b is
    near-singular (fewer samples than features, or dead ReLU units) the square
    root can fail or come out complex; then eps * I is added to both covariances,
    as in the reference implementation, and the tiny imaginary part that rounding
    leaves is dropped. A result that rounding makes slightly negative is clipped to 0.

    Args:
        features_a: array (N_a, d), N_a >= 2.
        features_b: array (N_b, d), N_b >= 2.
        eps: the diagonal offset used only when the plain square root fails.

    Returns:
        A Python float >= 0.

    Raises:
        ValueError: for non-2-D, non-finite or too small inputs, mismatched d, or a
            square root with a large imaginary part even after the offset.
    """
    a, b = _check_features(features_a, features_b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)  # (d,)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))  # (d, d)
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    covmean = _sqrtm(cov_a @ cov_b)
    if not _is_good_root(covmean, cov_a @ cov_b):
        offset = eps * np.eye(cov_a.shape[0])
        covmean = _sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):
        largest_imaginary = np.abs(np.diagonal(covmean).imag).max()
        if largest_imaginary > 1e-2 * max(1.0, np.abs(np.diagonal(covmean).real).max()):
            raise ValueError(
                "Expected a (nearly) real matrix square root of S_a S_b. Received: an imaginary "
                f"component of {largest_imaginary:.3g}; use more samples than feature dimensions."
            )
        covmean = covmean.real
    difference = mu_a - mu_b
    distance = difference @ difference + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return max(float(distance), 0.0)


def _polynomial_mmd2(x, y):
    """Unbiased MMD^2 between samples x (m, d) and y (m, d), kernel (x.y/d + 1)^3."""
    m, dim = x.shape

    def kernel(u, v):  # (m, m); t * t * t is ~10x faster than t ** 3 in NumPy
        t = u @ v.T / dim + 1.0
        return t * t * t

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    # Leave out the diagonals (k(x_i, x_i)) for the unbiased estimate.
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return within - 2.0 * k_xy.mean()


def kernel_inception_distance(features_a, features_b, *, num_subsets=10, subset_size=1000, seed=0):
    """Kernel distance (the "K" of KID): unbiased MMD^2, cubic polynomial kernel.

    Formula:
        k(x, y) = (x . y / d + 1)^3
        MMD^2 = 1/(m(m-1)) sum_{i != j} [k(a_i, a_j) + k(b_i, b_j)] - 2/m^2 sum_{i,j} k(a_i, b_j)
    computed on `num_subsets` random subsets of m = min(subset_size, N_a, N_b) rows
    drawn without replacement from each set (Binkowski et al. 2018). The estimate is
    unbiased, so for two samples of the same distribution it is 0 on average and may
    be slightly negative. When the subsets are the whole sets (e.g. 1,000 images on
    each side with subset_size=1000) every subset is the same and the std is 0; pass
    a smaller subset_size to see the spread.

    Args:
        features_a: array (N_a, d), N_a >= 2.
        features_b: array (N_b, d), N_b >= 2.
        num_subsets: number of random subsets averaged.
        subset_size: rows per subset, capped by the smaller set.
        seed: seed of the subset draws (same seed, same result).

    Returns:
        (mean, std) over the subsets, two Python floats.

    Raises:
        ValueError: for bad features (see `frechet_distance`), num_subsets < 1 or
            subset_size < 2.
    """
    a, b = _check_features(features_a, features_b)
    if not isinstance(num_subsets, int) or num_subsets < 1:
        raise ValueError(f"Expected num_subsets to be a positive int. Received: num_subsets={num_subsets!r}")
    if not isinstance(subset_size, int) or subset_size < 2:
        raise ValueError(f"Expected subset_size to be an int >= 2. Received: subset_size={subset_size!r}")
    m = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        _polynomial_mmd2(a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def evaluate_images(generated, reference, extractor=None, *, num_subsets=10, subset_size=1000, seed=0):
    """FID and KID of generated digits against real ones, with the classifier named.

    Use at least a few thousand images of each for FID (its bias shrinks as 1/N);
    KID is unbiased, so also meaningful for a few hundred.

    Args:
        generated: float array (N, 28, 28, 1) or (N, 28, 28) in [0, 1], N >= 2.
        reference: real images, same format (e.g. held-out test digits).
        extractor: a `FeatureExtractor`; None loads the committed classifier.
        num_subsets, subset_size, seed: passed to `kernel_inception_distance`.

    Returns:
        {"fid": float, "kid": float, "kid_std": float, "classifier": str,
         "num_generated": int, "num_reference": int}

    Raises:
        ValueError: for bad images (wrong rank, shape, dtype or range; fewer than 2).
    """
    extractor = load_feature_extractor() if extractor is None else extractor
    generated_features = classifier_features(generated, extractor)
    reference_features = classifier_features(reference, extractor)
    kid, kid_std = kernel_inception_distance(
        generated_features, reference_features, num_subsets=num_subsets, subset_size=subset_size, seed=seed
    )
    return {
        "fid": frechet_distance(generated_features, reference_features),
        "kid": kid,
        "kid_std": kid_std,
        "classifier": extractor.description,
        "num_generated": int(len(generated_features)),
        "num_reference": int(len(reference_features)),
    }


def sample_quality(images, reference, *, labels=None, extractor=None, seed=0):
    """Everything the course reports about a set of generated digits.

    Args:
        images: generated digits, float (N, 28, 28, 1) in [0, 1].
        reference: real held-out digits, same format.
        labels: the digits that were asked for (a conditional model), int (N,).
        extractor: a `FeatureExtractor`; None loads the committed classifier.
        seed: seed of KID's random subsets.

    Returns:
        `evaluate_images`' dict (fid, kid over halves of the reference, ...) plus
        "confidently_read" (share read with probability >= CONFIDENT_PROBABILITY),
        "class_counts" (list of 10 ints), "classes_present" (classes holding at
        least PRESENT_CLASS_SHARE of the samples) and, given labels,
        "label_accuracy" (share read as the asked-for digit).
    """
    extractor = load_feature_extractor() if extractor is None else extractor
    result = evaluate_images(images, reference, extractor, seed=seed, subset_size=max(2, len(reference) // 2))
    counts = class_histogram(images, extractor)
    result.update(
        confidently_read=confidently_read(images, extractor),
        class_counts=[int(count) for count in counts],
        classes_present=int(np.sum(counts >= PRESENT_CLASS_SHARE * len(images))),
    )
    if labels is not None:
        result["label_accuracy"] = classifier_accuracy(images, labels, extractor)
    return result


def generator_quality(model, *, seed=0, num_images=1000, reference=None, **generate_options):
    """Samples a trained model and scores it against the offline held-out digits.

    The measure of the course's shipped generators (lib/pretrained.py): the same
    1,000 held-out digits for every model, so their numbers compare.

    Args:
        model: anything with the course's sampling call,
            `generate(n, *, labels=None, seed=0, **options)`, and `num_classes`
            (None for an unconditional model; a conditional one is asked for the
            digits 0, 1, ..., 9 in turn).
        seed: the sampling seed.
        num_images: how many samples.
        reference: real digits (N, 28, 28, 1) in [0, 1]; default the course's
            1,000 offline held-out digits.
        **generate_options: passed to `generate` (a diffusion model's `steps`).

    Returns:
        `sample_quality`'s dict plus "sampling_seconds".
    """
    import time

    from lib import data  # the held-out digits

    if reference is None:
        digits = data.load_digits("mnist", offline=True, verbose=False)
        reference = data.to_float_images(digits.test_images)  # (1000, 28, 28, 1) in [0, 1]
    num_classes = getattr(model, "num_classes", None)
    labels = np.arange(num_images) % num_classes if num_classes else None
    started = time.perf_counter()
    images = model.generate(num_images, labels=labels, seed=seed, **generate_options)
    seconds = time.perf_counter() - started
    result = sample_quality(images, reference, labels=labels, seed=seed)
    result["sampling_seconds"] = round(seconds, 2)
    return result
