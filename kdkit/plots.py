"""Figures for every study in one style: a shared seaborn theme and one colour per method.

Importing this module applies the theme (seaborn's ``whitegrid``, a colour-blind-safe palette,
readable fonts). :func:`color` gives every method the same colour in every figure of every
study (Okabe & Ito's colour-blind-safe palette; teachers black, controls grey). Every helper
returns the figure; ``Report.figure`` saves it (PNG for pages, PDF for papers) and shows it
once. Error bars are 95 % confidence intervals over seeds unless a label says otherwise.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

# Okabe & Ito (2008), "Color universal design": distinguishable with any colour vision
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000"]
GREY = "#8C8C8C"
CI_LABEL = "mean ± 95 % CI over seeds"
ONE_RUN_LABEL = "one run: no CI"


def ci_label(summary: pd.DataFrame) -> str:
    """What the error bars of a :func:`kdkit.stats.summarize` table are: a CI over seeds, or
    nothing where every point is a single run (its ``n`` column is 1)."""
    if "n" in summary and len(summary) and int(summary["n"].max()) <= 1:
        return ONE_RUN_LABEL
    return CI_LABEL

# canonical colours: the same method is the same colour in every study
_FIXED = {
    "teacher": "#000000", "student": "#0072B2", "student alone": "#0072B2",
    "student (no kd)": "#0072B2", "ce": "#0072B2", "baseline": "#0072B2",
    "kd": "#E69F00", "kd_margin": "#E69F00", "kd_sigmoid": "#D55E00", "rd": "#009E73",
    "kd, margin reading": "#E69F00", "kd, sigmoid reading": "#D55E00",
    "ranking distillation": "#009E73",
    "ftd": "#E69F00", "htd": "#009E73", "uniform": "#56B4E9", "fisher": "#D55E00",
    "fisher_semantic": "#CC79A7", "linear": "#009E73", "exponential": "#E69F00",
    "seed_heuristic": "#F0E442", "source_heuristic": "#F0E442", "hard": "#56B4E9",
    "soft": "#E69F00", "soft+transfer": "#009E73", "stacking": "#CC79A7",
}
_assigned: dict[str, str] = {}
# Plug-in methods and other unnamed arms: colours that no built-in arm uses (the fixed ones
# above take all of Okabe & Ito's seven), from Paul Tol's "muted" and "dark" schemes
# (https://personal.sron.nl/~pault/), the ones far from every fixed colour. Ten plug-ins in
# one figure would start over.
EXTRA = ["#882255", "#332288", "#999933", "#AA4499", "#117733", "#661100", "#6699CC",
         "#DDAA33", "#BB5566", "#004488"]


def theme() -> None:
    """Apply kdkit's figure style (done once on import)."""
    sns.set_theme(style="whitegrid", context="notebook", palette=OKABE_ITO, font_scale=0.9)
    mpl.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "axes.titleweight": "bold",
                         "axes.titlesize": 11, "legend.frameon": False,
                         "svg.hashsalt": "kdkit", "pdf.fonttype": 42})


theme()


def _key(label: str) -> str:
    return str(label).strip().lower()


def color(label: str) -> str:
    """The colour of a method, the same in every figure: fixed for the methods every study
    shares, grey for controls, black for teachers, else the next colour of :data:`EXTRA` that
    no other arm has (stable per label within a process; never a built-in arm's colour)."""
    k = _key(label)
    if k in _FIXED:
        return _FIXED[k]
    if "control" in k or "shuffled" in k or "untrained" in k or "born-again" in k:
        return GREY
    prefixes = [n for n in _FIXED if k.startswith(n + " ") or k.startswith(n + ",")]
    if prefixes:
        return _FIXED[max(prefixes, key=len)]
    if k.startswith("teacher"):
        return "#000000"
    if k not in _assigned:
        used = set(_assigned.values())
        free = [c for c in EXTRA if c not in used] or EXTRA
        _assigned[k] = free[0] if free is not EXTRA else EXTRA[len(_assigned) % len(EXTRA)]
    return _assigned[k]


def data_label(dataset) -> str:
    """A data set as a figure names it: the claims' short name (a file or folder by its stem,
    never a path; :func:`kdkit.claims.dataset_name`)."""
    from .claims import dataset_name

    return dataset_name(dataset)


def palette(labels) -> dict:
    return {lab: color(lab) for lab in labels}


def text_color(rgba) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba`` (WCAG relative
    luminance, threshold 0.4)."""
    r, g, b = (((c / 12.92) if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
               for c in rgba[:3])
    return "black" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.4 else "white"


def shared_limits(tables, center: float | None = 0.0, *,
                  robust: bool = True) -> tuple[float, float]:
    """One colour range for heatmaps that are compared side by side. ``robust``: when one cell
    lies more than 3× as far from ``center`` as any other, the range stops at 1.25× the next
    one (the outlier takes the end colour; its number is still written in the cell), so that
    one cell does not wash out every other (:mod:`kdkit.figure_check`)."""
    vals = np.concatenate([np.asarray(t, dtype=float).ravel() for t in tables])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return (-1.0, 1.0)
    if center is None:
        return float(vals.min()), float(vals.max())
    dist = np.sort(np.abs(vals - center))[::-1]
    lim = float(dist[0]) or 1.0
    if robust and len(dist) > 3 and dist[1] > 0 and dist[0] > 3 * dist[1]:
        lim = 1.25 * float(dist[1])
    return center - lim, center + lim


def heatmap(table: pd.DataFrame, *, title: str = "", cbar: str = "", fmt: str = "{:+.3f}",
            cmap: str = "RdBu", center: float | None = 0.0, limits=None, ax=None,
            colorbar: bool = True):
    """Annotated heatmap of a 2-D table, centred on ``center`` (blue above, red below for
    ``RdBu``); ``limits`` = (vmin, vmax) shares one scale across panels; each number is
    written in black or white by the cell's luminance. Missing cells are left blank."""
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 0.9 * table.shape[1], 1.2 + 0.55 * table.shape[0]))
    vals = table.to_numpy(dtype=float)
    vmin, vmax = limits if limits is not None else shared_limits([vals], center)
    im = ax.imshow(np.ma.masked_invalid(vals), cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(i) for i in table.index])
    ax.set_xlabel(table.columns.name or "")
    ax.set_ylabel(table.index.name or "")
    ax.grid(False)
    for (r, c), v in np.ndenumerate(vals):
        if np.isfinite(v):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8,
                    color=text_color(im.cmap(im.norm(v))))
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label=cbar, fraction=0.046, pad=0.04)
    ax.set_title(title)
    return ax.figure


