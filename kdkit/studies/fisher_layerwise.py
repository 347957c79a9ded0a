"""The fisher_layerwise study (seed 003: Fisher-information-driven layerwise distillation for
LLM recommenders, WWW 2026 project summary).

A deep SASRec teacher is distilled into a shallow, narrower SASRec student on MovieLens-100k
next-item prediction (leave-last-out, full ranking) with the layerwise loss of
``distill.layerwise`` under each weighting scheme of ``distill.layer_weights``. The Fisher
weights come from the teacher's per-layer diagonal empirical Fisher (``distill.fisher``) on
validation samples of the same task; student layer l takes the teacher layer m(l)'s value.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from ..claims import Claim, direction_verdict, paired_claim
from ..data.movielens import load_ml100k
from ..data.sequences import SequenceData, to_sequences
from ..distill.fisher import layer_fisher
from ..distill.layer_weights import SCHEMES, layer_weights
from ..distill.layerwise import LayerwiseKD, layer_map
from ..params import require
from ..recsys.lm_teacher import LMRecommender, history_text, load_minilm
from ..recsys.sasrec import SASRec, next_item_loss, rank_metrics, ranking_metrics
from ..stats import paired_test, set_seed

METRIC = "NDCG@5"


TEACHERS = ("sasrec", "minilm")


def check_params(p: dict) -> None:
    bad = sorted(set(p["schemes"]) - set(SCHEMES))
    require(not bad, f"schemes: unknown {bad}; allowed: {', '.join(SCHEMES)}")
    require(p["teacher"] in TEACHERS,
            f"teacher: unknown {p['teacher']!r}; allowed: {', '.join(TEACHERS)}")
    require(p["seeds"], "seeds is empty; give at least one seed")
    require(p["gammas"] and all(g > 0 for g in p["gammas"]),
            f"gammas must be a non-empty list of positive weights, got {p['gammas']}")
    for k in ("epochs", "teacher_layers", "student_layers", "teacher_dim", "student_dim",
              "heads", "max_len", "batch_size", "fisher_samples", "lm_window", "lm_epochs",
              "workers", "threads"):
        require(p[k] >= 1, f"{k} must be at least 1, got {p[k]}")
    teacher_layers = 6 if p["teacher"] == "minilm" else p["teacher_layers"]
    require(p["student_layers"] <= teacher_layers,
            f"student_layers must not exceed the teacher's {teacher_layers} layers")
    for k in ("teacher_dim", "student_dim"):
        require(p[k] % p["heads"] == 0, f"{k} must be divisible by heads ({p['heads']})")


def load(ml100k_path=None) -> SequenceData:
    log, titles = load_ml100k(ml100k_path)
    return to_sequences(log, titles, "ml-100k")


@dataclass
class TeacherStates:
    """A frozen teacher's outputs on the training windows: per-layer states the student
    layers are matched to (None where no student layer reads that layer) and the last layer
    with its scoring function, for an optional logit term. (n_windows, T, d) at every input
    position, or (n_windows, 1, d) at the last position only when ``last_only``."""
    hidden: list
    final: torch.Tensor
    score: Callable
    last_only: bool = False

    def kd_terms(self, kd: LayerwiseKD, idx, seq, hidden, logits) -> torch.Tensor:
        """``kd``'s loss for the batch ``idx`` of windows ``seq`` given the student's outputs."""
        mask = seq[:, :-1] > 0
        if self.last_only:
            hidden, logits, mask = [h[:, -1:] for h in hidden], logits[:, -1:], mask[:, -1:]
        t_hidden = [None if x is None else x[idx] for x in self.hidden]
        t_logits = self.score(self.final[idx]) if kd.logit_weight else None
        return kd(hidden, t_hidden, mask, logits, t_logits)


def train(model: SASRec, rows: torch.Tensor, *, epochs: int, lr: float, batch_size: int,
          seed: int, kd: LayerwiseKD | None = None, states: TeacherStates | None = None,
          valid: tuple | None = None, curve_every: int = 0):
    """Adam on the next-item loss over the windows ``rows`` (+ the layerwise KD terms against
    ``states``); returns the validation ``METRIC`` curve [(epoch, value)] on ``valid`` =
    (inputs, targets) when ``curve_every``."""
    set_seed(seed)
    params = list(model.parameters()) + ([] if kd is None else list(kd.parameters()))
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    curve = []
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(rows), generator=g).split(batch_size):
            seq = rows[idx]
            loss, logits, hidden = next_item_loss(model, seq)
            if kd is not None:
                loss = loss + states.kd_terms(kd, idx, seq, hidden, logits)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if curve_every and (epoch % curve_every == 0 or epoch == epochs):
            curve.append((epoch, rank_metrics(model, *valid)[METRIC]))
    model.eval()
    return curve


def fisher_users(data: SequenceData, n_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(len(data.train), size=min(n_samples, len(data.train)), replace=False)


def sasrec_fisher(teacher: SASRec, data: SequenceData, n_samples: int, seed: int,
                  max_len: int = 50) -> np.ndarray:
    """F_l for each teacher block on ``n_samples`` validation users (last-position loss)."""
    inputs = data.inputs("valid", max_len)
    samples = [(torch.as_tensor(inputs[u][None]), int(data.valid_target[u]))
               for u in fisher_users(data, n_samples, seed)]

    def loss(model, s):
        final, _ = model(s[0])
        return F.cross_entropy(model.scores(final[:, -1]), torch.tensor([s[1]]))

    groups = {i: list(b.parameters()) for i, b in enumerate(teacher.blocks)}
    f = layer_fisher(teacher, groups, samples, loss)
    return np.array([f[i] for i in range(len(teacher.blocks))])


@torch.no_grad()
def sasrec_states(teacher: SASRec, inputs: torch.Tensor, layers, batch_size: int = 512):
    """The teacher's block outputs (only ``layers``) and final states on ``inputs``."""
    teacher.eval()
    outs = [teacher(inputs[s:s + batch_size]) for s in range(0, len(inputs), batch_size)]
    hidden = [torch.cat([o[1][i] for o in outs]) if i in layers else None
              for i in range(len(teacher.blocks))]
    return TeacherStates(hidden, torch.cat([o[0] for o in outs]), teacher.scores)


