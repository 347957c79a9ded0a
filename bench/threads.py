"""How many torch threads should the torch studies use on a small machine?

    OMP_NUM_THREADS=1 .venv/bin/python bench/threads.py     (make bench runs it)

Times one training epoch of the two torch models the studies train most (the topology_kd
mini-batch BPR-MF student, dim 32, batch 2048, on MovieLens-100k; the fisher_layerwise SASRec
student, dim 32, 2 blocks, batch 256, 20 steps of history) with 1 and with every available
thread, interleaved, median of 3. Writes reports/bench/threads.csv and .md. The studies' default
(one thread per job, `workers` processes) follows from this table.
"""

from __future__ import annotations

import os

import pandas as pd
import torch
from _common import interleaved, versions, write

from kdkit.data.load import load_interactions
from kdkit.data.movielens import load_ml100k
from kdkit.data.sequences import to_sequences
from kdkit.recsys.bpr_mf import BPRMF
from kdkit.recsys.sasrec import SASRec, next_item_loss
from kdkit.recsys.train import train_bpr


def mf_epoch(data):
    def run():
        model = BPRMF(data.n_users, data.n_items, 32)
        train_bpr(model, data, epochs=1, lr=5e-3, batch_size=2048, seed=0)
    return run


def sasrec_epoch(seqs):
    inputs = torch.as_tensor(seqs.inputs("valid", 21))

    def run():
        torch.manual_seed(0)
        model = SASRec(seqs.n_items, 32, 2, 2, max_len=20, dropout=0.2)
        opt = torch.optim.Adam(model.parameters(), lr=5e-3)
        g = torch.Generator().manual_seed(0)
        for start in range(0, len(inputs), 256):
            loss, _, _ = next_item_loss(model, inputs[start:start + 256], loss="bce",
                                        generator=g)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run


def main():
    cores = os.cpu_count() or 1
    data = load_interactions("ml-100k", seed=0)
    log, titles = load_ml100k()
    seqs = to_sequences(log, titles, name="ml-100k", seed=0)
    rows = []
    for model, fn in (("BPR-MF dim 32 (topology_kd student)", mf_epoch(data)),
                      ("SASRec dim 32, 2 blocks (fisher_layerwise student)", sasrec_epoch(seqs))):
        fns = {}
        for threads in sorted({1, cores}):
            def timed(threads=threads, fn=fn):
                torch.set_num_threads(threads)
                return fn()
            fns[threads] = timed
        res = interleaved(fns)
        for threads, (med, lo, hi, _) in res.items():
            rows.append({"model": model, "threads": threads, "epoch median (s)": med,
                         "min (s)": lo, "max (s)": hi,
                         "vs 1 thread": med / res[1][0]})
    torch.set_num_threads(1)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False))
    write("threads", df, "Torch threads per job",
          [f"{cores} cores; " + versions(),
           "`vs 1 thread` > 1 means more threads are slower. With one thread per job the "
           "cores go to `workers` processes instead (kdkit/jobs.py)."])


if __name__ == "__main__":
    main()