def heatmaps(tables: dict, *, cbar: str, title: str = "", fmt: str = "{:+.3f}",
             cmap: str = "RdBu", center: float | None = 0.0, ncols: int = 3):
    """Heatmaps compared side by side: one shared colour scale and one colour bar."""
    n = len(tables)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    first = next(iter(tables.values()))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, constrained_layout=True,
                             figsize=(ncols * (1.4 + 0.8 * first.shape[1]) + 1.2,
                                      nrows * (1.3 + 0.5 * first.shape[0])))
    limits = shared_limits(tables.values(), center)
    for ax, (name, t) in zip(axes.flat, tables.items()):
        heatmap(t, title=str(name), fmt=fmt, cmap=cmap, center=center, limits=limits, ax=ax,
                colorbar=False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    sm = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(*limits), cmap=cmap)
    fig.colorbar(sm, ax=axes.ravel().tolist(), label=cbar, shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def errorbars(summary: pd.DataFrame, *, x: str, y: str, group: str, ax=None, xlog=False,
              title: str = "", xlabel: str = "", ylabel: str = "", styles: dict | None = None,
              colors: dict | None = None, legend: str = "best", markers: dict | None = None):
    """``y`` with its ``y_lo``/``y_hi`` CI against ``x``, one series per ``group`` value, each
    in its method's colour (``colors`` overrides, ``styles`` sets line styles, ``markers`` the
    marker, "o" by default: two series of one colour need a marker apart, since a short dashed
    legend line reads as solid); the x ticks are the values of ``x``; ``legend="below"`` puts
    the legend under the axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for i, (name, g) in enumerate(summary.groupby(group, sort=False)):
        g = g.sort_values(x)
        err = np.vstack([g[y] - g[f"{y}_lo"], g[f"{y}_hi"] - g[y]])
        offset = 1 + 0.015 * (i - 2) if xlog else 0  # keep overlapping CIs apart
        xs = g[x] * offset if xlog else g[x]
        ax.errorbar(xs, g[y], yerr=err, marker=(markers or {}).get(name, "o"), capsize=3,
                    label=str(name),
                    color=(colors or {}).get(name, color(name)),
                    ls=(styles or {}).get(name, "-"))
    if xlog:
        ax.set_xscale("log")
        ticks = sorted(summary[x].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(f"{ylabel or y}\n({ci_label(summary)})")
    ax.set_title(title)
    if legend == "below":
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
                  handlelength=3)
    elif legend:
        ax.legend(fontsize=8, loc=legend)
    return ax.figure


def dots_ci(summary: pd.DataFrame, *, label: str, value: str, ax=None, title: str = "",
            xlabel: str = "", reference: float | None = None, reference_label: str = ""):
    """One dot per ``label`` with its ``value_lo``/``value_hi`` CI, on an axis that starts
    where the data does (bars from zero would hide the differences)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(summary)))
    s = summary.reset_index(drop=True)
    ypos = np.arange(len(s))[::-1]
    for yv, (_, row) in zip(ypos, s.iterrows()):
        c = color(row[label])
        ax.errorbar(row[value], yv, xerr=[[row[value] - row[f"{value}_lo"]],
                                          [row[f"{value}_hi"] - row[value]]],
                    fmt="o", color=c, capsize=3)
    ax.set_yticks(ypos, s[label].astype(str))
    if reference is not None:
        ax.axvline(reference, color=GREY, ls="--", lw=1, label=reference_label or None)
        if reference_label:
            ax.legend(fontsize=8, loc="best")
    ax.set_xlabel(f"{xlabel or value} ({ci_label(summary)})")
    ax.set_title(title)
    ax.margins(x=0.15)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(5))  # no crowded ticks on narrow panels
    return ax.figure


def sweep_figure(df: pd.DataFrame, swept: list[str], metrics: list[str]):
    """Each metric of a sweep against the first swept parameter, one line per combination of
    the others, with its CI where the metric has one."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    x, rest = swept[0], swept[1:]
    ok = df[df["status"] == "ok"]
    for ax, m in zip(axes[0], metrics):
        groups = ok.groupby(rest, sort=False) if rest else [("all", ok)]
        for key, g in groups:
            g = g.sort_values(x)
            label = ", ".join(f"{k} = {v}" for k, v in zip(rest, np.atleast_1d(key))) or m
            if f"{m} ci_low" in g:
                err = np.vstack([g[m] - g[f"{m} ci_low"], g[f"{m} ci_high"] - g[m]])
                ax.errorbar(g[x].astype(str), g[m], yerr=err, marker="o", capsize=3,
                            label=label)
            else:
                ax.plot(g[x].astype(str), g[m], marker="o", label=label)
        ax.set_xlabel(x)
        ax.set_ylabel(m.split(".")[-1])
        ax.set_title(m, fontsize=9)
        ax.legend(fontsize=8)
    return fig
