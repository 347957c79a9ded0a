"""The report site in a real browser (headless Chromium through Playwright): every page loads
without console errors, every image loads, every link inside the site resolves, and the claims
rows on each study page equal its claims.csv. Skipped, with the reason, only where no Chromium
is installed (``make test`` installs Debian's ``chromium``)."""

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from kdkit.report import format_number, read_claims
from kdkit.site import NUMERIC

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine: `apt-get install chromium` (make "
    "test does this) to run the browser test")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def site_pages(root: Path) -> list[Path]:
    pages = [root / "index.html"]
    pages += sorted(p / "index.html" for p in root.iterdir()
                    if p.is_dir() and (p / "run.json").exists()
                    and not p.name.endswith(".failed"))
    sweeps = root / "sweeps"
    if sweeps.is_dir():
        pages += sorted(p / "index.html" for p in sweeps.iterdir() if (p / "index.html").exists())
    return pages


def check_page(browser, path: Path) -> dict:
    page = browser.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    images = page.evaluate("Array.from(document.images).map(i => [i.getAttribute('src'), "
                           "i.complete && i.naturalWidth])")
    links = page.evaluate("Array.from(document.querySelectorAll('a')).map(a => "
                          "a.getAttribute('href'))")
    rows = page.evaluate("Array.from(document.querySelectorAll('table.claims tr.claim')).map("
                         "tr => Object.fromEntries(Array.from(tr.cells).map(td => "
                         "[td.dataset.col, (td.querySelector('.v') || td).textContent.trim()])))")
    page.close()
    assert not errors, f"{path}: console errors {errors}"
    broken = [src for src, width in images if not width]
    assert not broken, f"{path}: images that did not load {broken}"
    for href in links:
        url = urlparse(href)
        if url.scheme in ("http", "https", "mailto"):
            continue
        target = (path.parent / unquote(url.path)).resolve() if url.path else path
        if target.is_dir():
            target = target / "index.html"
        assert target.exists(), f"{path}: link {href} does not resolve"
    return {"images": len(images), "links": len(links), "rows": rows}


def check_site(browser, root: Path) -> int:
    n = 0
    for path in site_pages(root):
        got = check_page(browser, path)
        claims = path.parent / "claims.csv"
        if claims.exists():
            want = read_claims(claims)
            assert len(got["rows"]) == len(want), path
            for shown, row in zip(got["rows"], want):
                for col, value in row.items():
                    expect = format_number(value) if col in NUMERIC else value
                    assert shown[col] == expect.strip(), (path, col, shown[col], expect)
            assert got["images"] > 0 or not list((path.parent / "figures").glob("*.png")), path
        n += 1
    return n


def test_committed_site_renders_in_a_browser(browser):
    root = ROOT / "reports"
    if not (root / "index.html").exists():
        pytest.skip("no committed site in reports/ yet")
    assert check_site(browser, root) >= 2


def test_a_fresh_site_renders_and_a_study_page_has_a_screenshot(browser, tmp_path, monkeypatch):
    """A site written from scratch by the runner (a toy study, a failed one beside it)."""
    from kdkit import cli, runner
    from tests.conftest import BODY, PARAMS
    from tests.helpers import write_notebook

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "params").mkdir()
    write_notebook(tmp_path / "notebooks" / "toy.ipynb", PARAMS, BODY)
    write_notebook(tmp_path / "notebooks" / "broken.ipynb", PARAMS, BODY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KDKIT_PROJECT", raising=False)
    assert cli.main(["run", "toy", "--no-progress"]) == 0
    assert cli.main(["run", "broken", "-p", "fail=true", "--no-progress"]) == 1
    root = runner.reports_dir()
    assert check_site(browser, root) == 2
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto((root / "toy" / "index.html").as_uri())
    shot = Path(os.environ.get("KDKIT_SCREENSHOT", tmp_path / "toy.png"))
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert shot.stat().st_size > 1000


def test_a_phone_sees_verdicts_and_the_forest_plot_without_scrolling_sideways(browser):
    """At 390 × 844 every study page fits the screen's width, and the first claim's verdict
    and the forest plot lie inside it; the filter hides the rows of other verdicts."""
    root = ROOT / "reports"
    if not (root / "index.html").exists():
        pytest.skip("no committed site in reports/ yet")
    pages = [p for p in site_pages(root)[1:] if (p.parent / "claims.csv").exists()]
    assert pages
    for path in pages:
        page = browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(path.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        box = page.evaluate("(() => { const r = document.querySelector("
                            "'table.claims tr.claim td.col-verdict').getBoundingClientRect(); "
                            "return [r.left, r.right, r.width]; })()")
        assert box[2] > 0 and 0 <= box[0] and box[1] <= 390, (path, box)
        forest = page.query_selector(".forest")
        if any(r.get("family") == "primary" and r["measured"] for r in read_claims(
                path.parent / "claims.csv")):
            b = forest.bounding_box()
            assert b["width"] > 200 and b["x"] >= 0 and b["x"] + b["width"] <= 390, path
        verdicts = [r["verdict"] for r in read_claims(path.parent / "claims.csv")]
        v = verdicts[0]
        page.click(f"label[for='vf-{v.replace(' ', '-')}']")
        shown = page.evaluate("Array.from(document.querySelectorAll('table.claims tr.claim'))"
                              ".filter(tr => tr.offsetParent !== null"
                              " || tr.closest('details:not([open])'))"
                              ".filter(tr => getComputedStyle(tr).display !== 'none').length")
        assert shown == verdicts.count(v), (path, v, shown)
        page.close()
