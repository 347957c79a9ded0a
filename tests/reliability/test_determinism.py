"""For every study: the same parameters twice give identical tables, different seeds give
different numbers (in-process, one thread; the runner-level byte-for-byte check of a whole
report is tests/test_scale.py)."""

import pandas as pd
import pytest

from kdkit.jobs import Runner


def same_and_different(run, p: dict, other_seeds: list, drop=()):
    a, b = run(p), run(p)
    c = run({**p, "seeds": other_seeds})
    for x, y in ((a, b),):
        pd.testing.assert_frame_equal(x.drop(columns=list(drop)), y.drop(columns=list(drop)))
    num = [col for col in a.columns if a[col].dtype.kind == "f" and col not in drop]
    assert not a[num].reset_index(drop=True).equals(c[num].reset_index(drop=True))


def test_bpr_kd():
    from kdkit.studies import bpr_kd
    p = dict(datasets=["synthetic"], ml100k_path=None, split="ratio", data_seed=None,
             synthetic_users=80, synthetic_items=120, synthetic_density=0.05,
             synthetic_rank=4, synthetic_signal=2.0, seeds=[0, 1],
             teacher_dim=16, student_dims=[4], methods=["kd_sigmoid", "rd"],
             controls=["shuffled"], grid={"default": {"lr": [0.05], "reg": [0.01]}},
             kd_grid={"kd_sigmoid": [{"alpha": 0.5, "temperature": 2.0}],
                      "rd": [{"alpha": 1.0}]}, rd_k=5, max_epochs=4,
             eval_every=2, patience=1, k=10)
    same_and_different(lambda q: bpr_kd.run(q, Runner(progress=False), progress=None)["results"],
                       p, [2, 3])


def test_topology_kd():
    from kdkit.studies import topology_kd as td
    spec = td.DataSpec(None, None, None)
    proto = td.Protocol(epochs=2, lr=5e-3, batch_size=4096, eval_every=1, patience=1,
                        n_groups=4)

    def run(q):
        return td.capacity_study(spec, proto, Runner(progress=False), teacher_dim=8,
                                 student_dims=[2], methods=["student", "ftd"],
                                 seeds=q["seeds"])[0]
    same_and_different(run, {"seeds": [0]}, [1])


def test_geometric_kd():
    from kdkit.studies import geometric_kd as gk
    p = dict(data_dir=None, n_subjects=5, n_trials=1, yaw_range=30.0, data_seed=None,
             train_subjects=[1, 2, 3], transfer_subjects=[4], seeds=[0],
             students=["alone", "kd", "self"], view=True, frame_stride=2, lr_grid=[1e-3],
             steps=4, eval_every=2, patience=2, batch_size=8, heads=2, layers=1, ff=16,
             dropout=0.0, temperature=3.0, k=1, device="cpu")
    same_and_different(lambda q: gk.run(q, Runner(progress=False), progress=None)["rows"], p,
                       [5], drop=["ms_per_sample"])


def test_cross_paradigm():
    from kdkit.studies.cross_paradigm import run_sound
    p = dict(datasets=["iris"], seeds=[0], teachers=["lr"], students=["lr"], methods=["soft"],
             temperature=2.0, alpha=0.5, transfer_ratio=0.5, folds=3)
    same_and_different(lambda q: run_sound(q, Runner(progress=False))[0], p, [1],
                       drop=["predict_us"])


@pytest.mark.parametrize("seeds", [[0], [1]])
def test_fisher_layerwise(monkeypatch, seeds):
    from kdkit.studies import fisher_layerwise as fl
    from tests.test_lm_teacher import _tiny_data, _tiny_params
    data = {0: _tiny_data(seed=0), 1: _tiny_data(seed=1)}
    from kdkit.studies import fisher_jobs
    for module in (fl, fisher_jobs):  # the jobs read the name in their own module
        monkeypatch.setattr(module, "data_for", lambda p, seed: data[seed % 2])
    p = _tiny_params(seeds=seeds, schemes=["uniform"], logit_weight=0.0)
    a = fl.run(p, Runner(progress=False), progress=None)["results"]
    b = fl.run(p, Runner(progress=False), progress=None)["results"]
    pd.testing.assert_frame_equal(a, b)
    other = fl.run({**p, "seeds": [s + 2 for s in seeds]}, Runner(progress=False),
                   progress=None)["results"]
    assert not a["NDCG@5"].reset_index(drop=True).equals(other["NDCG@5"].reset_index(drop=True))