class MiniLMTeacher:
    """The pretrained LM teacher (``recsys.lm_teacher``) on this study's inputs. The LM reads
    one text per window, the titles of its last ``window`` input items, and predicts the
    window's last target; its layer states are matched to the student's at that last
    position (an LM gives one user representation per history, not one per position). The
    LM is frozen, so its states are encoded once and shared by every seed; each seed fits its
    own head."""

    def __init__(self, data: SequenceData, rows: torch.Tensor, max_len: int, window: int,
                 progress=print):
        self.lm = LMRecommender(*load_minilm(), data.n_items)
        self.data, self.window = data, window
        self.eval_inputs = {k: data.inputs(k, max_len) for k in ("valid", "test")}
        self.eval_texts = {k: [self.text(x) for x in v] for k, v in self.eval_inputs.items()}
        texts = [self.text(x) for x in rows[:, :-1].numpy()]
        if progress:
            progress(f"MiniLM teacher: encoding {len(texts) + 2 * len(data.train)} texts")
        states = self.lm.encode(texts + self.eval_texts["valid"] + self.eval_texts["test"],
                                progress=progress)
        n, u = len(texts), len(data.train)
        self.windows = states[:n]  # (n windows, L + 1, d)
        self.eval_last = {"valid": states[n:n + u, -1], "test": states[n + u:, -1]}
        self.targets = rows[:, -1]

    def text(self, items) -> str:
        return history_text(items, self.data.item_titles, self.window)

    def fit(self, *, epochs: int, lr: float, batch_size: int, seed: int) -> LMRecommender:
        return self.lm.fit_head(self.windows[:, -1], self.targets, epochs=epochs, lr=lr,
                                batch_size=batch_size, seed=seed)

    @torch.no_grad()
    def metrics(self, split: str) -> dict:
        return ranking_metrics(self.lm.scores(self.eval_last[split]), self.eval_inputs[split],
                               self.data.targets(split))

    def states(self, layers) -> TeacherStates:
        """Transformer layer i (0-based) is the LM's hidden state i + 1 (0 = embeddings)."""
        hidden = [self.windows[:, i + 1, None] if i in layers else None
                  for i in range(self.lm.n_layers)]
        return TeacherStates(hidden, self.windows[:, -1, None], self.lm.scores, last_only=True)

    def fisher(self, n_samples: int, seed: int) -> np.ndarray:
        users = fisher_users(self.data, n_samples, seed)
        samples = [(self.eval_texts["valid"][u], int(self.data.valid_target[u])) for u in users]

        def loss(model, s):
            return F.cross_entropy(model([s[0]]), torch.tensor([s[1]]))

        with self.lm.encoder_gradients():
            f = layer_fisher(self.lm, self.lm.fisher_groups(), samples, loss)
        return np.array(list(f.values()))

    def score_batch(self, batch: int = 256):
        texts = self.eval_texts["test"][:batch]
        return lambda: self.lm(texts), len(texts)


