"""GAN quality scores: FID and KID in the feature space of a Fashion-MNIST classifier.

Both scores compare two sets of feature vectors. FID (Heusel et al. 2017) is
the Fréchet distance between Gaussians fitted to the two sets; it is biased
for small samples, so runs are compared only at equal sample counts. KID
(Binkowski et al. 2018) is the unbiased estimate of the squared MMD with the
kernel k(x, y) = (x.y / d + 1)^3.

Mode coverage is read from the same classifier's predicted classes: the KL
divergence of the generated images' class shares from the real images', and
the fraction of classes the generator covers (at least half a class's real
share), so a generator that collapses onto a few classes shows it even where
FID moves little.

The features come from a small classifier trained once on Fashion-MNIST and
cached on disk, as TF-GAN does for MNIST, so that every run is scored in the
same feature space. Images are float arrays with values in [0, 1], shaped
`(n, 28, 28)` or `(n, 28, 28, 1)`.
"""

import os
from pathlib import Path

import keras
import numpy as np

# Bump on any change to the classifier or its training: old caches are ignored.
CLASSIFIER_VERSION = "fmnist-cnn-v1"
# Beside the local MLflow store, wherever the suite is started from.
FEATURE_LAYER = "features"


def frechet_distance(mean_a, cov_a, mean_b, cov_b):
    """Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b).

    |mean_a - mean_b|^2 + Tr(cov_a) + Tr(cov_b) - 2 Tr((cov_a cov_b)^(1/2)).
    The trace of the square root is taken as the sum of the square roots of
    the eigenvalues of the symmetric matrix cov_a^(1/2) cov_b cov_a^(1/2),
    which has the eigenvalues of cov_a cov_b; symmetric eigendecompositions
    stay real and stable where a general matrix square root can turn complex.
    """
    mean_a, mean_b = np.asarray(mean_a, "float64"), np.asarray(mean_b, "float64")
    cov_a, cov_b = np.atleast_2d(cov_a).astype("float64"), np.atleast_2d(cov_b).astype("float64")
    root_a = _symmetric_sqrt(cov_a)
    product = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    # Rounding can leave a tiny negative value where the true distance is 0.
    return float(max(distance, 0.0))


def _symmetric_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    roots = np.sqrt(np.clip(eigenvalues, 0.0, None))
    return (eigenvectors * roots) @ eigenvectors.T


def fid(features_a, features_b):
    """FID between two sets of feature vectors, shaped `(n, d)` and `(m, d)`."""
    features_a, features_b = _check_features(features_a, features_b, min_count=2)
    return frechet_distance(
        features_a.mean(axis=0),
        np.cov(features_a, rowvar=False),
        features_b.mean(axis=0),
        np.cov(features_b, rowvar=False),
    )


def kid(features_a, features_b, subsets=100, subset_size=1000, seed=0):
    """KID between two sets of feature vectors: `(mean, std)` over subsets.

    Each of `subsets` rounds draws `subset_size` vectors (at most the smaller
    set's size) from each set without replacement and computes the unbiased
    MMD^2 estimate with the kernel (x.y / d + 1)^3. The draws depend only on
    `seed`.
    """
    features_a, features_b = _check_features(features_a, features_b, min_count=2)
    size = min(subset_size, len(features_a), len(features_b))
    if size < 2:
        raise ValueError(f"subset_size must be at least 2. Received: subset_size={subset_size!r}")
    rng = np.random.default_rng(seed)
    estimates = [
        _unbiased_mmd2(
            features_a[rng.choice(len(features_a), size, replace=False)],
            features_b[rng.choice(len(features_b), size, replace=False)],
        )
        for _ in range(subsets)
    ]
    return float(np.mean(estimates)), float(np.std(estimates))


def _unbiased_mmd2(x, y):
    """Unbiased MMD^2 of two equal-size samples with the cubic polynomial kernel."""
    m, dim = x.shape

    def kernel(u, v):
        return (u @ v.T / dim + 1.0) ** 3

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    # Within-sample terms leave out the diagonal, which makes the estimate unbiased.
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return within - 2.0 * k_xy.mean()


def class_shares(classes, num_classes, pseudo_count=0):
    """The share of each of `num_classes` classes among `classes` (integers),
    each count raised by `pseudo_count` (Laplace's smoothing: 1 keeps every
    share above 0)."""
    counts = np.bincount(np.asarray(classes), minlength=num_classes) + pseudo_count
    return counts / counts.sum()


def class_kl(shares, reference_shares):
    """KL(shares || reference_shares) in nats, 0 log 0 taken as 0; the reference
    shares must be positive wherever `shares` are."""
    shares, reference_shares = np.asarray(shares, float), np.asarray(reference_shares, float)
    present = shares > 0
    return float(np.sum(shares[present] * np.log(shares[present] / reference_shares[present])))


def class_coverage(shares, reference_shares):
    """The fraction of the reference's classes whose share in `shares` is at
    least half the reference's."""
    shares, reference_shares = np.asarray(shares, float), np.asarray(reference_shares, float)
    present = reference_shares > 0
    return float(np.mean(shares[present] >= reference_shares[present] / 2))


def _check_features(features_a, features_b, min_count):
    features_a = np.asarray(features_a, "float64")
    features_b = np.asarray(features_b, "float64")
    for name, features in (("features_a", features_a), ("features_b", features_b)):
        if features.ndim != 2 or len(features) < min_count:
            raise ValueError(
                f"{name} must have shape (n, d) with n >= {min_count}. "
                f"Received: shape={features.shape}"
            )
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            "features_a and features_b must have the same feature size. "
            f"Received: shapes {features_a.shape} and {features_b.shape}"
        )
    return features_a, features_b


