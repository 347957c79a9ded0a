"""The forest plot's layout: positions on the shared axis, panels per δ, rows left undrawn."""

import pytest

from kdkit.forest import forest, nice_ticks


def row(**kw):
    base = {"family": "primary", "id": "a>b", "claim": "A beats B", "verdict": "supported",
            "measured": "", "ci_low": "", "ci_high": "", "delta": "", "source_effect": ""}
    return {**base, **{k: str(v) for k, v in kw.items()}}


def test_positions_are_percent_of_the_padded_axis():
    # values 0 (always on the axis), −0.01, 0.01 (δ), 0.02, 0.04 (CI), 0.03, source 0.08:
    # range −0.01 … 0.08, padded by 6 % of 0.09 on each side → −0.0154 … 0.0854
    f = forest([row(measured=0.03, ci_low=0.02, ci_high=0.04, delta=0.01, source_effect=0.08)])
    (panel,) = f["panels"]
    lo, hi = -0.01 - 0.0054, 0.08 + 0.0054
    pct = lambda v: round(100 * (v - lo) / (hi - lo), 2)  # noqa: E731
    r = panel["rows"][0]
    assert r["m"] == pytest.approx(pct(0.03)) and r["lo"] == pytest.approx(pct(0.02))
    assert r["band_lo"] == pytest.approx(pct(-0.01)) and r["src"] == pytest.approx(pct(0.08))
    assert panel["zero"] == pytest.approx(pct(0.0))
    assert "source +0.08" in r["text"] and "δ ±0.01" in r["text"]


def test_claims_on_other_scales_get_their_own_axis_and_unmeasured_ones_are_listed():
    f = forest([row(id="x", measured=0.01, delta=0.01), row(id="y", measured=0.02, delta=0.01),
                row(id="size", measured=0.4, source_effect=0.18),
                row(id="none", verdict="not testable"),
                {**row(id="sec", measured=1.0), "family": "secondary"}])
    assert [[r["id"] for r in p["rows"]] for p in f["panels"]] == [["x", "y"], ["size"]]
    assert [r["id"] for r in f["undrawn"]] == ["none"]
    assert forest([{**row(), "family": "secondary"}]) is None


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(-0.013, 0.087) == pytest.approx([0.0, 0.02, 0.04, 0.06, 0.08])
    t = nice_ticks(-1.2, 3.7)
    assert t == pytest.approx([-1.0, 0.0, 1.0, 2.0, 3.0])


def test_readme_times_come_from_run_json(tmp_path):
    import json

    from kdkit.site import TIMES_END, TIMES_START, update_readme_times

    for name, run in {"a": {"mode": "full", "status": "ok", "duration_s": 125.0,
                            "seeds": [0, 1, 2], "git_commit": "abcdef123", "git_dirty": False,
                            "start": "2026-12-02T10:00:00"},
                      "b": {"mode": "smoke", "status": "ok", "duration_s": 9.0}}.items():
        (tmp_path / "reports" / name).mkdir(parents=True)
        (tmp_path / "reports" / name / "run.json").write_text(json.dumps(run))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{TIMES_START}\nold\n{TIMES_END}\nrest\n")
    assert update_readme_times(readme, tmp_path / "reports")
    text = readme.read_text()
    assert "| [a](reports/a/) | 2.1 min | not recorded |  | 3 | `abcdef1` | 2026-12-02 |" in text
    assert "old" not in text and "[b]" not in text and text.endswith("rest\n")
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no block\n")
    assert not update_readme_times(plain, tmp_path / "reports")
    assert plain.read_text() == "no block\n"


def test_answer_in_words_from_the_primary_claims():
    from kdkit.site import answer

    rows = [row(id="a", claim="A beats B (test)", verdict="supported"),
            row(id="b", claim="C beats D", verdict="not supported",
                note="equivalent within ±0.01 (TOST)"),
            row(id="c", claim="E beats F", verdict="inconclusive", seeds_needed="25",
                note="underpowered: these 5 seeds detect 0.03"),
            row(id="c2", claim="I beats J", verdict="inconclusive", seeds_needed="9",
                note="powered for δ, yet …: the effect lies near δ"),
            row(id="d", claim="G beats H", verdict="not testable"),
            {**row(id="e", claim="ignored", verdict="supported"), "family": "secondary"}]
    assert answer(rows) == (
        "Of the source's 5 headline claims — Supported: A beats B. Not supported: C beats D "
        "(equivalent within ±δ). Undecided: E beats F (about 25 seeds would decide it); I beats "
        "J (the effect lies near δ). Not testable here: G beats H (a precondition failed: see "
        "why).")
    assert answer(rows[5:]) == ""


