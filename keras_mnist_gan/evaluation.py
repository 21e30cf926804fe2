"""How good are the digits? Figures from a classifier that knows MNIST.

A small CNN, the *evaluator*, is trained on the MNIST training split (see
`train_evaluator`; the shipped one is ``saved_models/evaluator.keras``). On N
generated digits and N real test digits it gives:

- **FID**: the Fréchet distance between Gaussians fitted to the evaluator's
  penultimate-layer features of the two sets (0 = same distribution);
- **MNIST score**: the Inception score with the evaluator,
  ``exp(E_x KL(p(y|x) || p(y)))``: 10 at best (every digit confidently one
  class, classes equally common), 1 at worst;
- **class spread**: the histogram of predicted classes, its entropy in bits
  (log2 10 = 3.32 is uniform) and the rarest class's share;
- **mean confidence**: the average top class probability;
- **within-class diversity**: for each class, the mean distance between
  two digits of that class in the evaluator's features, as a share of the
  same for real digits of that class (1 = as varied as real digits; a
  generator that draws every 3 alike scores near 0 for the 3, however good
  that one 3 is). Digits belong to the class the evaluator reads them as;
  the figure is the mean over classes, and the least varied class is named;
- **memorisation**: the share of samples whose nearest training digit (pixel
  L2) is closer than the 5th percentile of real test digits' distances to
  their nearest training digit (about 0.05 for real data by construction).

`real_floor` computes every figure for real training digits against the test
digits: the best a generator can hope for at the same N.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import keras
import numpy as np
from scipy import linalg

from .mnist_data import to_float


def shipped_model(name: str) -> Path:
    """A model shipped in saved_models/: inside the installed package, or in
    the source checkout's top-level folder."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "saved_models" / name, here.parent / "saved_models" / name):
        if candidate.is_file():
            return candidate
    return here.parent / "saved_models" / name


EVALUATOR_PATH = shipped_model("evaluator.keras")
FEATURE_LAYER = "features"


def build_evaluator(seed: int | None = 0) -> keras.Sequential:
    """A small CNN classifier; its 128-d layer ``features`` feeds FID."""
    init = lambda i: keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)  # noqa: E731
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(0)),
            layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(1)),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu", kernel_initializer=init(2)),
            layers.Conv2D(64, 3, activation="relu", kernel_initializer=init(3)),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dropout(0.25, seed=seed),
            layers.Dense(128, activation="relu", kernel_initializer=init(4), name=FEATURE_LAYER),
            layers.Dropout(0.4, seed=seed),
            layers.Dense(10, activation="softmax", kernel_initializer=init(5), name="probs"),
        ],
        name="evaluator",
    )


def train_evaluator(x_train, y_train, x_test, y_test, epochs: int = 4, seed: int = 0, verbose="auto"):
    """Train the evaluator; returns (model, test accuracy)."""
    keras.utils.set_random_seed(seed)
    model = build_evaluator(seed)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, x_test = to_float(x_train), to_float(x_test)
    model.fit(
        x_train,
        np.asarray(y_train),
        batch_size=128,
        epochs=epochs,
        verbose=verbose,
        shuffle=True,
        callbacks=[keras.callbacks.LearningRateScheduler(lambda e, lr: 1e-3 * 0.5**e)],
    )
    _, acc = model.evaluate(x_test, np.asarray(y_test), batch_size=500, verbose=0)
    # Ship weights only: an uncompiled copy has no optimizer state to carry.
    clean = build_evaluator(seed)
    clean.set_weights(model.get_weights())
    return clean, float(acc)


