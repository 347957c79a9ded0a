"""The transformer student of geometric_kd: what the seed's model ignores, and the fix."""

import numpy as np
import pytest
import torch

from kdkit.geometry.student import MotionTransformer, fit_student, pad, predict


def _model(faithful):
    torch.manual_seed(0)
    m = MotionTransformer(6, 3, nhead=2, layers=1, ff=16, dropout=0.0, faithful=faithful)
    return m.eval()


def _outputs(faithful, x, y, lengths):
    with torch.no_grad():
        m = _model(faithful)
        return m(x, lengths), m(y, lengths)


def test_seed_model_ignores_frame_order_and_fixed_model_does_not():
    x = torch.randn(1, 7, 6)
    perm = x[:, torch.randperm(7)]
    L = torch.tensor([7])
    assert torch.allclose(*_outputs(True, x, perm, L), atol=1e-5)
    assert not torch.allclose(*_outputs(False, x, perm, L), atol=1e-4)


def test_fixed_model_ignores_padding_and_seed_model_does_not():
    x = torch.randn(1, 5, 6)
    padded = torch.cat([x, torch.zeros(1, 4, 6)], dim=1)
    L = torch.tensor([5])
    assert torch.allclose(*_outputs(False, x, padded, L), atol=1e-5)
    assert not torch.allclose(*_outputs(True, x, padded, L), atol=1e-4)


def test_pad_centres_on_the_hip_and_keeps_lengths():
    seqs = [np.ones((3, 2, 3)) * 5, np.arange(12, dtype=float).reshape(2, 2, 3)]
    X, L = pad(seqs)
    assert X.shape == (2, 3, 6) and L.tolist() == [3, 2]
    np.testing.assert_allclose(X[0], 0.0)
    assert (X[1, 2] == 0).all()  # padding


def test_fit_student_learns_a_separable_toy_and_is_seeded():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 12)
    X = rng.normal(size=(24, 6, 6)).astype(np.float32) * 0.1
    X[y == 1, :, 0] += 1.0
    L = np.full(24, 6)
    kw = dict(n_classes=2, epochs=15, lr=3e-3, seed=1,
              arch={"nhead": 2, "layers": 1, "ff": 16, "dropout": 0.0})
    a = fit_student(X, L, y, **kw)
    b = fit_student(X, L, y, **kw)
    pa, _ = predict(a, X, L)
    assert (pa == y).mean() > 0.9
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="loss must be"):
        fit_student(X, L, y, n_classes=2, loss="mse")


def test_fixed_model_embeds_its_input_before_the_positions():
    m = MotionTransformer(60, 5, nhead=6, layers=1, ff=32, dropout=0.0, faithful=False)
    assert isinstance(m.embed, torch.nn.Linear)
    assert (m.embed.in_features, m.embed.out_features) == (60, 60)
    assert MotionTransformer(60, 5, nhead=6, layers=1, ff=32, faithful=True).embed is None
    out = m(torch.randn(3, 7, 60), torch.tensor([7, 5, 2]))
    assert out.shape == (3, 5)


def test_augmentation_leaves_labels_lengths_and_padding_alone():
    from kdkit.geometry.student import random_yaw
    seqs = [np.random.default_rng(i).normal(size=(n, 20, 3)) for i, n in enumerate((6, 4))]
    X, L = pad(seqs)
    x = torch.as_tensor(X)
    out = random_yaw(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and L.tolist() == [6, 4]
    assert (out[1, 4:] == 0).all()  # padding stays zero
    pts, aug = x.reshape(2, 6, 20, 3), out.reshape(2, 6, 20, 3)
    # a rotation about y and a common scale: heights scale, horizontal distances scale alike
    ratio = aug[..., 1].norm() / pts[..., 1].norm()
    horiz = aug[0, :, :, [0, 2]].norm(dim=-1) / pts[0, :, :, [0, 2]].norm(dim=-1)
    assert torch.allclose(horiz, horiz.flatten()[0].expand_as(horiz), atol=1e-5)
    assert 0.79 < float(ratio) < 1.26


def _toy(seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], 12)
    X = rng.normal(size=(24, 6, 6)).astype(np.float32) * 0.1
    X[y == 1, :, 0] += 1.0
    return X, np.full(24, 6), y