def test_the_index_gives_each_report_its_answer_in_words(tmp_path):
    # issue 24: the index's finding was a list of numbers; now the primary claims in words
    import csv
    import json
    from html import unescape

    from kdkit.site import write_site

    d = tmp_path / "a"
    d.mkdir()
    (d / "run.json").write_text(json.dumps({"mode": "full", "status": "ok", "study": "a"}))
    (d / "page.json").write_text(json.dumps({"headline": "x 0.31 vs y 0.29"}))
    rows = [row(id="a", claim="A beats B", verdict="supported"),
            row(id="c", claim="C beats D", verdict="not testable")]
    with open(d / "claims.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    write_site(tmp_path)
    html = unescape((tmp_path / "index.html").read_text())
    assert ("Of the source's 2 headline claims — Supported: A beats B. Not testable here: C "
            "beats D") in html and "x 0.31 vs y 0.29" in html
    md = (d / "README.md").read_text()
    # Markdown escapes what would read as HTML (a<b ids), not quotes (&#39; in a terminal)
    assert "**Answer.** Of the source's 2 headline claims" in md and "&#39;" not in md
    assert "| a |" in md


def test_markdown_escapes_tags_not_quotes():
    from kdkit.site import md_escape

    assert md_escape("kd<student@8 & the source's") == "kd&lt;student@8 &amp; the source's"
    assert md_escape(3) == 3


def test_one_large_claim_gets_its_own_panel_so_the_small_ones_stay_readable():
    # kdkit issue 38: fed~central (-0.164) squeezed cross_paradigm's other primaries into
    # 10-25 px of a 1400 px page
    rows = [{"id": "a", "family": "primary", "measured": "0.0062", "ci_low": "0.0026",
             "ci_high": "0.0097", "delta": "0.01", "verdict": "supported"},
            {"id": "b", "family": "primary", "measured": "-0.164", "ci_low": "-0.19",
             "ci_high": "-0.14", "delta": "0.01", "verdict": "not supported"},
            {"id": "c", "family": "primary", "measured": "0.0117", "ci_low": "0.008",
             "ci_high": "0.015", "delta": "0.01", "verdict": "supported"}]
    panels = forest(rows)["panels"]
    assert [[r["id"] for r in p["rows"]] for p in panels] == [["a", "c"], ["b"]]
    assert panels[1]["unit"].startswith("larger effects on their own scale")
    for p in panels:
        for r in p["rows"]:
            assert r["hi"] - r["lo"] >= 9  # % of the axis: >= ~80 px of a 900 px plot


def test_a_page_states_the_source_settings_answer_first_from_that_report(tmp_path):
    # kdkit issue 36.4: topology_kd's MovieLens page leads with the verdict of the paper's own
    # regime (topology_kd-citeulike), read from that report's claims so the pages agree
    import csv
    import json

    from kdkit.site import write_study_page

    def report(name, rows, page):
        d = tmp_path / name
        d.mkdir()
        (d / "run.json").write_text(json.dumps({"mode": "full", "status": "ok", "study": "t"}))
        (d / "page.json").write_text(json.dumps(page))
        with open(d / "claims.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        return d

    report("t-paper", [row(id="h", claim="HTD beats FTD", verdict="supported")], {})
    here = report("t", [row(id="h", claim="HTD beats FTD", verdict="inconclusive")],
                  {"source_regime": {"report": "t-paper", "label": "its own split"}})
    write_study_page(here)
    md = (here / "README.md").read_text()
    first = md.index("**In the source's own setting** (its own split: [t-paper](../t-paper/)). "
                     "Of the source's 1 headline claims — Supported: HTD beats FTD.")
    assert first < md.index("**Answer here.** Of the source's 1 headline claims — Undecided")
    assert 'href="../t-paper/index.html"' in (here / "index.html").read_text()
    # a named report without claims (not run on this machine): the page's own answer only
    (here / "page.json").write_text(json.dumps({"source_regime": {"report": "gone",
                                                                  "label": "x"}}))
    write_study_page(here)
    md = (here / "README.md").read_text()
    assert "own setting" not in md and "**Answer.** Of the source's 1" in md