class Evaluator:
    """Wraps the classifier: probabilities and features in one pass."""

    def __init__(self, model: keras.Model):
        self.model = model
        self._both = keras.Model(model.inputs, [model.get_layer(FEATURE_LAYER).output, model.outputs[0]])

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "Evaluator":
        from .saving import ModelFileError, _load

        model = _load(path or EVALUATOR_PATH, "evaluator")
        what = _not_an_evaluator(model)
        if what:
            raise ModelFileError(
                f"{path or EVALUATOR_PATH}: {what}, not an evaluator (the MNIST classifier evaluate measures digits "
                f"with, whose layer {FEATURE_LAYER!r} gives the features of the Fréchet distance); leave --evaluator "
                "out for the shipped saved_models/evaluator.keras, or make one with `keras-mnist-gan "
                "train-evaluator --out FILE.keras`."
            )
        return cls(model)

    def features_and_probs(self, images, batch_size: int = 1000):
        feats, probs = self._both.predict(to_float(images), batch_size=batch_size, verbose=0)
        return feats.astype(np.float64), probs.astype(np.float64)


def _not_an_evaluator(model) -> str | None:
    """What ``model`` is, if it is not a classifier of 28x28 digits with a
    ``features`` layer; None if it is one."""
    from .gan import GAN

    if isinstance(model, GAN):
        return "a whole GAN (what train saves as gan.keras)"
    try:
        in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    except Exception:  # a subclassed model: no fixed shapes
        return f"a {type(model).__name__} with no fixed input and output shapes"
    if out_shape[1:] == (28, 28, 1):
        return "a digit generator (it maps noise to 28x28 images)"
    if (
        in_shape[1:] != (28, 28, 1)
        or len(out_shape) != 2
        or FEATURE_LAYER not in [layer.name for layer in model.layers]
    ):
        return f"a model mapping {in_shape} to {out_shape} with no {FEATURE_LAYER!r} layer"
    return None


def frechet_distance(feat_a: np.ndarray, feat_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets."""
    from .presets import MIN_FID_DIGITS

    if min(len(feat_a), len(feat_b)) < MIN_FID_DIGITS:
        raise ValueError(
            f"a Fréchet distance needs at least {MIN_FID_DIGITS} digits on each side (the features are "
            f"{feat_a.shape[-1]}-d); got {len(feat_a)} and {len(feat_b)}."
        )
    mu_a, mu_b = feat_a.mean(axis=0), feat_b.mean(axis=0)
    cov_a, cov_b = np.cov(feat_a, rowvar=False), np.cov(feat_b, rowvar=False)
    with warnings.catch_warnings():
        # Dead ReLU features make the covariances singular; sqrtm still
        # returns a usable root, and a non-finite one is handled below.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():
        # Near-singular covariances (e.g. a collapsed generator): nudge both
        # diagonals, as the reference FID implementation does.
        eps = 1e-6 * np.eye(len(cov_a))
        covmean = linalg.sqrtm((cov_a + eps) @ (cov_b + eps))
    covmean = np.real(covmean)  # sqrtm leaves tiny imaginary round-off
    diff = mu_a - mu_b
    return float(max(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean), 0.0))


def mnist_score(probs: np.ndarray) -> float:
    """Inception score computed with the MNIST evaluator (1 to 10)."""
    p = np.clip(probs, 1e-12, 1.0)
    marginal = p.mean(axis=0, keepdims=True)
    return float(math.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def class_spread(probs: np.ndarray) -> dict:
    counts = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])
    share = counts / counts.sum()
    nz = share[share > 0]
    return {
        "class_share": [round(float(s), 4) for s in share],
        "class_entropy_bits": float(-(nz * np.log2(nz)).sum()),
        "rarest_class_share": float(share.min()),
    }


def nearest_distances(queries: np.ndarray, references: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """Pixel-space L2 distance from each query to its nearest reference."""
    q = to_float(queries).reshape(len(queries), -1)
    r = to_float(references).reshape(len(references), -1)
    r_sq = (r * r).sum(axis=1)
    out = np.empty(len(q), np.float32)
    for i in range(0, len(q), chunk):
        block = q[i : i + chunk]
        d2 = (block * block).sum(axis=1)[:, None] - 2.0 * block @ r.T + r_sq[None, :]
        out[i : i + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


# Digits of one class behind its within-class distance: enough for a
# stable mean, few enough that the pairwise matrix stays small.
WITHIN_CLASS_DIGITS = 500


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean L2 distance between all pairs of rows of ``x`` (nan for fewer than 2)."""
    if len(x) < 2:
        return float("nan")
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] - 2.0 * x @ x.T + sq[None, :], 0.0)
    return float(np.sqrt(d2)[np.triu_indices(len(x), 1)].mean())


