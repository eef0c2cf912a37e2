"""The operator console in a real headless Chromium, served by the dev host of the local stack.

One browser for the module. The schedules come from the API over HTTP, a schedule of the
stack's failing pipeline gives the timeline a failed slot, and an action goes through the
confirmation dialog. Screenshots land in each test's tmp_path (printed), and the page's
console must stay free of errors: a Content-Security-Policy violation shows up there.
"""

from __future__ import annotations

import base64
import time

import pytest

from tests.e2e.browser import require_browser, start_chromium
from tests.e2e.conftest import FAILING_PIPELINE_ID, PIPELINE_ID

pytestmark = pytest.mark.e2e
WAIT = 30


def schedule(schedule_id, pipeline_id=PIPELINE_ID, cron="*/2 * * * * *", description=None):
    doc = {"id": schedule_id, "trigger": {"cron": cron, "timeZone": "Europe/Berlin"},
           "target": {"kind": "pipeline", "pipelineId": pipeline_id, "experimentName": "console_e2e"}}
    if description:
        doc["description"] = description
    return doc


def all_schedules(api):
    out, token = [], ""
    while True:
        code, body = api("GET", f"schedules?limit=200&continuationToken={token}")
        assert code == 200, body
        out += body["value"]
        token = body["continuationToken"]
        if not token:
            return out


def wait_until(what, check, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def browser():
    require_browser()
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def seeded(stack):
    """Three schedules: one that completes, one whose runs fail, one that waits for tomorrow."""
    from tests.e2e.conftest import Client

    api = Client(stack.dev_host_url)
    ids = {"fails": "console-fails", "completes": "console-completes", "quiet": "console-quiet"}
    docs = [schedule(ids["fails"], FAILING_PIPELINE_ID, description="runs of a pipeline that fails"),
            schedule(ids["completes"]),
            schedule(ids["quiet"], cron="0 30 2 * * *", description="fires at 02:30 Berlin time")]
    for doc in docs:
        code, body = api("PUT", f"schedules/{doc['id']}", doc)
        assert code in (200, 201), body

    def failed_run():
        runs = api("GET", f"schedules/{ids['fails']}/runs?status=Failed")[1]["value"]
        return runs[0] if runs else None

    failed = wait_until("a failed run", failed_run, timeout=60)
    # Stop the firing ones, so the page and the API agree on what they show.
    for key in ("fails", "completes"):
        assert api("POST", f"schedules/{ids[key]}/disable")[0] == 200
    yield {"ids": ids, "failed": failed, "api": api}
    for schedule_id in ids.values():
        api("DELETE", f"schedules/{schedule_id}")


def open_console(browser, stack, fragment=""):
    browser.get(f"{stack.dev_host_url}/console{fragment}")


def find(browser, css, timeout=WAIT):
    return wait_until(f"an element {css!r}", lambda: browser.find_elements("css selector", css), timeout)


def shoot(browser, tmp_path, name):
    """The whole page, not only the window (through the DevTools protocol)."""
    size = browser.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}})
    path = tmp_path / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {path}")
    return path


def page_errors(browser):
    """Console messages at error level: script errors, failed loads, CSP violations."""
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def rows_by_id(browser):
    rows = browser.find_elements("css selector", "#schedules tbody tr[data-schedule-id]")
    return {row.get_attribute("data-schedule-id"): row for row in rows}


def test_schedules_table_shows_what_the_api_lists(browser, stack, seeded, tmp_path):
    open_console(browser, stack)
    find(browser, "#schedules tbody tr[data-schedule-id]")
    listed = {s["id"]: s for s in all_schedules(seeded["api"])}
    rows = rows_by_id(browser)
    assert set(rows) == set(listed)

    quiet = listed[seeded["ids"]["quiet"]]
    cells = [c.text for c in rows[quiet["id"]].find_elements("css selector", "td, th")]
    assert cells[1].startswith(quiet["id"]) and "fires at 02:30" in cells[1]
    assert cells[2] == f"pipeline {PIPELINE_ID}"
    assert cells[4] == quiet["nextFireTime"].replace("T", " ")  # the UTC column, to the second
    disabled = rows[seeded["ids"]["fails"]].find_element("css selector", ".health").text
    assert disabled in ("disabled", "failing", "paused")  # the API's health, or the page's fallback
    shoot(browser, tmp_path, "schedules")

    # The text filter narrows the rows; sorting by id orders them.
    search = browser.find_element("id", "filter-text")
    search.send_keys("console-")
    wait_until("filtered rows", lambda: set(rows_by_id(browser)) == set(seeded["ids"].values()))
    sort_by_id = "//table[@id='schedules']//th/button[contains(., 'Schedule')]"
    browser.find_element("xpath", sort_by_id).click()
    browser.find_element("xpath", sort_by_id).click()  # the table was redrawn; a second click: descending
    wait_until("descending order", lambda: list(rows_by_id(browser)) == sorted(seeded["ids"].values(), reverse=True))
    sorted_header = browser.find_element("css selector", "#schedules th[aria-sort]")
    assert sorted_header.get_attribute("aria-sort") == "descending"
    assert browser.switch_to.active_element.tag_name == "button", "focus stays on the sort button"
    search.clear()
    assert page_errors(browser) == []


