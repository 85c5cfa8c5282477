"""`batch-pipelines roi` in a real browser: the command serves the ledger of the test's database;
headless Chromium (Debian's, installed when missing, as for the UI test) fills the form as a
prospect does, submits it, and reads the server-rendered answer at its own URL; a thin vertical and
a bad volume are answered in words on the page. One browser session for all of it."""

from __future__ import annotations

import os
import subprocess
import urllib.parse
import urllib.request

import pytest

from batch_pipelines.db.settings import DATABASE_URL_ENV
from batch_pipelines_tests.roi.conftest import TENANT_NAMES
from batch_pipelines_tests.ui_dev_server import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    VENV_BIN,
    ensure_chromium,
    free_port,
    stop_process_group,
    wait_for,
)


@pytest.fixture
def chromium() -> str:
    reason = ensure_chromium()
    if reason:
        pytest.skip(f"BROWSER TEST SKIPPED, no headless Chromium: {reason}")
    pytest.importorskip(
        "playwright.sync_api", reason="BROWSER TEST SKIPPED: playwright is not installed (.[dev])"
    )
    return str(CHROMIUM)


@pytest.fixture
def roi_command(observed, fresh_database_url, tmp_path):
    """`batch-pipelines roi --port <free>` on the test's database, as a user starts it."""
    port = free_port()
    env = {**os.environ, DATABASE_URL_ENV: fresh_database_url}
    log = (tmp_path / "roi.log").open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "batch-pipelines"), "roi", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, (tmp_path / "roi.log").read_text()
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200

    try:
        wait_for("batch-pipelines roi to serve", up, timeout=60, every=0.3)
        yield url
    finally:
        stop_process_group(process)
        log.close()


def test_a_prospect_fills_the_form_and_reads_the_answer(chromium, roi_command) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(java_script_enabled=False)  # the answer needs no script
            page.goto(roi_command)
            page.select_option("#vertical", "sales")
            page.fill("#calls_per_day", "300")
            page.fill("#leads_per_day", "50")
            page.fill("#docs_per_month", "40")
            page.select_option("#tier", "growth")
            page.click("button[type=submit]")

            expect(page.locator("#monthly-cost")).to_have_text("$3.02")
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
            assert query == {
                "vertical": ["sales"],
                "calls_per_day": ["300"],
                "leads_per_day": ["50"],
                "docs_per_month": ["40"],
                "tier": ["growth"],
            }
            expect(page.locator("#sync-cost")).not_to_be_empty()
            expect(page.locator("#tiers tr.chosen")).to_contain_text("growth")
            expect(page.locator("#tiers tr.chosen")).to_contain_text("$495.98")  # 499 - 3.0189
            expect(page.locator("#workflows tbody tr")).to_have_count(3)
            expect(page.locator("#answer svg")).to_have_count(1)
            text = page.locator("body").inner_text()
            assert not any(name in text for name in TENANT_NAMES)
            # The answer's own URL gives the same answer.
            page.goto(page.url)
            expect(page.locator("#monthly-cost")).to_have_text("$3.02")

            # A vertical observed at one tenant only: refused, in words.
            page.select_option("#vertical", "healthcare")
            page.fill("#leads_per_day", "0")
            page.fill("#docs_per_month", "0")
            page.click("button[type=submit]")
            expect(page.locator("#error")).to_contain_text("Not enough data for this vertical")
            expect(page.locator("#answer")).to_have_count(0)

            # A volume that is not a number.
            page.select_option("#vertical", "sales")
            page.fill("#calls_per_day", "three hundred")
            page.click("button[type=submit]")
            expect(page.locator("#error")).to_contain_text("Calls per day must be a whole number")
        finally:
            browser.close()
