"""Plug-in KD methods (kdkit.methods): a loss defined here runs as a topology_kd arm."""

import pytest
import torch

from kdkit import methods
from kdkit.claims import finalize
from kdkit.data.splits import split
from kdkit.data.synthetic_interactions import synthetic_interactions
from kdkit.jobs import in_process
from kdkit.recsys.bpr_mf import bpr_loss
from kdkit.studies import topology_kd as td


def score_kd(teacher, student_dim, protocol, seed):
    """BPR plus λ × the squared error between the student's and the teacher's margins."""
    def loss(model, users, pos, neg):
        pos_s, neg_s = model(users, pos, neg)
        with torch.no_grad():
            t_pos, t_neg = teacher(users, pos, neg)
        kd = ((pos_s - neg_s) - (t_pos - t_neg)).square().sum()
        return bpr_loss(pos_s, neg_s, protocol.reduction) + protocol.td_lambda * kd
    return loss


score_kd.label = "Margin MSE"
PATH = f"{__name__}:score_kd"


def test_an_import_path_resolves_to_the_factory_and_its_label():
    assert methods.get("bpr-batch", PATH) is score_kd
    assert methods.get("bpr-batch", f"{__name__}.score_kd") is score_kd
    assert methods.label("bpr-batch", PATH) == "Margin MSE"


def test_register_gives_a_short_name():
    methods.register("bpr-batch", "margin-mse-test")(score_kd)
    assert methods.get("bpr-batch", "margin-mse-test") is score_kd
    assert "margin-mse-test" in methods.registered("bpr-batch")


@pytest.mark.parametrize("name, message", [
    ("nosuch", "unknown bpr-batch method 'nosuch'; registered: .*import path"),
    ("nosuchpkg.losses:f", "module 'nosuchpkg.losses' cannot be imported"),
    (f"{__name__}:nothing", "has no 'nothing'"),
    (f"{__name__}:PATH", "is not callable"),
])
def test_bad_method_names_say_what_is_wrong(name, message):
    with pytest.raises(ValueError, match=message):
        methods.get("bpr-batch", name)


def test_an_unknown_kind_lists_the_kinds():
    with pytest.raises(ValueError, match="allowed: bpr-batch"):
        methods.get("tabular-x", "f")


def _tiny(spec, seed):
    log = synthetic_interactions(n_users=60, n_items=50, density=0.2, seed=seed)
    return split(log, "loo", name="tiny", seed=seed, shape=log.attrs["shape"])


def test_a_plugin_method_runs_as_an_arm_with_its_own_claims(monkeypatch):
    monkeypatch.setattr(td.topology_jobs, "load", _tiny)
    p = td.Protocol(epochs=4, eval_every=1, patience=1, k=10, batch_size=64, lr=0.01,
                    n_groups=2)
    results, curves, _, users = td.capacity_study(None, p, in_process(), teacher_dim=8,
                                           student_dims=[4], methods=["student", "ftd", PATH],
                                           seeds=[0, 1, 2])
    assert set(results["method"]) == {"teacher", "student", "ftd", PATH}
    assert (curves["method"] == PATH).any()
    out = {c.id: c for c in finalize(td.claims(results, "Recall@10", teacher_dim=8,
                                               citeulike=False, protocol=p))}
    mine = out[f"{PATH}>student@4"]
    assert mine.claim.startswith("Margin MSE improves the student (dim 4")
    assert f"{PATH}>ftd@4" in out and f"{PATH}>htd@4" not in out  # HTD was not run
    assert set(td.summary_table(results, "Recall@10")["method"]) >= {"Margin MSE", "FTD"}


def test_check_params_names_a_bad_method():
    with pytest.raises(ValueError, match="methods: unknown bpr-batch method 'rdd'.*built in"):
        td.check_params({"methods": ["student", "rdd"]})
