"""Knowledge distillation between model families (seed 000, cross_paradigm).

One module per algorithm: ``soft_mlp`` and ``soft_weighting`` (students trained on soft
targets), ``temperature`` (static and dynamic), ``transfer_set``, ``multi_teacher``,
``curriculum``, ``feature_distill``, ``federated``, ``stream``, ``compatibility``; ``families``
is the registry of teacher and student models; ``faithful`` replays the seed's own procedures.
"""
