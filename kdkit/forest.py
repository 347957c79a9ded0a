"""The forest plot of a study's primary claims: each claim's effect with its 95 % CI on an
axis shared with the claims of its metric and scale, the smallest effect of interest as a band
±δ around zero, the source's claimed effect as a marker, the verdict as colour (Lewis & Clarke
2001, *Forest plots: trying to see the wood and the trees*, BMJ 322).

:func:`forest` lays the plot out as percentages of the axis width, so the page draws it with
HTML and CSS alone: it scales to any screen (no image, no JavaScript) and every number stays
text. Rows without a numeric effect (a claim not testable before any run) are listed, not drawn.
"""

from __future__ import annotations

import math

import numpy as np


def _num(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = list(np.arange(first, hi + step * 1e-6, step))
    return [0.0 if abs(t) < step * 1e-9 else float(t) for t in ticks]


def forest(claims: list[dict], family: str = "primary") -> dict | None:
    """The layout of ``family``'s claims (rows of ``claims.csv``): ``panels``, one shared axis
    per δ (claims on the same metric; a size claim's relative effect, which has no δ, gets its
    own axis rather than being drawn on an accuracy scale) and per scale (:func:`by_scale`),
    each with ``rows`` (id, claim,
    verdict, and the positions ``m``, ``lo``, ``hi``, ``band_lo``, ``band_hi``, ``src`` in
    percent of the axis, None where absent), ``ticks`` [(percent, label)] and ``zero``; and
    ``undrawn`` (claims without an effect). None when the family has no claims."""
    rows = [r for r in claims if r.get("family") == family]
    if not rows:
        return None
    groups: dict = {}
    undrawn = []
    for r in rows:
        m = _num(r.get("measured"))
        if m is None:
            undrawn.append(r)
            continue
        d = _num(r.get("delta"))
        groups.setdefault(abs(d) if d else None, []).append(
            (r, m, _num(r.get("ci_low")), _num(r.get("ci_high")), d,
             _num(r.get("source_effect"))))
    panels = []
    for d, g in groups.items():
        for i, part in enumerate(by_scale(g)):
            panel = _panel(part, d)
            if i:  # the same δ again, for claims of another size
                panel["unit"] = panel["unit"].replace("effects on one scale",
                                                      "larger effects on their own scale")
            panels.append(panel)
    return {"panels": panels, "undrawn": undrawn}


SCALE_RATIO = 4.0


def by_scale(drawn: list) -> list[list]:
    """Split one δ's claims into panels of similar scale: a claim whose extent (the largest
    |value| of its estimate, CI, source effect and δ) is under 1/:data:`SCALE_RATIO` of the
    largest in its panel starts another, so one large effect (a teacher's +0.13 lead, a
    −0.16 failure) no longer squeezes the claims the page is about into a few pixels near
    zero (kdkit issue 38). Rows keep their order within a panel."""
    def extent(item):
        _, m, lo, hi, d, src = item
        return max(abs(v) for v in (m, lo, hi, src, d, 0.0) if v is not None) or 1e-12

    panels: list[list] = []
    for item in sorted(drawn, key=extent, reverse=True):
        for panel in panels:
            if extent(item) * SCALE_RATIO >= extent(panel[0]):
                panel.append(item)
                break
        else:
            panels.append([item])
    order = {id(item): i for i, item in enumerate(drawn)}
    parts = [sorted(p, key=lambda it: order[id(it)]) for p in panels]
    return sorted(parts, key=lambda p: order[id(p[0])])


def _panel(drawn: list, delta: float | None) -> dict:
    values: list[float] = [0.0]
    for _, m, lo, hi, d, src in drawn:
        values += [v for v in (m, lo, hi, src) if v is not None]
        if d:
            values += [-abs(d), abs(d)]
    vmin, vmax = min(values), max(values)
    pad = (vmax - vmin) * 0.06 or max(abs(vmax), 1e-3)
    vmin, vmax = vmin - pad, vmax + pad

    def pos(v):
        return None if v is None else round(100 * (v - vmin) / (vmax - vmin), 2)

    out = []
    for r, m, lo, hi, d, src in drawn:
        out.append({"id": r.get("id", ""), "claim": r.get("claim", ""),
                    "verdict": r.get("verdict", ""), "m": pos(m), "lo": pos(lo),
                    "hi": pos(hi), "band_lo": pos(-abs(d)) if d else None,
                    "band_hi": pos(abs(d)) if d else None, "src": pos(src),
                    "text": _label(m, lo, hi, d, src)})
    ticks = [(pos(t), f"{t:+.3g}" if t else "0") for t in nice_ticks(vmin, vmax)]
    unit = f"effects on one scale, δ = ±{delta:.3g}" if delta else "effects without a δ"
    return {"rows": out, "ticks": ticks, "zero": pos(0.0), "unit": unit}


def _label(m, lo, hi, d, src) -> str:
    s = f"{m:+.3g}"
    if lo is not None and hi is not None:
        s += f" [{lo:+.3g}, {hi:+.3g}]"
    if d:
        s += f"; δ ±{abs(d):.3g}"
    if src is not None:
        s += f"; source {src:+.3g}"
    return s
