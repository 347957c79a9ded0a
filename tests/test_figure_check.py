"""The figure checks catch each class of bug they name, and pass sound figures."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from kdkit import plots  # noqa: E402,F401  (the theme)
from kdkit.figure_check import problems  # noqa: E402


def test_a_sound_figure_has_no_problems():
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar([4, 16, 64], [0.3, 0.4, 0.42], yerr=0.01, marker="o", label="student")
    ax.legend(fontsize=8)
    assert problems(fig, dpi=150) == []
    plt.close(fig)


def test_a_legend_shrunk_below_7px_is_caught():
    # 8 pt at 150 dpi is 16.7 px; a figure 2,777 px wide shown at 1,068 px: 6.4 px
    fig, ax = plt.subplots(figsize=(2777 / 150, 4))
    ax.plot([0, 1], [0, 1], label="FTD")
    ax.legend(fontsize=8)
    ax.set_title("learning curves")
    found = problems(fig, dpi=150)
    assert any("legend of 'learning curves' is 6.4 px" in p for p in found), found
    plt.close(fig)


def test_a_colour_scale_set_by_one_cell_is_caught_and_a_spread_one_is_not():
    vals = np.full((4, 4), 0.01)
    vals[0, 0] = -0.151
    vals[1, 1] = -0.02
    fig, ax = plt.subplots()  # the scale a plain imshow gives: ±|the outlier|
    ax.imshow(vals, cmap="RdBu", vmin=-0.151, vmax=0.151)
    ax.set_title("kd sweep")
    assert any("set by one cell" in p for p in problems(fig, dpi=150))
    plt.close(fig)
    spread = np.linspace(-0.1, 0.1, 16).reshape(4, 4)
    fig = plots.heatmap(__import__("pandas").DataFrame(spread), title="ok")
    assert not any("set by one cell" in p for p in problems(fig, dpi=150))
    plt.close(fig)


def test_a_line_across_categories_is_caught_and_markers_alone_are_not():
    fig, ax = plt.subplots()
    ax.errorbar(["Student alone", "FTD", "HTD"], [0.36, 0.37, 0.35], yerr=0.01, marker="o")
    ax.set_title("capacity gap")
    assert any("joins points across categories" in p for p in problems(fig, dpi=150))
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.errorbar(["Student alone", "FTD", "HTD"], [0.36, 0.37, 0.35], yerr=0.01, fmt="o")
    assert problems(fig, dpi=150) == []
    plt.close(fig)


def test_heatmap_scale_is_robust_to_one_outlier():
    import pandas as pd

    vals = np.full((3, 3), 0.01)
    vals[0, 0] = -0.151
    vals[1, 1] = -0.02
    assert plots.shared_limits([vals]) == (-0.025, 0.025)  # 1.25 × the next cell (0.02)
    assert plots.shared_limits([vals], robust=False) == (-0.151, 0.151)
    fig = plots.heatmap(pd.DataFrame(vals), title="kd sweep")
    assert problems(fig, dpi=150) == []  # the fixed helper passes its own check
    plt.close(fig)


def test_error_bars_of_single_runs_are_not_labelled_as_confidence_intervals():
    # the CiteULike reference run (one seed) was drawn with "mean ± 95 % CI over seeds"
    import pandas as pd

    one = pd.DataFrame({"label": ["student", "FTD"], "dim": [10, 10], "m": [0.18, 0.20],
                        "m_lo": [0.18, 0.20], "m_hi": [0.18, 0.20], "n": [1, 1]})
    fig = plots.dots_ci(one, label="label", value="m")
    assert "one run: no CI" in fig.axes[0].get_xlabel() and "95 %" not in fig.axes[0].get_xlabel()
    fig = plots.errorbars(one.assign(n=5), x="dim", y="m", group="label")
    assert "95 % CI over seeds" in fig.axes[0].get_ylabel()
    plt.close("all")


def test_plug_in_colours_never_collide_with_built_in_arms_or_each_other():
    # kdkit issue 38: RRD drew in the student's blue in one figure and HTD's green in another
    from matplotlib.colors import to_rgb

    from kdkit import plots
    builtin = {c.lower() for c in plots._FIXED.values()} | {plots.GREY.lower(), "#000000"}
    got = [plots.color(f"plugins.method_{i}:arm") for i in range(len(plots.EXTRA))]
    assert len(set(got)) == len(got)  # no two plug-ins share a colour
    assert not {c.lower() for c in got} & builtin
    for c in got:  # and none is a near-copy of a built-in one
        assert min(sum(abs(a - b) for a, b in zip(to_rgb(c), to_rgb(f)))
                   for f in builtin) > 0.15, c
    assert plots.color("plugins.method_0:arm") == got[0]  # stable per label


def test_figures_name_a_data_set_by_its_stem_never_a_path():
    from kdkit.plots import data_label
    assert data_label("/home/me/data/my_log.csv") == "my_log"
    assert data_label("splits/citeulike") == "citeulike"
    assert data_label("ml-100k") == "ml-100k" and data_label("synthetic") == "synthetic"


def test_no_committed_figure_carries_a_figure_check_problem():
    """Every figure of every committed report page passed the checks when it was drawn
    (issue 38.5: geometric_kd's confusion figure carried four of its own warnings)."""
    import json
    from pathlib import Path

    pages = sorted((Path(__file__).resolve().parents[1] / "reports").glob("*/page.json"))
    found = {f"{p.parent.name}/{fig['name']}": fig["problems"]
             for p in pages for fig in json.loads(p.read_text()).get("figures", [])
             if fig.get("problems")}
    assert found == {}
