"""The topology_kd study (seed 004; Kang, Hwang, Kweon & Yu, KDD 2021): FTD and HTD.

Work in progress (issue 3): the reference protocol and the per-method training helper; the
notebook, NCF and the claims table are still to come.

Reference protocol (read from the paper's code, see shared/data/citeulike/README.md): BPR-MF
without biases, N(0, 0.01) initialisation, a *sum* of BPR losses over the batch, Adam lr 1e-3
with weight decay 1e-3, batch 1,024, one uniform negative per positive, 100 epochs, the last
epoch reported; leave-one-out full ranking, Recall@50.
"""

from __future__ import annotations

from ..distill.ftd import make_ftd
from ..distill.htd import HTD
from ..recsys.bpr_mf import BPRMF, bpr_loss
from ..recsys.metrics import evaluate
from ..recsys.train import train_bpr
from ..stats import set_seed

METHODS = ("student", "ftd", "htd")
REFERENCE = dict(lr=1e-3, batch_size=1024, weight_decay=1e-3)


def sum_bpr(model, users, pos, neg):
    return bpr_loss(*model(users, pos, neg), "sum")


def reference_mf(data, dim: int, seed: int) -> BPRMF:
    set_seed(seed)
    return BPRMF(data.n_users, data.n_items, dim, init_std=0.01, bias=False)


def loss_for(method: str, teacher, student_dim: int, *, lam: float = 1e-3, alpha: float = 0.5,
             n_groups: int = 30, seed: int = 0):
    """The training loss of ``method``: plain BPR, FTD or HTD against ``teacher``."""
    if method in ("student", "teacher"):
        return sum_bpr
    if method == "ftd":
        return make_ftd(teacher, lam=lam, reduction="sum")
    if method == "htd":
        return HTD(teacher, student_dim, n_groups=n_groups, lam=lam, alpha=alpha,
                   reduction="sum", seed=seed)
    raise ValueError(f"unknown method '{method}'; allowed: teacher, {', '.join(METHODS)}")


def train_reference(data, method: str, dim: int, *, teacher=None, epochs: int = 100,
                    eval_every: int = 10, seed: int = 0, k: int = 50, progress=None):
    """Train one model under the reference protocol; return it and its test Recall@k curve
    (epoch 0 and every ``eval_every`` epochs, as the reference logs)."""
    model = reference_mf(data, dim, seed)
    loss = loss_for(method, teacher, dim, seed=seed)
    metric = f"Recall@{k}"
    curve = [{"epoch": 0, metric: evaluate(model, data, "test", (k,))[metric]}]

    def log(row):
        if row["epoch"] % eval_every == 0 or row["epoch"] == epochs:
            curve.append({"epoch": row["epoch"],
                          metric: evaluate(model, data, "test", (k,))[metric]})
            if progress is not None:
                progress(curve[-1])

    train_bpr(model, data, epochs=epochs, seed=seed, loss_fn=loss, progress=log, **REFERENCE)
    return model, curve