@torch.no_grad()
def latency_ms(fn, n: int, repeats: int = 3) -> float:
    """Median time per user (ms) of ``fn()``, which scores every item for ``n`` users."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) / n * 1e3)
    return float(np.median(times))


def sasrec_scoring(model: SASRec, inputs: np.ndarray, batch: int = 256):
    x = torch.as_tensor(inputs[:batch])

    def fn():
        final, _ = model(x)
        return model.scores(final[:, -1])
    return fn, len(x)


def run(data: SequenceData, p: dict, progress=print) -> dict:
    """Every seed (in ``p["workers"]`` processes for the SASRec teacher); returns a dict of
    tables: results, fishers, curves, gammas, betas, sizes, popularity."""
    seeds = p["seeds"]
    if p["teacher"] == "minilm" or p["workers"] <= 1 or len(seeds) == 1:
        lm = (MiniLMTeacher(data, torch.as_tensor(data.windows(p["max_len"])), p["max_len"],
                            p["lm_window"], progress) if p["teacher"] == "minilm" else None)
        parts = [run_seed(data, p, seed, lm, progress) for seed in seeds]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(p["workers"], len(seeds)), mp_context=ctx) as pool:
            parts = list(pool.map(run_seed, *zip(*[(data, p, seed) for seed in seeds])))
            for part in parts:
                progress(part["log"])
    tables = {k: pd.DataFrame([r for part in parts for r in part[k]])
              for k in ("results", "fishers", "curves", "gammas", "betas")}
    tables["sizes"] = pd.DataFrame(parts[0]["sizes"])
    test_in = data.inputs("test", p["max_len"])
    tables["popularity"] = pd.DataFrame(
        [{"model": "popularity", **popularity(data, test_in, data.targets("test"))}])
    return tables


def run_seed(data: SequenceData, p: dict, seed: int, lm: MiniLMTeacher | None = None,
             progress=None) -> dict:
    """One seed: the teacher and its per-layer Fisher, the no-KD student, γ chosen on
    validation among ``gammas`` (uniform weights; that student is kept as "uniform"), one
    student per scheme at that γ; on the first seed also the β sweep and size / latency."""
    torch.set_num_threads(p["threads"])
    rows = torch.as_tensor(data.windows(p["max_len"]))
    L_S = p["student_layers"]
    valid = (data.inputs("valid", p["max_len"]), data.targets("valid"))
    test_in, test_t = data.inputs("test", p["max_len"]), data.targets("test")
    common = dict(epochs=p["epochs"], lr=p["lr"], batch_size=p["batch_size"])
    L_T = lm.lm.n_layers if lm else p["teacher_layers"]
    T_dim = lm.lm.dim if lm else p["teacher_dim"]
    mapped = set(layer_map(L_S, L_T))
    out = {k: [] for k in ("results", "fishers", "curves", "gammas", "betas", "sizes")}

    def student():
        torch.manual_seed(seed)
        return SASRec(data.n_items, p["student_dim"], L_S, p["heads"], p["max_len"],
                      p["dropout"])

    def fit(kd=None, states=None):
        s = student()
        curve = train(s, rows, seed=seed, kd=kd, states=states, valid=valid,
                      curve_every=p["curve_every"], **common)
        return s, curve

    def distil(weights, gamma, states):
        return fit(LayerwiseKD(p["student_dim"], T_dim, weights, L_T, gamma=gamma,
                               logit_weight=p["logit_weight"]), states)

    def record(name, metrics, curve=()):
        out["results"].append({"seed": seed, "model": name, **metrics})
        out["curves"].extend({"seed": seed, "model": name, "epoch": e, METRIC: v}
                             for e, v in curve)

    if lm:
        teacher = lm.fit(epochs=p["lm_epochs"], lr=p["lr"], batch_size=p["batch_size"],
                         seed=seed)
        record("teacher", lm.metrics("test"))
        F_T = lm.fisher(p["fisher_samples"], seed)
        states = lm.states(mapped)
    else:
        torch.manual_seed(seed)
        teacher = SASRec(data.n_items, T_dim, L_T, p["heads"], p["max_len"], p["dropout"])
        curve = train(teacher, rows, seed=seed, valid=valid, curve_every=p["curve_every"],
                      **common)
        record("teacher", rank_metrics(teacher, test_in, test_t), curve)
        F_T = sasrec_fisher(teacher, data, p["fisher_samples"], seed, p["max_len"])
        states = sasrec_states(teacher, rows[:, :-1], mapped)
    out["fishers"].append({"seed": seed, **{f"layer {i + 1}": v for i, v in enumerate(F_T)}})
    F_S = F_T[layer_map(L_S, L_T)]
    record("student (no KD)", *_test(fit(), test_in, test_t))
    best = None
    for gamma in p["gammas"]:
        s, curve = distil(layer_weights("uniform", L_S), gamma, states)
        v = rank_metrics(s, *valid)[METRIC]
        out["gammas"].append({"seed": seed, "gamma": gamma, f"validation {METRIC}": v})
        if best is None or v > best[0]:
            best = (v, gamma, s, curve)
    _, gamma, s, curve = best
    for scheme in p["schemes"]:
        if scheme != "uniform":
            s, curve = distil(layer_weights(scheme, L_S, fisher=F_S, beta=p["beta"]), gamma,
                              states)
        record(scheme, *_test((s, curve), test_in, test_t))
    if seed == p["seeds"][0]:
        for beta in p["betas"]:
            w = layer_weights("fisher_semantic", L_S, fisher=F_S, beta=beta)
            s, _ = distil(w, gamma, states)
            out["betas"].append({"beta": beta, "weights": np.round(w, 3).tolist(),
                                 **rank_metrics(s, *valid)})
        fn_t, n_t = lm.score_batch() if lm else sasrec_scoring(teacher, test_in)
        fn_s, n_s = sasrec_scoring(s, test_in)
        out["sizes"] = [{"model": name, "parameters": sum(x.numel() for x in m.parameters()),
                         "ms per user": latency_ms(fn, n)}
                        for name, m, fn, n in (("teacher", teacher, fn_t, n_t),
                                               ("student", s, fn_s, n_s))]
    out["log"] = f"seed {seed} (gamma {gamma}): " + ", ".join(
        f"{r['model']} {r[METRIC]:.4f}" for r in out["results"])
    if progress:
        progress(out["log"])
    return out


def _test(fitted, inputs, targets):
    model, curve = fitted
    return rank_metrics(model, inputs, targets), curve


def popularity(data: SequenceData, inputs: np.ndarray, targets: np.ndarray) -> dict:
    """The most-popular-item baseline (training counts) under the same protocol."""
    counts = np.bincount(np.concatenate([np.asarray(s, dtype=np.int64) for s in data.train]),
                         minlength=data.n_items + 1).astype(np.float32)
    scores = torch.as_tensor(np.tile(counts, (len(inputs), 1)))
    return ranking_metrics(scores, inputs, targets)


def _paired(res, a, b, text, seed_value="", note=""):
    piv = res.pivot_table(index="seed", columns="model", values=METRIC)
    if a not in piv or b not in piv:
        return None
    return paired_claim(piv[a], piv[b], ">", text, seed_value, note, relative=True)


def claims(res: pd.DataFrame, fishers: pd.DataFrame, sizes: pd.DataFrame,
           teacher: str = "sasrec") -> list[Claim]:
    out = [
        _paired(res, "fisher", "uniform",
                "Fisher-weighted layerwise KD beats uniform weights (NDCG@5 +8 %)",
                "0.779 vs 0.721 (hard-coded in the seed's code)"),
        _paired(res, "seed_heuristic", "uniform",
                "The seed's default 'Fisher' weights (a depth formula) beat uniform",
                "0.779 vs 0.721"),
        _paired(res, "fisher_semantic", "fisher",
                "The semantic boost (1 + β·depth) adds to Fisher weights"),
        _paired(res, "uniform", "student (no KD)",
                "Layerwise KD (uniform weights) improves the student"),
    ]
    layers = [c for c in fishers.columns if c.startswith("layer")]
    F = fishers[layers].to_numpy()
    half = len(layers) // 2
    ratio = np.log(F[:, half:].sum(1) / F[:, :half].sum(1))
    upper = f"Upper layers matter more ({teacher} teacher Fisher, upper half vs lower half)"
    if len(ratio) == 1:
        out.append(Claim(upper,
                         "upper layers weighted up to 50x", float(np.exp(ratio[0])), None, None,
                         "inconclusive", "one seed: ratio of summed Fisher shown, no test"))
    else:
        c = paired_test(ratio, np.zeros_like(ratio))
        out.append(Claim(upper, "upper layers weighted up to 50x", float(np.exp(c.mean_diff)),
                         float(np.exp(c.ci_low)), float(np.exp(c.ci_high)),
                         direction_verdict(c.mean_diff, c.p_value, ">"),
                         f"ratio of summed Fisher, geometric mean over {c.n} seeds, "
                         f"p = {c.p_value:.3g}"))
    t, s = sizes.set_index("model").loc["teacher"], sizes.set_index("model").loc["student"]
    out.append(Claim("3.2x faster inference", "3.2 (hard-coded when the method name contains "
                     "'fisher')", float(t["ms per user"] / s["ms per user"]), None, None,
                     "not testable", "measured speed-up of our student over our teacher; it "
                     "depends on the chosen sizes, not on the weighting"))
    out.append(Claim("90 % smaller model", "90 %", float(1 - s["parameters"] / t["parameters"]),
                     None, None, "not testable",
                     "measured size reduction of our student; set by the chosen sizes"))
    return [c for c in out if c is not None]


def metrics_tree(res: pd.DataFrame, fishers: pd.DataFrame, betas: pd.DataFrame,
                 gammas: pd.DataFrame, popular: pd.DataFrame, *, seeds, teacher: str) -> dict:
    means = res.groupby("model", sort=False)[["NDCG@5", "NDCG@10", "Recall@10", "MRR"]].mean()
    chosen = gammas.loc[gammas.groupby("seed")[f"validation {METRIC}"].idxmax()]
    return {"headline": {f"{m} NDCG@5": float(v) for m, v in means["NDCG@5"].items()},
            "teacher": teacher, "seeds": len(seeds), "results": means.to_dict(orient="index"),
            "popularity": popular.drop(columns="model").iloc[0].to_dict(),
            "gamma_chosen": {str(k): float(v) for k, v in zip(chosen["seed"], chosen["gamma"])},
            "teacher_fisher": fishers.drop(columns="seed").mean().to_dict(),
            "beta_sweep": {str(b): float(v) for b, v in zip(betas.get("beta", []),
                                                            betas.get(METRIC, []))}}