def test_schedule_page_draws_the_failed_slot_and_amls_error(browser, stack, seeded, tmp_path):
    fails = seeded["ids"]["fails"]
    open_console(browser, stack)
    find(browser, f"#schedules a[href='#/schedules/{fails}']")[0].click()
    failed_mark = find(browser, "#timeline svg g.mark[data-outcome='Failed']")[0]
    assert f"slot {seeded['failed']['slot'].replace('T', ' ')}" in " ".join(
        m.find_element("css selector", "title").get_attribute("textContent")
        for m in browser.find_elements("css selector", "#timeline g.mark[data-outcome='Failed']"))
    assert failed_mark.find_element("css selector", "title").get_attribute("textContent")
    legend = browser.find_element("css selector", "#timeline .legend").text
    assert "Failed:" in legend and "Missed" in legend and "Skipped" in legend
    assert browser.find_element("css selector", "#timeline svg").get_attribute("role") == "img"

    row = find(browser, f"#runs tr[data-slot='{seeded['failed']['slot']}']")[0]
    assert seeded["failed"]["error"]["message"] in row.text
    link = row.find_element("css selector", "a[href^='https://ml.azure.com/']")
    assert link.get_attribute("href") == seeded["failed"]["portalUrl"]
    assert len(browser.find_elements("css selector", "#preview tbody tr")) == 10
    definition = browser.find_element("id", "definition").text
    assert f'"pipelineId": "{FAILING_PIPELINE_ID}"' in definition
    assert browser.switch_to.active_element.tag_name == "h1", "a new view moves focus to its heading"
    health = wait_until("the failed run in the schedule's summary",  # kept just after the record is written
                        lambda: (lambda h: h if h["failedInARow"] >= 1 else None)(
                            seeded["api"]("GET", f"schedules/{fails}")[1]))
    browser.refresh()
    find(browser, "dl.facts dd")
    facts = dict(zip([e.text for e in browser.find_elements("css selector", "dl.facts dt")],
                     [e.text for e in browser.find_elements("css selector", "dl.facts dd")]))
    assert facts["Health"].endswith(health["health"])  # disabled by the fixture: that comes first
    assert facts["Failed runs in a row"] == str(health["failedInARow"])
    shoot(browser, tmp_path, "schedule-with-failed-slot")
    assert page_errors(browser) == []


def test_disable_asks_first_then_the_api_shows_it_disabled(browser, stack, seeded, tmp_path):
    quiet = seeded["ids"]["quiet"]
    api = seeded["api"]
    assert api("GET", f"schedules/{quiet}")[1]["enabled"] is True
    open_console(browser, stack, f"#/schedules/{quiet}")
    find(browser, "button[data-action='disable']")[0].click()
    dialog = find(browser, "dialog#confirm[open]")[0]
    assert "Disable" in dialog.find_element("id", "confirm-title").text
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "confirm-cancel", "the dialog opens on its safe button"
    shoot(browser, tmp_path, "confirm-disable")
    assert api("GET", f"schedules/{quiet}")[1]["enabled"] is True, "nothing happens before the confirmation"
    dialog.find_element("id", "confirm-ok").click()
    wait_until("the page to offer Enable", lambda: browser.find_elements("css selector", "button[data-action='enable']"))
    assert "disabled" in browser.find_element("id", "status").text
    assert api("GET", f"schedules/{quiet}")[1]["enabled"] is False
    shoot(browser, tmp_path, "after-disable")
    assert page_errors(browser) == []


def test_a_refused_action_shows_the_apis_message_in_the_dialog(browser, stack, seeded):
    quiet = seeded["ids"]["quiet"]
    open_console(browser, stack, f"#/schedules/{quiet}")
    find(browser, "button[data-action='backfill']")[0].click()
    dialog = find(browser, "dialog#confirm[open]")[0]
    start = dialog.find_element("id", "backfill-from")
    # From after to: the API refuses with its error envelope; the dialog stays open and says why.
    browser.execute_script("arguments[0].value = arguments[1]", start, "2099-01-01T00:00")
    dialog.find_element("id", "confirm-ok").click()
    message = wait_until("an error in the dialog", lambda: dialog.find_element("id", "confirm-error").text)
    assert "ValidationFailed" in message and dialog.get_attribute("open") is not None
    dialog.find_element("id", "confirm-cancel").click()
    wait_until("the dialog to close", lambda: dialog.get_attribute("open") is None)
    assert [e for e in page_errors(browser) if "/backfill" not in e] == []  # the 400 itself is logged


def test_on_a_phone_only_the_table_scrolls_sideways(browser, stack, seeded, tmp_path):
    browser.set_window_size(390, 844)
    try:
        open_console(browser, stack)
        find(browser, "#schedules tbody tr[data-schedule-id]")
        page_width, view_width, table_overflows = browser.execute_script(
            "const wrap = document.querySelector('.table-wrap');"
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
            "        wrap.scrollWidth > wrap.clientWidth];")
        assert page_width <= view_width and table_overflows
        shoot(browser, tmp_path, "phone")
    finally:
        browser.set_window_size(1280, 900)
