"""FID, KID and the cached feature classifier, against references written from the formulas."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from experiments.tasks import gan_metrics
from experiments.tasks.gan_metrics import (
    Scorer,
    fid,
    frechet_distance,
    kid,
    load_feature_extractor,
)


def rng(seed=0):
    return np.random.default_rng(seed)


def reference_trace_sqrt(cov_a, cov_b):
    """Tr((cov_a cov_b)^(1/2)) from the general eigenvalues of the product."""
    eigenvalues = np.linalg.eigvals(cov_a @ cov_b)
    return np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()


def reference_frechet(mean_a, cov_a, mean_b, cov_b):
    return (
        np.sum((mean_a - mean_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * reference_trace_sqrt(cov_a, cov_b)
    )


def reference_unbiased_mmd2(x, y):
    """The unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, term by term."""
    m, d = x.shape

    def k(u, v):
        return (np.dot(u, v) / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return xx / (m * (m - 1)) + yy / (m * (m - 1)) - 2 * xy / m**2


def random_covariance(dim, seed):
    a = rng(seed).normal(size=(dim, dim))
    return a @ a.T / dim + 0.1 * np.eye(dim)


# FID


@pytest.mark.parametrize(
    "mean_a, std_a, mean_b, std_b",
    [
        (0.0, 1.0, 0.0, 1.0),
        (0.0, 1.0, 2.0, 1.0),
        (1.0, 0.5, -1.0, 3.0),
        (0.0, 2.0, 0.0, 0.1),
    ],
)
def test_frechet_distance_one_dimensional_closed_form(mean_a, std_a, mean_b, std_b):
    # In 1-D: (m_a - m_b)^2 + s_a^2 + s_b^2 - 2 s_a s_b = (m_a - m_b)^2 + (s_a - s_b)^2.
    expected = (mean_a - mean_b) ** 2 + (std_a - std_b) ** 2
    got = frechet_distance([mean_a], [[std_a**2]], [mean_b], [[std_b**2]])
    assert got == pytest.approx(expected, abs=1e-9)


def test_frechet_distance_diagonal_closed_form():
    mean_a, mean_b = rng(1).normal(size=6), rng(2).normal(size=6)
    std_a, std_b = rng(3).uniform(0.1, 3, 6), rng(4).uniform(0.1, 3, 6)
    expected = np.sum((mean_a - mean_b) ** 2 + (std_a - std_b) ** 2)
    got = frechet_distance(mean_a, np.diag(std_a**2), mean_b, np.diag(std_b**2))
    assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("dim", [2, 5, 32])
def test_frechet_distance_full_covariances_match_reference(dim):
    mean_a, mean_b = rng(5).normal(size=dim), rng(6).normal(size=dim)
    cov_a, cov_b = random_covariance(dim, 7), random_covariance(dim, 8)
    expected = reference_frechet(mean_a, cov_a, mean_b, cov_b)
    assert frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(expected, rel=1e-7)
    assert frechet_distance(mean_b, cov_b, mean_a, cov_a) == pytest.approx(expected, rel=1e-7)


def test_fid_of_samples_uses_their_mean_and_covariance():
    a = rng(9).normal(size=(300, 8)) @ rng(10).normal(size=(8, 8))
    b = rng(11).normal(size=(200, 8)) + 0.5
    expected = reference_frechet(
        a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    )
    assert fid(a, b) == pytest.approx(expected, rel=1e-7)


def test_fid_of_gaussian_samples_approaches_the_closed_form():
    mean_a, std_a = np.array([0.0, 1.0, -1.0]), np.array([1.0, 2.0, 0.5])
    mean_b, std_b = np.array([1.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.5])
    a = mean_a + std_a * rng(12).normal(size=(100_000, 3))
    b = mean_b + std_b * rng(13).normal(size=(100_000, 3))
    expected = np.sum((mean_a - mean_b) ** 2 + (std_a - std_b) ** 2)
    assert fid(a, b) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize("count, dim", [(500, 16), (30, 64)])
def test_fid_of_a_sample_with_itself_is_zero(count, dim):
    # (30, 64): fewer samples than features, a singular covariance.
    x = rng(14).normal(size=(count, dim)) * 3 + 1
    assert fid(x, x) == pytest.approx(0.0, abs=1e-6 * dim)


def test_fid_grows_as_a_sample_is_shifted():
    x = rng(15).normal(size=(400, 10))
    direction = rng(16).normal(size=10)
    shifts = [0.0, 0.1, 0.5, 1.0, 2.0, 4.0]
    scores = [fid(x, x + s * direction) for s in shifts]
    assert np.all(np.diff(scores) > 0)
    # Equal covariances: only the mean term is left.
    expected = np.square(shifts) * (direction @ direction)
    np.testing.assert_allclose(scores, expected, rtol=1e-6, atol=1e-6)


def test_fid_refuses_mismatched_features():
    with pytest.raises(ValueError, match="feature size"):
        fid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="features_a"):
        fid(np.zeros(10), np.zeros((10, 1)))


# KID


def test_kid_matches_the_unbiased_estimate_term_by_term():
    x, y = rng(17).normal(size=(12, 5)), rng(18).normal(size=(12, 5)) + 0.3
    # One subset holding every vector: the estimate over the whole sets.
    mean, std = kid(x, y, subsets=1, subset_size=12)
    assert mean == pytest.approx(reference_unbiased_mmd2(x, y), rel=1e-9)
    assert std == 0.0


def test_kid_is_symmetric():
    x, y = rng(19).normal(size=(40, 6)), rng(20).normal(size=(40, 6)) * 2
    assert kid(x, y, subsets=1, subset_size=40)[0] == pytest.approx(
        kid(y, x, subsets=1, subset_size=40)[0], rel=1e-12
    )


def test_kid_is_unbiased_for_samples_of_one_distribution():
    # Averaged over many small independent samples, the estimate is near 0,
    # while the biased estimate (diagonal kept) stays clearly positive.
    estimates, biased = [], []
    for seed in range(300):
        x, y = rng(seed).normal(size=(2, 10, 4))
        estimates.append(kid(x, y, subsets=1, subset_size=10)[0])

        def kernel(u, v):
            return (u @ v.T / 4 + 1) ** 3

        biased.append(kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean())
    standard_error = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates)) < 3 * standard_error
    assert np.mean(biased) > 10 * standard_error


def test_kid_averages_over_subsets_deterministically():
    x, y = rng(21).normal(size=(200, 8)), rng(22).normal(size=(150, 8)) + 0.2
    first = kid(x, y, subsets=20, subset_size=50, seed=3)
    assert first == kid(x, y, subsets=20, subset_size=50, seed=3)
    assert first != kid(x, y, subsets=20, subset_size=50, seed=4)
    assert first[1] > 0


def test_kid_near_zero_for_one_distribution_and_grows_with_shift():
    x, y = rng(23).normal(size=(2, 1000, 16))
    direction = rng(24).normal(size=16) / 4
    shifts = [0.5, 1.0, 2.0, 4.0]
    scores = [kid(x, y + s * direction, subsets=5, subset_size=500)[0] for s in shifts]
    same = kid(x, y, subsets=5, subset_size=500)[0]
    assert abs(same) < 0.2 * scores[0]
    assert np.all(np.diff(scores) > 0)


def test_kid_refuses_tiny_subsets():
    with pytest.raises(ValueError, match="subset_size"):
        kid(np.zeros((10, 2)), np.zeros((10, 2)), subset_size=1)


# The feature classifier and the scorer


def tiny_dataset():
    images = rng(26).random((64, 28, 28, 1)).astype("float32")
    labels = rng(27).integers(0, 10, 64).astype("int32")
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(32)


def test_extractor_trains_once_then_loads_from_cache(tmp_path):
    first = load_feature_extractor(tmp_path, train_data=tiny_dataset(), epochs=1)
    assert first.trained
    assert [p.name for p in tmp_path.iterdir()] == [f"{gan_metrics.CLASSIFIER_VERSION}.keras"]
    images = rng(31).random((10, 28, 28, 1)).astype("float32")
    features = first.features(images)
    assert features.shape == (10, 64) and features.dtype == np.float64

    second = load_feature_extractor(tmp_path, train_data=None)
    assert not second.trained
    np.testing.assert_allclose(second.features(images[..., 0]), features, atol=1e-5)


def test_extractor_cache_is_keyed_by_version(tmp_path, monkeypatch):
    load_feature_extractor(tmp_path, train_data=tiny_dataset(), epochs=1)
    monkeypatch.setattr(gan_metrics, "CLASSIFIER_VERSION", "fmnist-cnn-test")
    assert load_feature_extractor(tmp_path, train_data=tiny_dataset(), epochs=1).trained
    assert (tmp_path / "fmnist-cnn-test.keras").exists()


@pytest.fixture(scope="module")
def extractor(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_feature_extractor(cache, train_data=tiny_dataset(), epochs=1)


def test_extractor_refuses_other_image_shapes(extractor):
    with pytest.raises(ValueError, match="shape"):
        extractor.features(np.zeros((2, 32, 32, 1)))


def test_scorer_scores_a_fixed_sample_count(extractor):
    reference = rng(28).random((80, 28, 28, 1))
    scorer = Scorer(extractor, reference, sample_count=40, kid_subsets=5, kid_subset_size=20)
    real = scorer(rng(29).random((60, 28, 28, 1)))
    dark = scorer(rng(30).random((40, 28, 28, 1)) * 0.2)
    assert set(real) == {"fid", "kid", "kid_std", "class_kl", "class_coverage"}
    assert all(np.isfinite(v) for v in real.values())
    # Only the first sample_count images count.
    more = np.concatenate([rng(29).random((60, 28, 28, 1))[:40], np.ones((30, 28, 28, 1))])
    assert scorer(more) == real
    assert dark["fid"] > real["fid"] and dark["kid"] > real["kid"]
    with pytest.raises(ValueError, match="sample_count=40"):
        scorer(reference[:39])
    with pytest.raises(ValueError, match="reference_images"):
        Scorer(extractor, reference[:10], sample_count=40)


def test_class_scores_against_scipy_and_by_hand():
    reference = np.full(4, 0.25)
    collapsed = gan_metrics.class_shares([2, 2, 2, 1], 4)
    np.testing.assert_allclose(collapsed, [0, 0.25, 0.75, 0])
    assert gan_metrics.class_kl(collapsed, reference) == pytest.approx(
        stats.entropy(collapsed, reference)
    )
    assert gan_metrics.class_kl(reference, reference) == 0
    # Covered: a share of at least half the reference's (0.125 here).
    assert gan_metrics.class_coverage(collapsed, reference) == 0.5
    assert gan_metrics.class_coverage([0.125, 0.125, 0.25, 0.5], reference) == 1
    assert gan_metrics.class_coverage([0.1, 0.2, 0.2, 0.5], reference) == 0.75
    # Laplace's smoothing keeps a class absent from the sample above 0.
    np.testing.assert_allclose(
        gan_metrics.class_shares([0, 0, 1], 3, pseudo_count=1), [0.5, 1 / 3, 1 / 6]
    )


def test_the_scorer_reads_class_shares_from_the_classifiers_predictions(extractor):
    reference = rng(32).random((80, 28, 28, 1))
    scorer = Scorer(extractor, reference, sample_count=40, kid_subsets=5, kid_subset_size=20)
    assert scorer.reference_shares.sum() == pytest.approx(1)
    assert np.all(scorer.reference_shares > 0)  # smoothed: the KL stays finite
    _, classes = extractor.features_and_classes(reference)
    # A generator whose images all fall in one predicted class.
    one_class = np.resize(reference[classes == classes[0]], (40, 28, 28, 1))
    shares = np.eye(extractor.num_classes)[classes[0]]
    scored = scorer(one_class)
    assert scored["class_kl"] == pytest.approx(
        gan_metrics.class_kl(shares, scorer.reference_shares)
    )
    assert scored["class_coverage"] == gan_metrics.class_coverage(shares, scorer.reference_shares)
