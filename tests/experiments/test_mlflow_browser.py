"""The comparison in the MLflow UI, as a user reaches it: a real headless
Chromium opens the links `ui` prints, on a store holding a tiny sweep.

Needs Playwright and a Chromium binary (Debian's `chromium`; Playwright's own
browser downloads are not used). With KERAS_NORMS_SCREENSHOTS=DIR it saves
the two views there (docs/images holds the README's).
"""

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from experiments.cli import main
from tests.experiments import processes
from tests.experiments.ports import free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("KERAS_NORMS_CHROMIUM") or shutil.which("chromium")
SCREENSHOTS_ENV = "KERAS_NORMS_SCREENSHOTS"
# The UI's first load compiles nothing, but fetches and renders a large bundle.
PAGE_TIMEOUT_MS = 60_000


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium, or set KERAS_NORMS_CHROMIUM)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def ui_links(store, tiny_cnn):
    """A two-norm, two-seed sweep in the store, then `ui` serving it on
    127.0.0.1; yields the links `ui` printed, by label. Stops the server."""
    argv = ["sweep", "--task", "cnn", "--norms", "none,layer", "--seeds", "2"]
    assert main([*argv, "--epochs", "1", "--quick", "--study", "ui", "--workers", "1"]) == 0
    port = free_port()
    server = processes.start(
        [sys.executable, "-m", "experiments", "ui", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        links = {}
        for line in server.stdout:
            found = re.match(r"\s+(.+?):\s+(http://\S+)$", line)
            if found:
                links[found.group(1)] = found.group(2)
            if "its report" in links:
                break
        yield links
    finally:
        processes.kill_group(server)  # `ui` and the MLflow server it started


def _screenshot(page, name):
    directory = os.environ.get(SCREENSHOTS_ENV)
    if directory:
        page.screenshot(path=str(Path(directory) / name), full_page=False)


def test_the_printed_links_open_the_runs_by_norm_and_the_parents_report(browser, ui_links):
    runs_link = ui_links["runs side by side by norm"]
    assert (
        runs_link.startswith("http://127.0.0.1:") and "workflowType=machine_learning" in runs_link
    )
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    page.set_default_timeout(PAGE_TIMEOUT_MS)

    # The runs table, in model-training mode: norm and primary metric as columns,
    # the runs grouped by norm.
    page.goto(runs_link)
    table = page.locator(".ag-root").first
    table.wait_for()
    # The grid renders its columns after its rows: wait for each header (a
    # missing one fails on the page's timeout).
    columns = page.locator('[role="columnheader"]')
    for name in ("norm", "test_accuracy", "val_accuracy"):
        columns.filter(has_text=name).first.wait_for()
    headers = columns.all_inner_texts()
    assert {"norm", "test_accuracy", "val_accuracy"} <= set(headers)
    assert not any(header.startswith("system/") for header in headers)
    for norm in ("none", "layer"):
        page.get_by_text(f"Group: {norm}", exact=True).first.wait_for()
    page.get_by_text("2 matching runs").or_(page.get_by_text("4 matching runs")).first.wait_for()
    _screenshot(page, "mlflow-runs.png")

    # "Group by" lists the runs' tags before their params: only the few a user
    # groups by, and the one tag of the stale-run check (`git_dirty` too where
    # the checkout has changes).
    page.get_by_role("button", name="Group by: norm").click()
    menu = page.get_by_role("menu").inner_text().splitlines()
    tags = menu[menu.index("Tags") + 1 : menu.index("Params")]
    assert set(tags) - {"git_dirty"} == {"study", "task", "run_kind", "process"}, menu
    assert "norm" in menu[menu.index("Params") :]
    page.keyboard.press("Escape")

    # The parent run's report, rendered in the artifact view.
    report_link = ui_links["its report"]
    page.goto(report_link)
    frame = page.frame_locator("iframe").first
    frame.get_by_text("keras-norms experiment report").wait_for()
    page.get_by_text("Training runs").or_(page.get_by_text("Model training")).first.wait_for()
    assert frame.locator("img").count() >= 1  # the figure, embedded
    _screenshot(page, "mlflow-report.png")

    # The same file over the server's artifact endpoint, as the UI fetches it.
    run_id = re.search(r"/runs/([0-9a-f]+)/artifactPath/", report_link).group(1)
    base = runs_link.split("/#/")[0]
    with urllib.request.urlopen(
        f"{base}/get-artifact?path=report/report.html&run_uuid={run_id}", timeout=30
    ) as answer:
        page_text = answer.read()
    assert b"<table>" in page_text and b"data:image/png;base64," in page_text
