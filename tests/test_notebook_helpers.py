"""The notebook helpers: the explorer's table and a smoke banner shown once."""

import pytest

from kdkit import report
from kdkit.notebook import explored


def test_explored_table_has_scores_and_the_difference_from_the_student_alone():
    t = explored({"student alone, validation Recall@50": 0.36, "HTD, validation Recall@50": 0.38},
                 alone_key="student alone").data
    assert list(t.columns) == ["score", "vs the student alone"]
    assert t["vs the student alone"].tolist() == pytest.approx([0.0, 0.02])


def test_smoke_banner_is_one_output_in_a_kernel(monkeypatch, capsys):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: shown.append((a, k)))
    report._display_banner()
    assert len(shown) == 1 and capsys.readouterr().out == ""
    (bundle,), kw = shown[0]
    assert kw == {"raw": True} and set(bundle) == {"text/plain", "text/html"}
