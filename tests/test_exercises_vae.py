"""Tests of the VAE chapter's exercise checks: the solutions pass, a blank stub and each
mistake a check names fail with that check's message (notebooks 04-06)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from lib import vae
from lib.exercises import ExerciseCheckFailed
from lib.exercises import vae as checks


def _stub(*args):
    raise NotImplementedError("Exercise: write this part.")


def _passes(check, *args, capsys):
    check(*args)
    assert capsys.readouterr().out.startswith("Correct:")


# ----------------------------------------------------------------------------
# Notebook 04
# ----------------------------------------------------------------------------
def _kl(mean, log_var):
    return 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mean) - 1.0 - log_var, axis=-1)


def test_gaussian_kl_solution_passes(capsys):
    _passes(checks.check_gaussian_kl, _kl, capsys=capsys)
    _passes(checks.check_gaussian_kl, vae.gaussian_kl, capsys=capsys)


@pytest.mark.parametrize("mistake, message", [
    (_stub, "not implemented yet"),
    (lambda m, v: tf.reduce_mean(_kl(m, v)), "averaged over the batch"),
    (lambda m, v: 0.5 * tf.reduce_mean(tf.exp(v) + tf.square(m) - 1.0 - v, axis=-1),
     "averaged over latent dimensions instead of summed"),
    (lambda m, v: _kl(m, v) / 784.0, "divided by the number of pixels"),
    (lambda m, v: 2.0 * _kl(m, v), "factor 1/2 is missing"),
    (lambda m, v: -_kl(m, v), "sign is wrong"),
    (lambda m, v: 0.5 * tf.reduce_sum(tf.exp(v) + tf.square(m) - v, axis=-1), "-1 inside the sum is missing"),
    (lambda m, v: 0.5 * np.sum(v + m**2 - 1.0 - np.log(v), axis=-1), "LOG of the variance"),
])
def test_gaussian_kl_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_gaussian_kl(mistake)


def test_reparameterize_solution_passes(capsys):
    _passes(checks.check_reparameterize, lambda m, v, e: m + tf.exp(0.5 * v) * e, capsys=capsys)


@pytest.mark.parametrize("mistake, message", [
    (_stub, "not implemented yet"),
    (lambda m, v, e: m + tf.exp(v) * e, "multiplied by the variance"),
    (lambda m, v, e: m + v * e, "log_var is not the standard deviation"),
    (lambda m, v, e: m + 0.0 * e, "the noise is missing"),
    (lambda m, v, e: tf.exp(0.5 * v) * e, "The mean is missing"),
    (lambda m, v, e: m + tf.exp(0.5 * v) * tf.random.normal(tf.shape(m)), "use the `noise` argument"),
    (lambda m, v, e: np.asarray(m) + np.exp(0.5 * np.asarray(v)) * e, "no gradient reaches mean and log_var"),
])
def test_reparameterize_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_reparameterize(mistake)


def test_untrained_reconstruction(capsys):
    _passes(checks.check_untrained_reconstruction, lambda: 784 * math.log(2), capsys=capsys)
    _passes(checks.check_untrained_reconstruction, lambda: 543, capsys=capsys)  # a rounded answer is right


@pytest.mark.parametrize("answer, message", [
    (_stub, "not implemented yet"),
    (lambda: math.log(2), "cost of ONE pixel"),
    (lambda: 784, "BITS"),
    (lambda: 0.5, "a probability, not a loss"),
    (lambda: 392, "-log p, not p"),
    (lambda: 100.0, "sigmoid\\(0\\) = 1/2"),
    (lambda: "a lot", "expected a number"),
])
def test_untrained_reconstruction_mistakes_are_named(answer, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_untrained_reconstruction(answer)


def test_untrained_reconstruction_is_what_an_untrained_decoder_gives():
    # The number the check expects is what lib.vae computes for logits of 0, on any binary image.
    images = vae.binarize_held_out(np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype(np.float32))
    log_likelihood = vae.bernoulli_log_likelihood(images, np.zeros_like(images)).numpy()
    np.testing.assert_allclose(-log_likelihood, 784 * math.log(2), rtol=1e-6)


# ----------------------------------------------------------------------------
# Notebook 05
# ----------------------------------------------------------------------------
def _negative_elbo(images, logits, mean, log_var):
    reconstruction = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits), [1, 2, 3])
    return reconstruction + vae.gaussian_kl(mean, log_var)


def test_negative_elbo_solution_passes(capsys):
    _passes(checks.check_negative_elbo, _negative_elbo, capsys=capsys)
    _passes(checks.check_negative_elbo, lambda x, l, m, v: -vae.bernoulli_log_likelihood(x, l) + vae.gaussian_kl(m, v),
            capsys=capsys)


def _cross_entropy(images, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)


@pytest.mark.parametrize("mistake, message", [
    (_stub, "not implemented yet"),
    (lambda x, l, m, v: tf.reduce_mean(_negative_elbo(x, l, m, v)), "got the batch mean"),
    (lambda x, l, m, v: tf.reduce_mean(_cross_entropy(x, l), [1, 2, 3]) + vae.gaussian_kl(m, v),
     "averaged over pixels instead of summed"),
    (lambda x, l, m, v: tf.reduce_sum(_cross_entropy(x, l), [1, 2, 3]) + vae.gaussian_kl(m, v) / 784,
     "KL is divided by the number of pixels"),
    (lambda x, l, m, v: tf.reduce_sum(_cross_entropy(x, l), [1, 2, 3]), "KL term is missing"),
    (lambda x, l, m, v: tf.reduce_sum(_cross_entropy(x, l), [1, 2, 3]) - vae.gaussian_kl(m, v), "KL is subtracted"),
    (lambda x, l, m, v: -_negative_elbo(x, l, m, v), "sign is wrong"),
    (lambda x, l, m, v: tf.reduce_sum(_cross_entropy(l, x), [1, 2, 3]) + vae.gaussian_kl(m, v), "swapped"),
    (lambda x, l, m, v: -tf.reduce_sum(x * tf.math.log(tf.sigmoid(l)) + (1 - x) * tf.math.log(1 - tf.sigmoid(l)),
                                       [1, 2, 3]) + vae.gaussian_kl(m, v), "from the logits"),
])
def test_negative_elbo_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_negative_elbo(mistake)


def test_iwae_solution_passes(capsys):
    _passes(checks.check_iwae_from_log_weights, lambda w: tf.reduce_logsumexp(w, axis=0) - np.log(w.shape[0]),
            capsys=capsys)


@pytest.mark.parametrize("mistake, message", [
    (_stub, "not implemented yet"),
    (lambda w: np.log(np.mean(np.exp(w), axis=0)), "underflows"),
    (lambda w: np.mean(w, axis=0), "mean of the log-weights"),
    (lambda w: tf.reduce_logsumexp(w, axis=0), "log k is missing"),
    (lambda w: tf.reduce_logsumexp(w, axis=1) - np.log(w.shape[1]), "wrong axis"),
    (lambda w: np.max(w, axis=0), "maximum log-weight"),
])
def test_iwae_mistakes_are_named(mistake, message):
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_iwae_from_log_weights(mistake)


def test_diagnosis(capsys):
    right = {"A": "kl_divided_by_pixels", "B": "healthy", "C": "posterior_collapse"}
    _passes(checks.check_diagnosis, lambda: right, capsys=capsys)
    for message, answer in [
        ("not implemented yet", _stub),
        ("keys 'A', 'B', 'C'", lambda: {"A": "healthy"}),
        ("expected each value among", lambda: {**right, "A": "broken"}),
        ("run A is not 'healthy'.*climbs far above", lambda: {**right, "A": "healthy", "B": "kl_divided_by_pixels"}),
        ("run B is not 'posterior_collapse'.*moderate KL", lambda: {**right, "B": "posterior_collapse",
                                                                   "C": "healthy"}),
        ("run C is not 'healthy'.*KL near 0", lambda: {**right, "C": "healthy"}),
    ]:
        with pytest.raises(ExerciseCheckFailed, match=message):
            checks.check_diagnosis(answer)


def test_broken_runs_show_what_the_diagnosis_says():
    runs = checks.BROKEN_RUNS
    final_kl = {letter: run["kl_loss"][-1] for letter, run in runs.items()}
    assert final_kl["C"] < 1 < final_kl["B"] < 50 < final_kl["A"]  # collapse, healthy, nearly free code
    assert runs["A"]["reconstruction_loss"][-1] < runs["B"]["reconstruction_loss"][-1] \
        < runs["C"]["reconstruction_loss"][-1]


# ----------------------------------------------------------------------------
# Notebook 06
# ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cvae_model():
    """A small CVAE trained a few hundred steps on the offline digits: its labels already matter."""
    from lib import data

    digits = data.load_digits("mnist", offline=True, verbose=False)
    images = data.to_float_images(digits.train_images[:2000])
    model = vae.make_vae("cvae", architecture="mlp", hidden_units=[128], latent_dim=2, seed=0)
    model.compile(optimizer=__import__("keras").optimizers.Adam(2e-3))
    model.fit(images, digits.train_labels[:2000], batch_size=50, epochs=4, verbose=0)
    held_out = vae.binarize_held_out(data.to_float_images(digits.test_images[:40]))
    return model, held_out


def _sample_digit(model, digit, n, seed):
    latents = tf.random.stateless_normal((n, model.latent_dim), seed=(seed, 0))
    return tf.sigmoid(model.decode(latents, np.full(n, digit)))


def test_conditional_sampler(cvae_model, capsys):
    model, _ = cvae_model
    _passes(checks.check_conditional_sampler, _sample_digit, model, capsys=capsys)
    _passes(checks.check_conditional_sampler, lambda m, d, n, s: m.generate(n, labels=np.full(n, d), seed=s), model,
            capsys=capsys)


@pytest.mark.parametrize("mistake, message", [
    (_stub, "not implemented yet"),
    (lambda m, d, n, s: m.decode(tf.random.stateless_normal((n, m.latent_dim), seed=(s, 0)), np.full(n, d)),
     "these are logits"),
    (lambda m, d, n, s: tf.sigmoid(m.decode(np.zeros((n, m.latent_dim), np.float32), np.full(n, d))), "z is fixed"),
    (lambda m, d, n, s: _sample_digit(m, d, n, 0), "seeds 0 and 1 gave the same images"),
    (lambda m, d, n, s: _sample_digit(m, (d + 1) % 10, n, s), "not its 7s"),
])
def test_conditional_sampler_mistakes_are_named(cvae_model, mistake, message):
    model, _ = cvae_model
    with pytest.raises(ExerciseCheckFailed, match=message):
        checks.check_conditional_sampler(mistake, model)


def test_classify_by_elbo(cvae_model, capsys):
    model, images = cvae_model
    _passes(checks.check_classify_by_elbo, lambda m, x: checks.classify_by_elbo(m, x), model, images, capsys=capsys)
    with pytest.raises(ExerciseCheckFailed, match="not implemented yet"):
        checks.check_classify_by_elbo(_stub, model, images)
    with pytest.raises(ExerciseCheckFailed, match="agree with the reference"):
        checks.check_classify_by_elbo(lambda m, x: (checks.classify_by_elbo(m, x) + 1) % 10, model, images)

    def largest(m, x):
        scores = [-vae.bernoulli_log_likelihood(x, m.decode(m.encode(x, np.full(len(x), y))[0], np.full(len(x), y)))
                  + vae.gaussian_kl(*m.encode(x, np.full(len(x), y))) for y in range(10)]
        return np.argmax(np.stack(scores, axis=1), axis=1)

    with pytest.raises(ExerciseCheckFailed, match="LARGEST negative ELBO"):
        checks.check_classify_by_elbo(largest, model, images)


def test_label_worth(capsys):
    _passes(checks.check_label_worth, lambda: math.log(10), capsys=capsys)
    for answer, message in [(_stub, "not implemented yet"), (lambda: math.log2(10), "BITS"),
                            (lambda: 10, "log of that count"), (lambda: 0.1, "p\\(y\\), a probability"),
                            (lambda: -2.3026, "positive number of nats"), (lambda: 5.0, "Hint")]:
        with pytest.raises(ExerciseCheckFailed, match=message):
            checks.check_label_worth(answer)