def test_fit_steps_keeps_the_best_validation_checkpoint_and_is_seeded():
    from kdkit.geometry.student import fit_steps

    X, L, y = _toy()
    kw = dict(n_classes=2, valid=(X, L, y), steps=40, eval_every=5, lr=3e-3, seed=1,
              batch_size=8, arch={"nhead": 2, "layers": 1, "ff": 16, "dropout": 0.0})
    a, acc, loss, step = fit_steps(X, L, y, **kw)
    b = fit_steps(X, L, y, **kw)[0]
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    # the returned model is the checkpoint that scored ``acc`` and ``loss`` on validation
    assert (predict(a, X, L)[0] == y).mean() == pytest.approx(acc)
    with torch.no_grad():
        ce = torch.nn.functional.cross_entropy(a(torch.as_tensor(X), torch.as_tensor(L)),
                                               torch.as_tensor(y))
    assert float(ce) == pytest.approx(loss, rel=1e-5)
    assert acc > 0.9 and step % 5 == 0 and 5 <= step <= 40
    # soft targets equal to the one-hot labels are plain cross-entropy
    c = fit_steps(X, L, y, targets=np.eye(2)[y], **kw)[0]
    for p, q in zip(a.parameters(), c.parameters()):
        assert torch.equal(p, q)


def test_fit_steps_early_stopping_ends_after_patience_scores_without_gain():
    from kdkit.geometry import student

    X, L, y = _toy()
    noisy = y.copy()
    noisy[:3] = 1  # validation labels with 3 errors: its loss rises once the model is sure
    evals = []
    real = student.MotionTransformer.forward

    def counting(self, x, lengths):  # count validation passes (eval mode, all 24 rows)
        if not self.training:
            evals.append(1)
        return real(self, x, lengths)

    student.MotionTransformer.forward = counting
    try:
        _, acc, _, step = student.fit_steps(
            X, L, y, n_classes=2, valid=(X, L, noisy), steps=200, eval_every=5, patience=2,
            lr=3e-3, seed=1, batch_size=8,
            arch={"nhead": 2, "layers": 1, "ff": 16, "dropout": 0.0})
    finally:
        student.MotionTransformer.forward = real
    # scores at 5, 10, ...: the last one comes 2 scores after the best validation loss
    assert acc == pytest.approx(21 / 24) and step < 190
    assert len(evals) == step // 5 + 2
    with pytest.raises(ValueError, match="loss must be"):
        student.fit_steps(X, L, y, n_classes=2, valid=(X, L, y), loss="mse")


def test_view_normalisation_removes_facing_scale_and_position():
    from kdkit.data.skeleton import J, _rot, synthetic_skeletons
    from kdkit.data.view_normalisation import view_normalise

    seq = synthetic_skeletons(1, 1, yaw_range=0, seed=4).sequences[0]
    turned = 1.7 * seq @ _rot("y", np.array(2.3)).T + np.array([0.4, -1.0, 3.0])
    a, b = view_normalise(seq), view_normalise(turned)
    np.testing.assert_allclose(a, b, atol=1e-9)
    # the mean hip vector lies on +x, the mean hip centre at 0, the torso length is 1
    h = (a[:, J["hip_left"]] - a[:, J["hip_right"]]).mean(axis=0)
    assert h[0] > 0 and abs(h[2]) < 1e-9
    np.testing.assert_allclose(a[:, J["hip_center"]].mean(axis=0), 0, atol=1e-9)
    torso = np.linalg.norm(a[:, J["shoulder_center"]] - a[:, J["hip_center"]], axis=1).mean()
    assert torso == pytest.approx(1.0)
    # and pad(view=True) feeds exactly that to the student
    X, _ = pad([turned], view=True)
    np.testing.assert_allclose(X[0], a.reshape(len(a), -1), atol=1e-5)


def test_pad_stride_keeps_every_other_frame_after_centring():
    seq = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    X, L = pad([seq], stride=2)
    assert L.tolist() == [3]
    centred = seq - seq[:, 0].mean(axis=0)  # centred on all five frames, then strided
    np.testing.assert_allclose(X[0], centred[::2].reshape(3, -1))
    with pytest.raises(ValueError, match="stride"):
        pad([seq], stride=0)
