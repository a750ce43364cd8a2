"""Tests for lib/metrics.py: FID and KID against closed forms, and the committed classifier."""

import json

import numpy as np
import pytest
import scipy.linalg

from lib import data, metrics


def _whitened(count, dim, seed):
    """Samples (count, dim) whose sample mean is exactly 0 and covariance (N - 1) exactly I."""
    z = np.random.default_rng(seed).normal(size=(count, dim))
    z -= z.mean(axis=0)
    cholesky = np.linalg.cholesky(np.cov(z, rowvar=False).reshape(dim, dim))
    return z @ np.linalg.inv(cholesky).T


# ---------------------------------------------------------------- FID


def test_fid_of_a_set_against_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(500, 16))
    assert metrics.frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_fid_grows_with_a_shift_as_dim_times_shift_squared():
    features = np.random.default_rng(0).normal(size=(400, 8))
    shifts = [0.0, 0.1, 0.5, 1.0, 2.0]
    values = [metrics.frechet_distance(features, features + shift) for shift in shifts]
    assert all(later > earlier for earlier, later in zip(values[1:], values[2:]))  # monotone
    # Same covariance, so only ||mu_a - mu_b||^2 = 8 * shift^2 remains.
    np.testing.assert_allclose(values, [8 * shift**2 for shift in shifts], atol=1e-6)


def test_fid_one_dimensional_closed_form():
    # For 1-D Gaussians FID = (mu1 - mu2)^2 + (s1 - s2)^2.
    z1, z2 = _whitened(300, 1, seed=1), _whitened(200, 1, seed=2)
    a, b = 1.5 + 2.0 * z1, -0.5 + 0.5 * z2
    expected = (1.5 - (-0.5)) ** 2 + (2.0 - 0.5) ** 2  # 4 + 2.25
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_diagonal_gaussians_closed_form():
    # Diagonal covariances: FID = ||mu_a - mu_b||^2 + sum_i (s_a,i - s_b,i)^2.
    mu_a, mu_b = np.array([0.0, 1.0, -2.0, 3.0]), np.array([1.0, 1.0, 0.0, 0.0])
    s_a, s_b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 2.0, 1.5, 0.1])
    a = mu_a + _whitened(400, 4, seed=3) * s_a
    b = mu_b + _whitened(300, 4, seed=4) * s_b
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((s_a - s_b) ** 2)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_matches_an_eigenvalue_reference_for_full_covariances():
    # Independent route: Tr((S_a S_b)^1/2) = sum of sqrt(eigenvalues of S_a^1/2 S_b S_a^1/2).
    rng = np.random.default_rng(5)
    a = rng.normal(size=(600, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6)) + 0.3
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = scipy.linalg.sqrtm(cov_a).real
    eigenvalues = np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)
    expected = (
        np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sum(np.sqrt(eigenvalues))
    )
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_with_dead_features_and_singular_covariances():
    # ReLU features often contain units that are always 0: the covariances are singular.
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + 0.2
    reference = metrics.frechet_distance(a, b)
    with_dead = metrics.frechet_distance(np.hstack([a, np.zeros((300, 3))]), np.hstack([b, np.zeros((300, 3))]))
    assert with_dead == pytest.approx(reference, rel=1e-4, abs=1e-5)
    # Fewer samples than dimensions: rank-deficient, still finite and non-negative.
    few = metrics.frechet_distance(rng.normal(size=(10, 20)), rng.normal(size=(12, 20)))
    assert np.isfinite(few) and few >= 0.0


# ---------------------------------------------------------------- KID


def test_kid_hand_computed_value():
    # d = 1, k(x, y) = (x y + 1)^3; a = {0, 1}, b = {1, 2}:
    # within a: k(0,1) = 1; within b: k(1,2) = 27; across: (1 + 1 + 8 + 27) / 4 = 9.25
    # MMD^2 = 1 + 27 - 2 * 9.25 = 9.5
    mean, std = metrics.kernel_inception_distance([[0.0], [1.0]], [[1.0], [2.0]], num_subsets=3, subset_size=2)
    assert mean == pytest.approx(9.5) and std == pytest.approx(0.0)


