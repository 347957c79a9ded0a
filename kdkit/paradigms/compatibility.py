"""The compatibility score of seed 000, computed (its code used a lookup table):

    C(teacher, student) = α · S_struct + β · S_repr + γ · S_opt,   α, β, γ = 0.4, 0.4, 0.2

* S_struct: Jaccard similarity |A ∩ B| / |A ∪ B| of the declared architectural traits;
* S_repr: linear CKA (Kornblith et al., 2019) between the two models' representations on the
  same inputs, CKA(K, L) = ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F) for Gram matrices K, L and the
  centring matrix H;
* S_opt: exp(−KL(p_T ‖ p_S)), the mean KL between their predictive distributions turned into a
  similarity in (0, 1].

S_repr and S_opt use the student trained *without* the teacher, so C is known before
distilling, as a predictor of transfer gain must be.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline

from .feature_distill import mlp_hidden
from .soft_mlp import SoftTargetMLP
from .soft_weighting import SoftLabelWeighting

WEIGHTS = (0.4, 0.4, 0.2)


def jaccard(a: frozenset | set, b: frozenset | set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _centre(K: np.ndarray) -> np.ndarray:
    return K - K.mean(axis=0, keepdims=True) - K.mean(axis=1, keepdims=True) + K.mean()


def linear_cka(K: np.ndarray, L: np.ndarray) -> float:
    """CKA between two Gram matrices over the same n inputs (features: K = X Xᵀ)."""
    Kc, Lc = _centre(K), _centre(L)
    den = np.linalg.norm(Kc) * np.linalg.norm(Lc)
    return float((Kc * Lc).sum() / den) if den > 0 else 0.0


def gram(model, X) -> np.ndarray:
    """The Gram matrix of a model's representation of X: the last hidden layer of a neural
    model; for a random forest, the number of trees in which two inputs share a leaf; the
    decision function of other single models; the probabilities of a voting ensemble."""
    if isinstance(model, SoftLabelWeighting):
        return gram(model.estimator_, X)
    last = model[-1] if isinstance(model, Pipeline) else model
    if isinstance(model, SoftTargetMLP):
        F = model.hidden(X)
    elif isinstance(last, MLPClassifier):
        F = mlp_hidden(model, X)
    elif isinstance(last, RandomForestClassifier):
        leaves = model.apply(X)
        return sum((leaves[:, t, None] == leaves[None, :, t]).astype(float)
                   for t in range(leaves.shape[1]))
    elif isinstance(last, VotingClassifier) or not hasattr(model, "decision_function"):
        F = model.predict_proba(X)
    else:
        F = model.decision_function(X)
    F = np.asarray(F, dtype=float).reshape(len(X), -1)
    return F @ F.T


def kl_similarity(p_teacher: np.ndarray, p_student: np.ndarray) -> float:
    """exp(−mean_x KL(p_T(x) ‖ p_S(x)))."""
    p = np.clip(p_teacher, 1e-12, 1)
    q = np.clip(p_student, 1e-12, 1)
    return float(np.exp(-(p * (np.log(p) - np.log(q))).sum(axis=1).mean()))


def compatibility(traits_t, traits_s, gram_t, gram_s, p_t, p_s, weights=WEIGHTS) -> dict:
    """All three terms and C."""
    s = {"S_struct": jaccard(traits_t, traits_s), "S_repr": linear_cka(gram_t, gram_s),
         "S_opt": kl_similarity(p_t, p_s)}
    s["C"] = weights[0] * s["S_struct"] + weights[1] * s["S_repr"] + weights[2] * s["S_opt"]
    return s
