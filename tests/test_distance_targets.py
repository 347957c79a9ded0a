"""Soft targets from a distance teacher (seed 002) and the KD loss, on hand-worked cases."""

import numpy as np
import pytest
import torch

from kdkit.distill.distance_targets import (
    choose_temperature,
    class_distances,
    class_soft_targets,
    kd_loss,
    knn_predict,
    seed_soft_targets,
)

D = np.array([[0.0, 1.0, 4.0], [1.0, 0.0, 2.0], [4.0, 2.0, 0.0]])
y = np.array([0, 0, 1])


def test_seed_soft_targets_by_hand():
    # d̃ = D / 4; row 0 at T = 1: weights e^0, e^-0.25, e^-1 -> class 0 gets the first two
    p = seed_soft_targets(D, y, 1.0)
    w = np.exp([0.0, -0.25, -1.0])
    np.testing.assert_allclose(p[0], [(w[0] + w[1]) / w.sum(), w[2] / w.sum()])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_seed_targets_are_near_uniform_at_t3_and_leak_the_label_at_small_t():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    Dm = np.linalg.norm(X[:, None] - X[None], axis=-1)
    labels = rng.integers(0, 6, size=60)
    soft = seed_soft_targets(Dm, labels, 3.0, 6)
    assert soft.max(axis=1).mean() < 1 / 6 + 0.08  # labels are random: nothing to learn
    sharp = seed_soft_targets(Dm, labels, 0.001, 6)
    assert sharp[np.arange(60), labels].mean() > 0.99  # self-distance 0 leaks the label
    loo = class_soft_targets(Dm, labels, 0.001, 6, exclude_self=True)
    assert loo[np.arange(60), labels].mean() < 0.5


def test_class_distances_and_targets_by_hand():
    np.testing.assert_allclose(class_distances(D, y, 2, exclude_self=True),
                               [[1.0, 4.0], [1.0, 2.0], [2.0, np.inf]])
    p = class_soft_targets(D, y, 1.0, 2, exclude_self=True, scale=1.0)
    np.testing.assert_allclose(p[0], [1 / (1 + np.exp(-3)), np.exp(-3) / (1 + np.exp(-3))])
    np.testing.assert_allclose(p[2], [1.0, 0.0])  # class 1 has no other member


def test_choose_temperature_prefers_sharp_targets_for_separable_classes():
    X = np.concatenate([np.zeros((5, 1)), 10 + np.zeros((5, 1))]) + np.arange(10)[:, None] * 0.01
    Dm = np.abs(X - X.T)
    t, losses = choose_temperature(Dm, np.repeat([0, 1], 5), 2)
    assert t == min(losses) and losses[t] < 1e-3


def test_knn_ties_go_to_the_smallest_label():
    Dm = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 3.0], [1.0, 3.0, 0.0]])
    assert knn_predict(Dm, np.array([2, 1, 0]), 2, exclude_self=True)[0] == 0
    assert knn_predict(Dm, np.array([2, 1, 0]), 1).tolist() == [2, 1, 0]


def test_kd_loss_by_hand():
    z = torch.tensor([[3.0, 0.0]])
    teacher = torch.tensor([[0.75, 0.25]])
    # CE(z, 0) = log(1 + e^-3); at T = 3 the student is softmax([1, 0]) = [σ(1), σ(-1)]
    s = 1 / (1 + np.exp(-1.0))
    kl = 0.75 * np.log(0.75 / s) + 0.25 * np.log(0.25 / (1 - s))
    expected = 0.5 * np.log(1 + np.exp(-3.0)) + 0.5 * 9 * kl
    assert kd_loss(z, torch.tensor([0]), teacher, 3.0).item() == pytest.approx(expected, rel=1e-5)