def test_kid_near_zero_for_halves_of_one_set_and_positive_for_different_sets():
    rng = np.random.default_rng(7)
    features = rng.normal(size=(2000, 16))
    same_mean, same_std = metrics.kernel_inception_distance(features[:1000], features[1000:], subset_size=500)
    shifted_mean, shifted_std = metrics.kernel_inception_distance(
        features[:1000], features[1000:] + 0.5, subset_size=500
    )
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert shifted_mean > 10 * abs(same_mean) and shifted_mean > 5 * shifted_std


def test_kid_of_identical_sets_is_about_zero_and_seed_repeats():
    features = np.random.default_rng(8).normal(size=(600, 8))
    mean, std = metrics.kernel_inception_distance(features, features, subset_size=300, seed=1)
    different, _ = metrics.kernel_inception_distance(features, features + 1.0, subset_size=300, seed=1)
    assert abs(mean) < 0.02 * different
    assert metrics.kernel_inception_distance(features, features, subset_size=300, seed=1) == (mean, std)


def test_kid_subset_size_is_capped_by_the_smaller_set():
    rng = np.random.default_rng(9)
    mean, _ = metrics.kernel_inception_distance(rng.normal(size=(30, 4)), rng.normal(size=(50, 4)))
    assert np.isfinite(mean)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "a,b,match",
    [
        (np.zeros((5,)), np.zeros((5, 2)), r"shape \(N, feature_dim\)"),
        (np.zeros((1, 3)), np.zeros((5, 3)), "at least 2"),
        (np.zeros((5, 3)), np.zeros((5, 4)), "same dimension"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "finite"),
    ],
)
def test_feature_validation(a, b, match):
    with pytest.raises(ValueError, match=match):
        metrics.frechet_distance(a, b)
    with pytest.raises(ValueError, match=match):
        metrics.kernel_inception_distance(a, b)


@pytest.mark.parametrize("kwargs", [{"num_subsets": 0}, {"subset_size": 1}, {"subset_size": 2.5}])
def test_kid_argument_validation(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        metrics.kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 3)), **kwargs)


@pytest.fixture(scope="module")
def untrained():
    return metrics.make_feature_extractor(metrics.build_mnist_classifier())


@pytest.fixture(scope="module")
def extractor():
    return metrics.load_feature_extractor()


@pytest.mark.parametrize(
    "images,match",
    [
        (np.zeros((4, 28, 28, 3), np.float32), r"shape \(N, 28, 28, 1\)"),
        (np.zeros((4, 32, 32), np.float32), r"shape \(N, 28, 28, 1\)"),
        (np.zeros((28, 28), np.float32), r"shape \(N, 28, 28, 1\)"),
        (np.zeros((1, 28, 28, 1), np.float32), "at least 2"),
        (np.full((4, 28, 28, 1), -1.0, np.float32), r"\(x \+ 1\) / 2"),
        (np.full((4, 28, 28, 1), 255.0, np.float32), r"in \[0, 1\]"),
        (np.zeros((4, 28, 28), np.uint8), "divide uint8 pixels by 255"),
        (np.full((4, 28, 28), np.nan, np.float32), "finite"),
    ],
)
def test_image_validation(untrained, images, match):
    with pytest.raises(ValueError, match=match):
        metrics.classifier_features(images, untrained)
    with pytest.raises(ValueError, match=match):
        metrics.evaluate_images(images, np.zeros((4, 28, 28, 1), np.float32), untrained)


def test_untrained_extractor_shapes_and_description(untrained):
    images = np.random.default_rng(0).random((7, 28, 28), dtype=np.float32)  # (N, 28, 28) also accepted
    assert metrics.classifier_features(images, untrained, batch_size=3).shape == (7, 128)
    assert "untrained weights" in untrained.description and "accuracy unknown" in untrained.description
    with pytest.raises(ValueError, match="FeatureExtractor"):
        metrics.classifier_features(images, untrained.model)


def test_missing_and_corrupt_weights(tmp_path):
    with pytest.raises(ValueError, match="train_mnist_classifier.py"):
        metrics.load_feature_extractor(tmp_path / "absent.weights.h5")
    (tmp_path / "bad.weights.h5").write_text("not hdf5")
    with pytest.raises(ValueError, match="could not be loaded.*train_mnist_classifier.py"):
        metrics.load_feature_extractor(tmp_path / "bad.weights.h5")


def test_classifier_layers_and_shapes():
    model = metrics.build_mnist_classifier()
    assert model.get_layer("features").units == 128
    assert model.output.shape == (None, 10)
    assert model.count_params() < 250_000  # under 1 MB of float32 weights
    with pytest.raises(ValueError, match="feature_dim"):
        metrics.build_mnist_classifier(feature_dim=0)


