import numpy as np
import pytest

from keras_mnist_gan.evaluation import (
    EVALUATOR_PATH,
    Evaluator,
    class_spread,
    frechet_distance,
    mnist_score,
    nearest_distances,
    quality,
    real_floor,
    within_class_diversity,
)


def test_fid_of_identical_sets_is_zero_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2000, 16))
    assert frechet_distance(a, a) < 1e-6
    shifted = frechet_distance(a, a + 1.0)
    assert abs(shifted - 16.0) < 0.5  # |mu_a - mu_b|^2 = 16 * 1^2
    assert frechet_distance(a, a * 3.0) > 10


def test_fid_survives_singular_covariances():
    rng = np.random.default_rng(0)
    collapsed = np.repeat(rng.standard_normal((1, 16)), 500, axis=0)  # zero covariance
    value = frechet_distance(collapsed, rng.standard_normal((500, 16)))
    assert np.isfinite(value) and value > 10


def test_mnist_score_bounds():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert abs(mnist_score(confident_uniform) - 10.0) < 1e-3
    one_class = np.eye(10)[np.zeros(1000, int)]
    assert abs(mnist_score(one_class) - 1.0) < 1e-3
    unsure = np.full((1000, 10), 0.1)
    assert abs(mnist_score(unsure) - 1.0) < 1e-3


def test_class_spread():
    spread = class_spread(np.eye(10)[np.arange(1000) % 10])
    assert abs(spread["class_entropy_bits"] - np.log2(10)) < 1e-9
    assert spread["rarest_class_share"] == pytest.approx(0.1)
    single = class_spread(np.eye(10)[np.full(100, 3)])
    assert single["class_entropy_bits"] == 0.0 and single["rarest_class_share"] == 0.0
    assert single["class_share"][3] == 1.0


def test_nearest_distances():
    refs = np.zeros((5, 28, 28), np.float32)
    refs[2, 0, 0] = 1.0
    q = np.zeros((2, 28, 28), np.float32)
    q[1, 0, 0] = 1.0
    q[1, 0, 1] = 1.0
    np.testing.assert_allclose(nearest_distances(q, refs), [0.0, 1.0], atol=1e-6)


@pytest.fixture(scope="module")
def evaluator():
    if not EVALUATOR_PATH.is_file():
        pytest.fail(f"the shipped evaluator {EVALUATOR_PATH} is missing")
    return Evaluator.load()


def test_shipped_evaluator_accuracy_on_shipped_test_digits(evaluator, subset):
    _, probs = evaluator.features_and_probs(subset.x_test)
    acc = float((probs.argmax(axis=1) == subset.y_test).mean())
    assert acc >= 0.99, acc


def test_quality_figures_on_known_inputs(evaluator, subset):
    real, test = subset.x_train[:1000], subset.x_test[:1000]
    floor = real_floor(evaluator, subset.x_train, subset.x_test, 1000)
    assert floor["mnist_score"] > 9.0 and floor["class_entropy_bits"] > 3.25
    assert 0.0 <= floor["memorised_share"] <= 0.2
    # Only one class: low entropy, score near 1.
    ones = subset.x_train[subset.y_train == 1][:500]
    q = quality(evaluator, ones, test, memorisation=False)
    assert q["class_entropy_bits"] < 0.3 and q["mnist_score"] < 1.5
    # Shuffled pixels are not digits: a large FID.
    rng = np.random.default_rng(0)
    flat = real.reshape(len(real), -1).copy()
    for row in flat:
        rng.shuffle(row)
    noise = quality(evaluator, flat.reshape(real.shape), test, memorisation=False)
    assert noise["fid"] > 20 * floor["fid"]
    # Copies of training digits are flagged as memorised.
    copies = quality(evaluator, real[:200], test, real_train=real)
    assert copies["memorised_share"] == 1.0


def test_within_class_diversity_names_a_class_drawn_in_one_style():
    rng = np.random.default_rng(0)
    real, classes = rng.normal(size=(600, 16)), np.repeat(np.arange(3), 200)
    same = within_class_diversity(real, classes, real, classes, 3)
    assert same["within_class_diversity"] == pytest.approx(1.0)
    alike = real.copy()
    alike[classes == 1] = alike[classes == 1][0]  # every digit of class 1 the same
    figures = within_class_diversity(alike, classes, real, classes, 3)
    assert figures["within_class_diversity_per_class"][1] == pytest.approx(0.0, abs=1e-6)
    assert figures["least_varied_class"] == 1
    assert figures["within_class_diversity"] == pytest.approx(2 / 3, abs=1e-3)
    # A class with fewer than two digits on either side has no figure.
    lone = within_class_diversity(real[:401], classes[:401], real, classes, 3)
    assert np.isnan(lone["within_class_diversity_per_class"][2])


def test_quality_reports_within_class_diversity(evaluator, subset):
    test = subset.x_test[:1000]
    floor = real_floor(evaluator, subset.x_train, subset.x_test, 1000, memorisation=False)
    assert 0.9 < floor["within_class_diversity"] < 1.1
    # One drawing per class, repeated: the classes are all there, each in one style.
    one_each = np.concatenate([np.repeat(subset.x_train[subset.y_train == c][:1], 100, axis=0) for c in range(10)])
    q = quality(evaluator, one_each, test, memorisation=False)
    assert q["class_entropy_bits"] > 3.2 and q["within_class_diversity"] < 0.05