def build_classifier():
    """The feature classifier: two strided convolutions and a 64-unit feature layer."""
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu", name=FEATURE_LAYER)(x)
    outputs = keras.layers.Dense(10)(x)
    return keras.Model(inputs, outputs, name="fid_classifier")


class FeatureExtractor:
    """Penultimate-layer activations of the cached Fashion-MNIST classifier.

    Build it with `load_feature_extractor`. `classifier` is the whole
    classifier, `trained` tells whether this call trained it (False when it
    came from the cache).
    """

    def __init__(self, classifier, trained=False):
        self.classifier = classifier
        self.trained = trained
        self._features = keras.Model(classifier.inputs, classifier.get_layer(FEATURE_LAYER).output)
        self._both = keras.Model(
            classifier.inputs, [classifier.get_layer(FEATURE_LAYER).output, classifier.output]
        )

    @property
    def num_classes(self):
        return self.classifier.output.shape[-1]

    def features(self, images, batch_size=500):
        """Returns float64 features `(n, 64)` of images in [0, 1]."""
        return self._features.predict(
            self._checked(images), batch_size=batch_size, verbose=0
        ).astype("float64")

    def features_and_classes(self, images, batch_size=500):
        """Returns the features of `features` and each image's predicted class."""
        features, logits = self._both.predict(
            self._checked(images), batch_size=batch_size, verbose=0
        )
        return features.astype("float64"), np.argmax(logits, axis=-1)

    @staticmethod
    def _checked(images):
        images = np.asarray(images, "float32")
        if images.ndim == 3:
            images = images[..., None]
        if images.shape[1:] != (28, 28, 1):
            raise ValueError(
                "images must have shape (n, 28, 28) or (n, 28, 28, 1). "
                f"Received: shape={images.shape}"
            )
        return images


def load_feature_extractor(cache_dir, train_data=None, epochs=3, seed=0, data_dir=None):
    """Loads the cached classifier, or trains and caches it on first use.

    Args:
        cache_dir: where the `.keras` file lives; its name carries
            `CLASSIFIER_VERSION`, so a new version trains a new classifier.
        train_data: a `tf.data.Dataset` of `(images, labels)` batches to train
            on; the Fashion-MNIST training pipeline of `experiments.data`
            when None.
        epochs: training epochs.
        seed: seeds the initialization and the shuffling. Training sets
            Keras's global random seed, so load the extractor before a run
            seeds itself.
        data_dir: the `--data-dir` of `experiments.data.load_images`, for the
            default training data.
    """
    path = Path(cache_dir) / f"{CLASSIFIER_VERSION}.keras"
    if path.exists():
        return FeatureExtractor(keras.models.load_model(path, compile=False))
    if train_data is None:
        from ..data.images import load_images

        train_data = load_images(
            "fashion_mnist", batch_size=128, seed=seed, data_dir=data_dir
        ).train
    keras.utils.set_random_seed(seed)
    classifier = build_classifier()
    classifier.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # The pipeline shuffles, if it should: Keras does not shuffle datasets.
    classifier.fit(train_data, epochs=epochs, verbose=0, shuffle=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside and rename, so parallel runs never read a half-written file.
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.keras")
    classifier.save(partial)
    os.replace(partial, path)
    return FeatureExtractor(classifier, trained=True)


class Scorer:
    """Scores image sets against a fixed reference sample in one feature space.

    The reference features are computed once. Every call scores exactly
    `sample_count` images, so scores of different runs are comparable;
    scoring a held-out real sample gives the floor a generator can reach.

    Args:
        extractor: a `FeatureExtractor`.
        reference_images: at least `sample_count` real images in [0, 1]; a
            fixed subset chosen by `seed` is used.
        sample_count: images scored per set.
        kid_subsets, kid_subset_size: passed to `kid`.
        seed: picks the reference subset and the KID subsets.
    """

    def __init__(
        self,
        extractor,
        reference_images,
        sample_count=1000,
        kid_subsets=100,
        kid_subset_size=500,
        seed=0,
    ):
        self.extractor = extractor
        self.sample_count = sample_count
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size
        self.seed = seed
        reference_images = self._check_count(reference_images, "reference_images")
        chosen = np.random.default_rng(seed).choice(
            len(reference_images), sample_count, replace=False
        )
        self.reference_features, classes = extractor.features_and_classes(reference_images[chosen])
        # Smoothed, so that a class the reference sample lacks keeps the KL finite.
        self.reference_shares = class_shares(classes, extractor.num_classes, pseudo_count=1)

    def __call__(self, images):
        """Returns `{"fid", "kid", "kid_std", "class_kl", "class_coverage"}` of
        the first `sample_count` images."""
        images = self._check_count(images, "images")[: self.sample_count]
        features, classes = self.extractor.features_and_classes(images)
        shares = class_shares(classes, self.extractor.num_classes)
        kid_mean, kid_std = kid(
            features,
            self.reference_features,
            self.kid_subsets,
            self.kid_subset_size,
            self.seed,
        )
        return {
            "fid": fid(features, self.reference_features),
            "kid": kid_mean,
            "kid_std": kid_std,
            "class_kl": class_kl(shares, self.reference_shares),
            "class_coverage": class_coverage(shares, self.reference_shares),
        }

    def _check_count(self, images, name):
        images = np.asarray(images)
        if len(images) < self.sample_count:
            raise ValueError(
                f"{name} must hold at least sample_count={self.sample_count} "
                f"images. Received: {len(images)}"
            )
        return images
