"""Recommender models, training loops, full-ranking metrics and latency."""
