import os

# Small models are many times faster on one thread on a shared 2-core machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests.helpers import write_notebook  # noqa: E402

torch.set_num_threads(1)


# a toy project (notebooks/ + params/) for the run contract's failure cases


BODY = """\
import time
from kdkit.report import Report
from kdkit.claims import Claim
import pandas as pd
if marker:  # the kernel is running the notebook (a test waits for this before a SIGINT)
    open(marker, "w").close()
time.sleep(sleep)
if fail:
    raise RuntimeError("toy failure")
r = Report(report_dir, "toy", smoke=smoke)
r.table(pd.DataFrame({"a": [value]}), "t")
r.metrics({"headline": {"value": value}})
r.claims([Claim("toy claim", "1", value, None, None, "supported")])
"""
PARAMS = ("value = 1.0\nfail = False\nsleep = 0.0\nmarker = None\nsmoke = True\n"
          "report_dir = None\n")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with one toy study; kdkit finds it from the current directory."""
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    write_notebook(tmp_path / "notebooks" / "toy.ipynb", PARAMS, BODY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KDKIT_PROJECT", raising=False)
    return tmp_path
