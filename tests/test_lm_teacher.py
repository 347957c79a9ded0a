"""The pretrained MiniLM teacher: history text, masked mean pooling, the head, Fisher groups."""

import numpy as np
import pandas as pd
import pytest
import torch

from kdkit.distill.fisher import layer_fisher
from kdkit.recsys.lm_teacher import LMRecommender, history_text, load_minilm


@pytest.fixture(scope="module")
def lm():
    tok, enc = load_minilm()
    return LMRecommender(tok, enc, n_items=5)


def test_history_text_keeps_the_last_window_oldest_first():
    titles = {1: "Toy Story", 2: "GoldenEye", 3: "Heat"}
    assert history_text([0, 0, 1, 2, 3], titles, 2) == "GoldenEye; Heat"
    assert history_text([0, 4], titles, 3) == "item 4"  # a title we do not know


def test_pooling_ignores_padding_and_layers_differ(lm):
    short = "Toy Story; Heat"
    with torch.no_grad():
        alone = lm.layer_states([short])
        batched = lm.layer_states(["a much longer history text " * 4, short])
    assert alone.shape == (1, 7, 384)  # embeddings + 6 transformer layers
    torch.testing.assert_close(batched[1], alone[0], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(alone[0, 1], alone[0, 6])
    # encode() sorts by length and restores the order
    enc = lm.encode(["a much longer history text " * 4, short], batch_size=1)
    torch.testing.assert_close(enc[1], alone[0], atol=1e-4, rtol=1e-4)


def test_fit_head_learns_a_separable_mapping_and_is_seeded(lm):
    torch.manual_seed(0)
    feats = torch.randn(40, 384)
    targets = torch.arange(40) % 5
    feats[torch.arange(40), targets] += 10.0  # feature j marks item j
    lm.fit_head(feats, targets, epochs=30, lr=0.05, batch_size=8, seed=1)
    assert (lm.scores(feats).argmax(1) == targets).all()
    w = lm.head.weight.detach().clone()
    lm.fit_head(feats, targets, epochs=30, lr=0.05, batch_size=8, seed=1)
    assert torch.equal(w, lm.head.weight)


def test_fisher_reaches_every_pretrained_layer(lm):
    groups = lm.fisher_groups()
    assert list(groups) == [f"layer {i}" for i in range(1, 7)]
    sizes = {sum(p.numel() for p in ps) for ps in groups.values()}
    assert len(sizes) == 1  # identical layers: Fisher sums are comparable
    samples = [("Toy Story; Heat", 2), ("GoldenEye", 1)]
    def loss(m, s):
        return torch.nn.functional.cross_entropy(m([s[0]]), torch.tensor([s[1]]))
    with lm.encoder_gradients():
        F = layer_fisher(lm, groups, samples, loss)
    assert all(np.isfinite(v) and v > 0 for v in F.values())
    assert not any(p.requires_grad for p in lm.encoder.parameters())  # left frozen


def _tiny_data(n_users=10, n_items=12, seed=0):
    from kdkit.data.sequences import SequenceData
    rng = np.random.default_rng(seed)
    train = [list(rng.integers(1, n_items + 1, size=int(rng.integers(4, 9))))
             for _ in range(n_users)]
    titles = {i: f"Movie number {i}" for i in range(1, n_items + 1)}
    return SequenceData(train, rng.integers(1, n_items + 1, n_users),
                        rng.integers(1, n_items + 1, n_users), n_items, titles, "tiny")


def _tiny_params(**kw):
    p = dict(teacher="sasrec", control="untrained", seeds=[0, 1], max_epochs=2, eval_every=1,
             patience=1, min_epochs=0, lr=0.01, batch_size=4, max_len=4, teacher_dim=8,
             teacher_layers=2, student_dim=4, student_layers=2, heads=2, dropout=0.0,
             student_dropouts=[0.0, 0.1], schemes=["uniform", "fisher"], beta=1.5, betas=[],
             gammas=[0.1, 1.0], logit_weight=0.5, fisher_samples=3, lm_window=2, lm_epochs=2,
             device="cpu", ml100k_path=None, data_seed=0, workers=1, threads=1)
    p.update(kw)
    return p


def use_data(monkeypatch, data) -> None:
    """Every seed of fisher_layerwise reads ``data``: in the study's module and in its jobs'."""
    from kdkit.studies import fisher_jobs
    from kdkit.studies import fisher_layerwise as fl
    for module in (fl, fisher_jobs):
        monkeypatch.setattr(module, "data_for", lambda p, seed: data)


def test_study_runs_with_the_minilm_teacher(monkeypatch):
    from kdkit.jobs import Runner
    from kdkit.studies import fisher_layerwise as fl
    data = _tiny_data()
    use_data(monkeypatch, data)
    p = _tiny_params(teacher="minilm", seeds=[0, 1], control="shuffled")
    fl.check_params(p)
    t = fl.run(p, Runner(progress=False), progress=None)
    ctrl = fl.control_name("shuffled")
    assert set(t["results"]["model"]) == {"teacher", "student (no KD)", "uniform", "fisher",
                                         ctrl, ctrl + fl.SAME_GAMMA}
    assert list(t["fishers"].columns) == ["seed"] + [f"layer {i}" for i in range(1, 7)]
    # parity on the first seed: the teacher's head dropout too
    assert t["trials"].groupby("model").size().tolist() == [2, 2, 2, 2, 2]
    assert set(t["trials"]["seed"]) == {0} and "teacher" in set(t["trials"]["model"])
    res = t["results"].set_index(["seed", "model"])
    assert res.loc[(1, "teacher"), "dropout"] == res.loc[(0, "teacher"), "dropout"]
    assert t["results"]["gate NDCG@5"].notna().all()
    sizes = t["sizes"].set_index("model")["parameters"]
    assert sizes["teacher"] > 22_000_000 > sizes["student"]


def test_sasrec_study_tunes_on_the_first_seed_and_reuses_the_choice(monkeypatch):
    from kdkit.jobs import Runner
    from kdkit.studies import fisher_layerwise as fl
    data = _tiny_data()
    use_data(monkeypatch, data)
    p = _tiny_params()
    a = fl.run(p, Runner(progress=False), progress=None)
    b = fl.run(p, Runner(progress=False), progress=None)
    pd.testing.assert_frame_equal(a["results"], b["results"])  # seeded: identical tables
    res = a["results"].set_index(["seed", "model"])
    for arm in ("uniform", "fisher", fl.control_name("untrained")):
        assert res.loc[(1, arm), "gamma"] == res.loc[(0, arm), "gamma"]
    for arm in ("teacher", "student (no KD)"):  # the same dropout grid, chosen on seed 0
        assert res.loc[(1, arm), "dropout"] == res.loc[(0, arm), "dropout"]
    assert set(a["trials"]["seed"]) == {0}
    assert a["trials"].groupby("model").size().tolist() == [2] * 5
