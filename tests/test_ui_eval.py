"""The Evaluation tab and the harness's HTML report in a real browser (Debian's chromium via Playwright).

A 3-case suite over a two-file folder keeps the run to seconds. Skipped locally when chromium or
Playwright is missing; a failure in CI (env CI set). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag import Assistant, Settings

from .eval_corpus import write_suite  # the same tiny corpus the harness tests use
from .ui_helpers import chromium_browser, fill_all, launched

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
WAIT_MS = 30_000
RUN_MS = 180_000  # ingest + warm-up + 3 questions; seconds here, but a loaded CI box is slow
CHARTS_LOADED = """() => document.images.length >= 2 && [...document.images].every(
    i => i.complete && i.naturalWidth > 0 && i.src.startsWith('data:image/png;base64,'))"""


def small_suite(tmp_path: Path) -> tuple[Path, Path]:
    """Three single-turn cases (two answerable, one not) over the two-file corpus."""
    return write_suite(tmp_path, ["built-year", "best-seller", "mayor"])


@pytest.fixture(scope="module")
def browser():
    with chromium_browser() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    yield page
    context.close()


def test_evaluation_tab_runs_suite_and_shows_metrics_and_charts(page, tmp_path, embedder):
    from playwright.sync_api import expect

    from rag_cited.eval.report import load_result
    from rag_cited.ui.app import build_app
    from rag_cited.ui.evaluation import out_dir

    questions, docs = small_suite(tmp_path)
    assistant = Assistant(data_dir=tmp_path / "data", embed_model=embedder)
    with launched(build_app(assistant)) as url:
        page.goto(url)
        page.get_by_role("tab", name="Evaluation").click()
        page.locator("#eval-load").click()  # nothing saved yet
        expect(page.locator("#eval-status")).to_contain_text("No saved evaluation yet")

        page.locator("#eval-suite").get_by_text("Suite").click()
        expect(page.locator("#eval-questions textarea")).to_have_value("eval/questions.yaml")
        fill_all(page, {"#eval-questions textarea": str(questions), "#eval-docs textarea": str(docs)})
        page.locator("#eval-run").click()

        summary = page.locator("#eval-summary table")
        expect(summary).to_contain_text("cases passed", timeout=RUN_MS)
        expect(summary).to_contain_text("suite.yaml")
        for label in ("Retrieval hit@1", "Citation exactness", "Abstention recall"):
            expect(summary.locator("tr", has_text=label)).to_contain_text(re.compile(r"\d\.\d{3}"))
        exact = summary.locator("tr", has_text="Citation exactness").locator("td.num")
        expect(exact).to_have_text("1.000")
        box, wrap = exact.bounding_box(), page.locator("#eval-summary .doc-table-wrap").bounding_box()
        assert box["x"] + box["width"] <= wrap["x"] + wrap["width"] + 1, "the value column is cut off"
        expect(page.locator("#eval-status")).to_contain_text("saved")

        frame = page.locator("#eval-report iframe").element_handle().content_frame()
        frame.wait_for_function(CHARTS_LOADED)
        assert frame.evaluate("() => document.querySelector('main').getBoundingClientRect().width") > 600
        assert "When was the lighthouse on Gull Point built?" in frame.content()
        page.screenshot(path=str(ARTIFACTS / "eval-tab.png"), full_page=True)

        saved = sorted(p.name for p in out_dir(assistant).glob("*.json"))
        assert len(saved) == 2 and saved[1] == "suite-latest.json", saved  # as `rag eval` writes them
        first = load_result(out_dir(assistant) / saved[0])
        expect(page.locator("#eval-status")).not_to_contain_text("compared")  # nothing to compare with yet

        page.locator("#eval-run").click()  # a second run is compared with the first, not with itself
        status = page.locator("#eval-status")
        expect(status).to_contain_text(f"compared with the previous run, of {first.created_at}", timeout=RUN_MS)
        runs = [p for p in out_dir(assistant).glob("suite-*.json") if not p.stem.endswith("-latest")]
        second = load_result(max(runs, key=lambda p: p.stat().st_mtime))
        assert len(runs) == 2 and second.created_at != first.created_at, (first.created_at, second.created_at)
        report = page.locator("#eval-report iframe").element_handle().content_frame()
        report.wait_for_function(CHARTS_LOADED)
        assert f"Compared with the run of {first.created_at}" in report.content()
        assert f"Compared with the run of {second.created_at}" not in report.content()
        page.locator("#eval-report iframe").element_handle().content_frame().wait_for_function(CHARTS_LOADED)
        page.screenshot(path=str(ARTIFACTS / "eval-tab-compared.png"), full_page=True)

        page.reload()  # a new session: "Load last result" brings the saved run back, compared with the one before
        page.get_by_role("tab", name="Evaluation").click()
        page.locator("#eval-load").click()
        expect(page.locator("#eval-status")).to_contain_text("Loaded")
        expect(page.locator("#eval-status")).to_contain_text(f"compared with the previous run, of {first.created_at}")
        expect(page.locator("#eval-summary table")).to_contain_text(second.created_at)
        page.locator("#eval-report iframe").element_handle().content_frame().wait_for_function(CHARTS_LOADED)


def test_harness_html_report_shows_charts_in_browser(page, tmp_path, embedder):
    from rag_cited.eval import harness
    from rag_cited.eval.report import write_outputs

    questions, docs = small_suite(tmp_path)
    result = harness.run(questions, docs, Settings(data_dir=tmp_path / "data"), embed_model=embedder)
    _, html_path = write_outputs(result, tmp_path / "out")  # what `rag eval` writes

    page.goto(html_path.resolve().as_uri())
    page.wait_for_function(CHARTS_LOADED)
    widths = page.locator("img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(widths) >= 2 and all(w > 0 for w in widths), widths
    assert page.locator("img").first.is_visible()
    page.screenshot(path=str(ARTIFACTS / "eval-report.png"), full_page=True)
