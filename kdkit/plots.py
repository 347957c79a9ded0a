"""Small matplotlib helpers shared by the notebooks (each returns the figure)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def heatmap(table: pd.DataFrame, *, title: str = "", cbar: str = "", fmt: str = "{:+.3f}",
            cmap: str = "RdBu", center: float | None = 0.0, ax=None):
    """Annotated heatmap of a 2-D table (index = rows, columns = columns), centred on
    ``center`` with a symmetric colour range (blue above, red below for ``RdBu``)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 + 0.9 * table.shape[1], 1.0 + 0.6 * table.shape[0]))
    vals = table.to_numpy(dtype=float)
    kw = {}
    if center is not None:
        lim = float(np.nanmax(np.abs(vals - center))) or 1.0
        kw = dict(vmin=center - lim, vmax=center + lim)
    im = ax.imshow(vals, cmap=cmap, aspect="auto", **kw)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    ax.set_xlabel(table.columns.name or "")
    ax.set_ylabel(table.index.name or "")
    for (r, c), v in np.ndenumerate(vals):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8)
    ax.figure.colorbar(im, ax=ax, label=cbar)
    ax.set_title(title)
    return ax.figure


def errorbars(summary: pd.DataFrame, *, x: str, y: str, group: str, ax=None, xlog=False,
              title: str = ""):
    """``y`` with its ``y_lo``/``y_hi`` CI against ``x``, one series per ``group`` value."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for name, g in summary.groupby(group, sort=False):
        g = g.sort_values(x)
        err = np.vstack([g[y] - g[f"{y}_lo"], g[f"{y}_hi"] - g[y]])
        ax.errorbar(g[x], g[y], yerr=err, marker="o", capsize=3, label=str(name))
    if xlog:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return ax.figure


def barh_ci(summary: pd.DataFrame, *, label: str, value: str, ax=None, title: str = "",
            xlabel: str = ""):
    """Horizontal bars of ``value`` with its ``value_lo``/``value_hi`` CI, one per ``label``."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    err = np.vstack([summary[value] - summary[f"{value}_lo"],
                     summary[f"{value}_hi"] - summary[value]])
    ax.barh(summary[label], summary[value], xerr=err, capsize=3)
    ax.set_xlabel(xlabel or value)
    ax.set_title(title)
    return ax.figure
