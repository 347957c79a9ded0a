"""Report files a notebook writes: figures, tables, metrics and the claims table.

The report contract (README, "Reports"): ``metrics.json``, ``claims.csv``, ``figures/*.png``,
``tables/*.csv`` + ``tables/*.md``; ``kdkit run`` adds ``run.json`` and the executed notebook.
A notebook opened by hand (no ``report_dir`` injected) writes to ``reports/.interactive/STUDY``,
which git ignores, so exploring never overwrites a committed report.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, fields
from pathlib import Path

from .claims import CLAIM_COLUMNS, Claim


def project_root() -> Path:
    """The checkout kdkit lives in (kdkit is installed in editable mode)."""
    return Path(__file__).resolve().parent.parent


def _clean(obj):
    """Make ``obj`` JSON-safe: numpy scalars to Python, NaN/inf refused."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        obj = obj.item()
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError("metrics must be finite numbers (no NaN or inf)")
        return round(obj, 6)
    return obj


class Report:
    """Writes one study's report files into ``report_dir``."""

    def __init__(self, report_dir: str | Path | None, study: str):
        if report_dir is None:
            report_dir = project_root() / "reports" / ".interactive" / study
        self.dir = Path(report_dir)
        self.study = study
        (self.dir / "figures").mkdir(parents=True, exist_ok=True)
        (self.dir / "tables").mkdir(parents=True, exist_ok=True)
        self._metrics: dict = {}

    def figure(self, fig, name: str):
        """Save ``fig`` as ``figures/NAME.png`` and return it (so the notebook shows it)."""
        fig.savefig(self.dir / "figures" / f"{name}.png", dpi=110, bbox_inches="tight",
                    metadata={"Software": None})
        return fig

    def table(self, df, name: str, floatfmt: str = ".4f"):
        """Save a DataFrame as ``tables/NAME.csv`` and ``tables/NAME.md``; return it."""
        df.to_csv(self.dir / "tables" / f"{name}.csv", index=False, float_format="%.6g")
        md = df.to_markdown(index=False, floatfmt=floatfmt)
        (self.dir / "tables" / f"{name}.md").write_text(md + "\n")
        return df

    def metrics(self, values: dict) -> dict:
        """Merge ``values`` into ``metrics.json`` (nested dict of finite numbers)."""
        self._metrics.update(_clean(values))
        text = json.dumps(self._metrics, indent=2, sort_keys=True)
        (self.dir / "metrics.json").write_text(text + "\n")
        return self._metrics

    def claims(self, claims: list[Claim]):
        """Write ``claims.csv`` (+ ``tables/claims.md``) and return it as a DataFrame."""
        import pandas as pd

        rows = [asdict(c) for c in claims]
        with open(self.dir / "claims.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(Claim)])
            w.writeheader()
            for r in rows:
                w.writerow({k: _fmt(v) for k, v in r.items()})
        df = pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))
        shown = df.astype(object).where(df.notna(), "")
        (self.dir / "tables" / "claims.md").write_text(
            shown.to_markdown(index=False, floatfmt=".4g") + "\n")
        return df


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def read_claims(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
