"""Checks that catch figures which mislead or cannot be read at the size a page shows them.

Three classes of bug, each found in a kdkit report before this check existed:

* **unreadable text**: a figure saved wide is shrunk to the page's width (``PAGE_PX``), and
  its legend or tick labels with it; text whose height on the page falls under ``MIN_TEXT_PX``
  (7 px) cannot be read. Scale = min(1, PAGE_PX / saved width in pixels);
* **a colour scale set by one outlier**: when the colour limits of a heatmap (an image or mesh)
  come from a single cell whose distance from the centre is more than ``OUTLIER_RATIO`` (3) times
  the next largest, every other cell is drawn near the centre colour and the figure shows one
  cell. Clip the scale, or annotate the outlier, instead;
* **categories drawn as numbers**: a line that joins points on an axis whose tick labels are
  words (methods, arms) reads as a trend over an ordered, numeric axis. Draw markers without a
  joining line, or put the categories on a categorical axis of a bar or dot plot.

:func:`problems` returns one sentence per problem found (empty when the figure is sound);
``Report.figure`` prints them and lists them under the figure on its page.
"""

from __future__ import annotations

import numpy as np

PAGE_PX = 1068          # the width a report page gives a figure (its content column)
MIN_TEXT_PX = 7.0       # the smallest readable text height on the page
OUTLIER_RATIO = 3.0


def _is_number(s: str) -> bool:
    try:
        float(s.replace("−", "-").replace("%", "").replace(",", ""))
        return True
    except ValueError:
        return False


def _scale(fig, dpi: float) -> float:
    width_px = fig.get_figwidth() * dpi
    return min(1.0, PAGE_PX / width_px) if width_px > 0 else 1.0


def text_problems(fig, dpi: float) -> list[str]:
    """Legends and tick labels whose height on the page is under :data:`MIN_TEXT_PX`."""
    scale = _scale(fig, dpi)
    out = []
    for ax in fig.axes:
        legend = ax.get_legend()
        texts = [("legend", t) for t in (legend.get_texts() if legend else [])]
        texts += [("tick labels", t) for t in ax.get_xticklabels() + ax.get_yticklabels()
                  if t.get_text()]
        for kind, t in texts:
            px = t.get_fontsize() * dpi / 72 * scale
            if px < MIN_TEXT_PX:
                title = ax.get_title() or "an axes"
                out.append(f"{kind} of '{title}' is {px:.1f} px high on the page (saved "
                           f"{fig.get_figwidth() * dpi:.0f} px wide, shown at most {PAGE_PX} "
                           f"px; readable from {MIN_TEXT_PX:g} px)")
                break
    return sorted(set(out))


def colour_problems(fig) -> list[str]:
    """Heatmaps whose colour limits are set by one outlying cell."""
    out = []
    for ax in fig.axes:
        for im in list(ax.images) + [c for c in ax.collections if hasattr(c, "get_array")
                                     and c.get_array() is not None and hasattr(c, "norm")
                                     and type(c).__name__ == "QuadMesh"]:
            vals = np.asarray(np.ma.filled(np.ma.masked_invalid(
                np.asarray(im.get_array(), dtype=float)), np.nan), dtype=float).ravel()
            vals = vals[np.isfinite(vals)]
            if vals.size < 4:
                continue
            vmin, vmax = im.norm.vmin, im.norm.vmax
            if vmin is None or vmax is None:
                continue
            center = (vmin + vmax) / 2
            dist = np.sort(np.abs(vals - center))[::-1]
            half = (vmax - vmin) / 2
            if dist[1] > 0 and dist[0] > OUTLIER_RATIO * dist[1] \
                    and abs(half - dist[0]) <= 0.1 * dist[0]:  # the outlier sets the range
                out.append(f"the colour scale of '{ax.get_title() or 'a heatmap'}' is set by "
                           f"one cell ({dist[0]:.3g} from the centre, the next {dist[1]:.3g}): "
                           "every other cell looks alike")
    return out


def category_problems(fig) -> list[str]:
    """Lines joining points along an axis labelled with words."""
    out = []
    for ax in fig.axes:
        labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        if not labels or any(_is_number(s) for s in labels):
            continue
        joined = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 1
                  and ln.get_linestyle() not in ("None", "", " ")
                  and len(set(np.asarray(ln.get_xdata(), dtype=object).tolist())) > 1]
        if joined:
            out.append(f"'{ax.get_title() or 'an axes'}' joins points across categories "
                       f"({', '.join(labels[:3])}…) with a line, as if they were ordered "
                       "numbers")
    return out


def problems(fig, dpi: float | None = None) -> list[str]:
    """Every problem found in ``fig`` when saved at ``dpi`` (matplotlib's ``savefig.dpi``)."""
    import matplotlib as mpl

    fig.canvas.draw()  # tick labels exist only once drawn
    dpi = float(dpi or mpl.rcParams["savefig.dpi"])
    return text_problems(fig, dpi) + colour_problems(fig) + category_problems(fig)
