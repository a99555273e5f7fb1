"""A two-dataset run's ``snakemake --report``, rendered in a real headless browser.

The session's demo run is copied and a second dataset (the demo under another name) is added to
its config, so Snakemake runs only the new dataset's jobs and the run-level ones; then it builds
the report,
and Chromium (Debian's package, driven by Playwright) opens it: the landing page names both
datasets and shows the run summary (samples kept, flagged samples, DE genes, subtype calls per
dataset), each dataset's category holds its own QC, DE, enrichment, score and browsable-table
entries labelled with its name only, the volcano and the dot plot of each dataset render as images,
and the browsable tables (one page per dataset, one DataTables bundle) render as sortable tables
with rows, p-values in scientific notation, sample ids in natural order (also when re-sorted) and
long names wrapped. Skips with the reason when Chromium or Playwright is missing (.ci/run installs
both: tests/e2e/install_chromium.sh, the test extra).
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.conftest import build_report, demo_test_config, run_workflow, uses_demo_run

#: one worker builds the two-dataset run once for every test of this module (make test: loadgroup)
pytestmark = [pytest.mark.xdist_group("report_render"), uses_demo_run]

DATASETS = ("demo", "demo_again")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SUBCATEGORIES = (
    "QC",
    "Differential expression",
    "Enrichment: ALS_vs_control",
    "Signature scores",
    "Tables to browse",
)


def two_dataset_config() -> dict:
    config = demo_test_config()  # the shared demo run's config, so its jobs stay done
    demo = config["datasets"]["demo"]
    again = dict(demo, description="the demo again under a second name (report test)")
    # fewer jobs: the report's subtype entries are not what this test reads
    again["subtypes"] = {"discovery": False, "enrich_collections": []}
    config["datasets"] = {"demo": demo, "demo_again": again}
    return config


@pytest.fixture(scope="module")
def two_dataset_report(tmp_path_factory, demo_run):
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (tests/e2e/install_chromium.sh installs Debian's)")
    pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    workdir = tmp_path_factory.mktemp("two_datasets") / "project"
    shutil.copytree(demo_run, workdir, symlinks=True)  # outputs and .snakemake metadata
    result = run_workflow(workdir, two_dataset_config(), cores=2)
    assert result.returncode == 0, result.stderr[-4000:]
    ran = result.stdout + result.stderr
    assert "wildcards: dataset=demo_again" in ran  # demo_again's jobs ran ...
    assert not re.search(r"wildcards: dataset=demo(,|$)", ran, re.M)  # ... none of demo's
    assert "rule de_demo:" not in ran
    report = workdir / "report.html"
    made = build_report(workdir, report)
    assert made.returncode == 0, made.stderr[-3000:]
    return report


@pytest.fixture(scope="module")
def browser(two_dataset_report):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def open_report(browser, report):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(report.as_uri())
    page.get_by_text("RESULTS", exact=False).first.wait_for(timeout=30_000)
    return page


def open_subcategory(page, dataset: str, subcategory: str) -> None:
    page.get_by_text(dataset, exact=True).first.click()
    page.get_by_text(subcategory, exact=True).first.click()
    page.locator("tr", has_text=dataset).first.wait_for(timeout=10_000)


def show_entry(page, label: str):
    """Click the eye of the entry labelled ``label``; the main pane then shows it."""
    page.locator("tr", has_text=label).first.locator("a[iconname=eye]").click()


def test_landing_page_names_every_dataset(browser, two_dataset_report):
    page = open_report(browser, two_dataset_report)
    body = page.inner_text("body")
    for dataset in DATASETS:
        assert dataset in body
    assert "Cohorts compared" in body
    assert "do not predict" in body  # the landing page's claim boundary
    # the run summary, from the stage outputs: one item per dataset
    for dataset in DATASETS:
        item = page.locator("li", has_text=f"{dataset}: 19 of 19 samples kept").first.inner_text()
        assert "kept with a QC flag (4): JR27" in item  # flagged samples named
        assert "ALS_vs_control: 0 (0 up, 0 down" in item  # DE genes per contrast
        assert re.search(r"(ALS-Ox|ALS-Glia|ALS-TE|unassigned|out_of_reference) \d+ %", item)
    page.close()


@pytest.mark.parametrize("dataset", DATASETS)
def test_each_dataset_has_its_own_entries(browser, two_dataset_report, dataset):
    page = open_report(browser, two_dataset_report)
    page.get_by_text(dataset, exact=True).first.click()
    listing = page.inner_text("body")
    for subcategory in SUBCATEGORIES:
        assert subcategory in listing, f"{subcategory} missing under {dataset}"
    page.get_by_text("Differential expression", exact=True).first.click()
    rows = page.locator("tbody tr")
    rows.first.wait_for(timeout=10_000)
    first_cells = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    # every entry names its dataset, and only this dataset's entries are listed
    assert first_cells and set(first_cells) == {dataset}
    page.close()


@pytest.mark.parametrize(
    "dataset,subcategory,label",
    [
        ("demo", "Differential expression", "volcano"),
        ("demo_again", "Differential expression", "volcano"),
        ("demo_again", "Enrichment: ALS_vs_control", "dot plot"),
        ("demo", "Signature scores", "axis heatmap"),
    ],
)
def test_figures_render_as_images(browser, two_dataset_report, dataset, subcategory, label):
    page = open_report(browser, two_dataset_report)
    open_subcategory(page, dataset, subcategory)
    show_entry(page, label)
    png = page.locator("img[src^='data:image/png']")
    png.first.wait_for(timeout=10_000)
    width = png.first.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 300, f"{dataset} {label}: the image did not render (width {width})"
    page.close()


def test_browsable_tables_render_with_rows(browser, two_dataset_report):
    page = open_report(browser, two_dataset_report)
    open_subcategory(page, "demo_again", "Tables to browse")
    show_entry(page, "samples, DE genes, enrichment, scores")
    frame = page.frame_locator("iframe").first
    _wait_until_drawn(frame, ("samples", "de", "enrich", "scores"))  # four tables on the one page
    rows = frame.locator("table#alsig-samples tbody tr")
    assert rows.count() > 5  # one page of the 19 donors (25 rows a page)
    text = frame.locator("body").inner_text()
    assert "demo_again: tables to browse" in text
    assert "kept" in text and "Search" in text  # DataTables ran: the search box is there
    page.close()


def _wait_until_drawn(page, tables: tuple[str, ...]) -> None:
    """Wait until DataTables has drawn these tables. Until it runs, each table holds itables'
    loading placeholder as its one row, so waiting for a row alone is a race."""
    for table in tables:
        drawn = f"#alsig-{table}_wrapper table#alsig-{table} tbody tr"
        page.locator(drawn).first.wait_for(timeout=20_000)


def _column(page, table_id: str, name: str) -> list[str]:
    """The shown cells of a column of a DataTable (found by its header)."""
    headers = page.locator(f"#{table_id}_wrapper thead th").all_inner_texts()
    index = [h.strip() for h in headers].index(name)
    return page.locator(f"table#{table_id} tbody tr td:nth-child({index + 1})").all_inner_texts()


def test_browse_page_reads_well_and_opens_on_its_own(browser, two_dataset_report):
    """The page is a self-contained file: it renders from results/ without the report, with
    p-values in scientific notation, ids in natural order and long names wrapped."""
    path = two_dataset_report.parent / "results" / "demo" / "report" / "tables.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(path.as_uri())
    _wait_until_drawn(page, ("samples", "de", "enrich", "scores"))
    # the demo finds no DE gene: the page says so instead of looking empty
    assert "No gene reaches padj < 0.05" in page.inner_text("body")
    scientific = re.compile(r"^\d\.\d\de[-+]\d+$")
    for table, column in (("alsig-de", "pvalue"), ("alsig-de", "padj"), ("alsig-enrich", "fdr")):
        cells = _column(page, table, column)
        assert cells and all(scientific.match(c.removeprefix("< ")) for c in cells), cells[:5]
    natural = ["JR9", "JR18", "JR27", "JR29", "JR30"]
    assert _column(page, "alsig-samples", "sample")[:5] == natural
    header = page.locator(
        "#alsig-samples_wrapper thead th", has_text=re.compile(r"^\s*sample\s*$")
    ).first
    header.click()  # DataTables sorts ascending: still natural order, not JR18 < JR27 < JR9
    assert _column(page, "alsig-samples", "sample")[:5] == natural
    term = page.locator("table#alsig-enrich td.alsig-long").first
    assert term.evaluate("td => getComputedStyle(td).whiteSpace") == "normal"
    widest = page.locator("table#alsig-enrich td.alsig-long").evaluate_all(
        "cells => Math.max(...cells.map(c => c.getBoundingClientRect().width))"
    )
    assert widest < 30 * 16 + 20  # long names wrap within 30em instead of widening the table
    page.close()