def test_classifier_save_and_load_give_identical_outputs(tmp_path):
    import keras

    model = metrics.build_mnist_classifier()
    images = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    model.save(tmp_path / "classifier.keras")
    restored = keras.saving.load_model(tmp_path / "classifier.keras")  # safe_mode on
    np.testing.assert_array_equal(restored.predict_on_batch(images), model.predict_on_batch(images))
    model.save_weights(tmp_path / "classifier.weights.h5")
    extractor = metrics.load_feature_extractor(tmp_path / "classifier.weights.h5")
    np.testing.assert_allclose(
        metrics.classifier_features(images, extractor),
        keras.Model(model.input, model.get_layer("features").output).predict_on_batch(images),
        rtol=1e-5, atol=1e-6,
    )
    assert "accuracy unknown" in extractor.description  # no JSON record beside it


# ---------------------------------------------------------------- the committed classifier


@pytest.fixture(scope="module")
def digits():
    loaded = data.load_digits("mnist", offline=True, verbose=False)
    return (
        loaded.train_images.astype(np.float32) / 255.0,
        loaded.test_images.astype(np.float32) / 255.0,
        loaded.test_labels,
    )


def test_committed_classifier_reaches_its_recorded_accuracy(extractor, digits):
    _, test_images, test_labels = digits
    record = json.loads(metrics.metadata_path(metrics.DEFAULT_WEIGHTS).read_text())
    assert record["accuracy"] >= 0.97
    assert extractor.accuracy == pytest.approx(record["accuracy"])
    # The held-out digits of the offline split are the ones the record was measured on.
    assert metrics.classifier_accuracy(test_images, test_labels, extractor) == pytest.approx(
        record["accuracy"], abs=0.002
    )
    assert "mnist_classifier.weights.h5" in extractor.description and "%" in extractor.description


@pytest.fixture(scope="module")
def features(extractor, digits):
    """Classifier features of real training digits, held-out digits, noise and shifted digits."""
    train_images, test_images, _ = digits
    noise = np.random.default_rng(0).random(test_images.shape, dtype=np.float32)
    shifted = np.roll(test_images, 3, axis=2)  # every held-out digit moved 3 pixels right
    return {
        name: metrics.classifier_features(images, extractor)
        for name, images in [("train", train_images), ("test", test_images), ("noise", noise), ("shifted", shifted)]
    }


def test_fid_real_digits_small_noise_large(features):
    fid = {name: metrics.frechet_distance(features[name], features["train"]) for name in ("test", "noise", "shifted")}
    # Held-out real digits are the floor; shifted digits are measurably worse; noise is far off.
    assert fid["test"] < 0.02 * fid["noise"]
    assert fid["test"] < fid["shifted"] < fid["noise"]
    kid_real, _ = metrics.kernel_inception_distance(features["test"], features["train"])
    kid_noise, kid_noise_std = metrics.kernel_inception_distance(features["noise"], features["train"])
    assert abs(kid_real) < 0.01 * kid_noise and kid_noise > 10 * kid_noise_std


def test_evaluate_images_reports_fid_kid_and_classifier(extractor, digits):
    train_images, test_images, _ = digits
    result = metrics.evaluate_images(test_images[:300], train_images[:600], extractor, subset_size=200)
    assert set(result) >= {"fid", "kid", "kid_std", "classifier"}
    assert result["fid"] >= 0.0 and result["kid_std"] >= 0.0
    assert result["classifier"] == extractor.description
    assert (result["num_generated"], result["num_reference"]) == (300, 600)


def test_class_histogram_shows_mode_collapse(extractor, digits):
    _, test_images, test_labels = digits
    histogram = metrics.class_histogram(test_images, extractor)
    assert histogram.shape == (10,) and histogram.sum() == len(test_images)
    np.testing.assert_allclose(histogram, np.bincount(test_labels, minlength=10), atol=10)
    ones_only = test_images[test_labels == 1]
    collapsed = metrics.class_histogram(ones_only, extractor)
    assert collapsed[1] >= 0.95 * len(ones_only) and np.count_nonzero(collapsed) <= 3
    predictions = metrics.predict_digits(test_images[:50], extractor)
    assert predictions.dtype == np.int64 and predictions.shape == (50,)