def within_class_diversity(feats, classes, real_feats, real_classes, num_classes: int) -> dict:
    """Each class's mean pairwise distance among ``feats`` of that class as
    a share of the same among ``real_feats`` of that class (nan where either
    side has fewer than 2 digits), their mean, and the least varied class."""
    feats, real_feats = np.asarray(feats), np.asarray(real_feats)
    classes, real_classes = np.asarray(classes), np.asarray(real_classes)
    shares = []
    for c in range(num_classes):
        ours = mean_pairwise_distance(feats[classes == c][:WITHIN_CLASS_DIGITS])
        real = mean_pairwise_distance(real_feats[real_classes == c][:WITHIN_CLASS_DIGITS])
        shares.append(ours / real if real > 0 else float("nan"))
    known = [(s, c) for c, s in enumerate(shares) if math.isfinite(s)]
    return {
        "within_class_diversity": float(np.mean([s for s, _ in known])) if known else float("nan"),
        "within_class_diversity_per_class": [round(s, 4) if math.isfinite(s) else float("nan") for s in shares],
        "least_varied_class": int(min(known)[1]) if known else None,
    }


def requested_accuracy(probs: np.ndarray, labels: np.ndarray) -> dict:
    """How often the evaluator recognises the digit that was asked for:
    overall and per class (a conditional generator's digits)."""
    labels = np.asarray(labels)
    hit = probs.argmax(axis=1) == labels
    classes = range(probs.shape[1])
    return {
        "accuracy": float(hit.mean()),
        "accuracy_per_class": [
            float(hit[labels == c].mean()) if (labels == c).any() else float("nan") for c in classes
        ],
    }


def quality(
    evaluator: Evaluator,
    images,
    real_test,
    real_train=None,
    memorisation: bool = True,
    labels: np.ndarray | None = None,
) -> dict:
    """Every figure for ``images`` against the real test digits ``real_test``.

    ``real_train`` (the generator's training digits) is needed for the
    memorisation check; without it, or with ``memorisation=False``, that
    figure is left out. ``labels``: the digit each image was asked to be
    (a conditional generator): adds `requested_accuracy`.
    """
    images, real_test = to_float(images), to_float(real_test)
    feats, probs = evaluator.features_and_probs(images)
    real_feats, real_probs = evaluator.features_and_probs(real_test)
    out = {
        "n": len(images),
        "fid": frechet_distance(feats, real_feats),
        "mnist_score": mnist_score(probs),
        "mean_confidence": float(probs.max(axis=1).mean()),
        **class_spread(probs),
        **within_class_diversity(feats, probs.argmax(axis=1), real_feats, real_probs.argmax(axis=1), probs.shape[1]),
    }
    if labels is not None:
        out.update(requested_accuracy(probs, labels))
    if memorisation and real_train is not None:
        test_nn = nearest_distances(real_test, real_train)
        threshold = float(np.percentile(test_nn, 5))
        out["memorised_share"] = float((nearest_distances(images, real_train) < threshold).mean())
        out["memorisation_threshold"] = threshold
    return out


def real_floor(evaluator: Evaluator, x_train, x_test, n: int, seed: int = 0, memorisation: bool = True) -> dict:
    """The figures of ``n`` real training digits against ``n`` test digits."""
    rng = np.random.default_rng(seed)
    x_train = to_float(x_train)
    pick = rng.choice(len(x_train), size=min(n, len(x_train)), replace=False)
    rest = np.setdiff1d(np.arange(len(x_train)), pick)
    # Memorisation: the picked digits must not be their own nearest neighbours.
    reference = x_train[rest] if memorisation else None
    return quality(evaluator, x_train[pick], to_float(x_test)[:n], reference, memorisation=memorisation)
