"""Procrustes-DTW geometry for skeleton motion (seed 002, geometric_kd): ``procrustes``
(frame-to-frame alignment cost), ``dtw`` (dynamic time warping over a cost matrix) and
``distance`` (sequence × sequence distance matrices, vectorised)."""
