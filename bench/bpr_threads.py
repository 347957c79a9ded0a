"""How many torch threads should BPR-MF training use on a 2-core machine?

    .venv/bin/python bench/bpr_threads.py

Trains the bpr_kd teacher (dim 64) and a student (dim 32) for a few epochs on each data set
with 1 and 2 threads and prints seconds per epoch. Not run by `make test`.
"""

import time

import torch

from kdkit.data.load import load_interactions
from kdkit.studies.bpr_kd import TrainConfig, fit_mf

CONFIGS = {"synthetic": TrainConfig(epochs=5, lr=0.01, batch_size=1024, weight_decay=1e-4),
           "ml-100k": TrainConfig(epochs=5, lr=0.01, batch_size=4096, weight_decay=1e-5)}


def main():
    print("dataset    dim threads  s/epoch")
    for name, cfg in CONFIGS.items():
        data = load_interactions(name, seed=0)
        fit_mf(data, 8, TrainConfig(1, 0.01, 1024, 0.0), 0)  # warm-up
        for dim in (64, 32):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                t0 = time.perf_counter()
                fit_mf(data, dim, cfg, seed=0)
                per_epoch = (time.perf_counter() - t0) / cfg.epochs
                print(f"{name:<10} {dim:>3} {threads:>7} {per_epoch:8.3f}")


if __name__ == "__main__":
    main()
