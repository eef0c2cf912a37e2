"""The console in entra mode, in headless Chromium: a reader sees no action, an operator sees them
and they work.

The dev host plays Easy Auth; the browser signs in through the dev host's X-Dev-Principal
header, set on every request it sends (the DevTools protocol), as a sign-in cookie would be.
"""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.browser import require_browser, start_chromium
from tests.e2e.conftest import PIPELINE_ID, Client
from tests.e2e.test_console_browser import find, page_errors, shoot, wait_until

pytestmark = pytest.mark.e2e
READER = "rita@contoso.com:Scheduler.Reader"
OPERATOR = "otto@contoso.com:Scheduler.Operator"


@pytest.fixture(scope="module")
def quiet_schedule(entra_stack):
    require_browser()
    api = Client(entra_stack.dev_host_url)
    schedule_id = f"console-roles-{uuid.uuid4().hex[:6]}"
    code, body = api("PUT", f"schedules/{schedule_id}?validate=false", {
        "id": schedule_id, "trigger": {"cron": "0 30 2 * * *", "timeZone": "Europe/Berlin"},
        "target": {"kind": "pipeline", "pipelineId": PIPELINE_ID, "experimentName": "console_roles"}},
        headers={"X-Dev-Principal": "eddie@contoso.com:Scheduler.Editor"})
    assert code in (200, 201), body
    return schedule_id


@pytest.fixture
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


def sign_in(browser, who):
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"X-Dev-Principal": who}})


def test_a_reader_sees_the_schedule_but_no_action(browser, entra_stack, quiet_schedule, tmp_path):
    sign_in(browser, READER)
    browser.get(f"{entra_stack.dev_host_url}/console#/schedules/{quiet_schedule}")
    wait_until("the schedule page", lambda: browser.find_elements("css selector", "main h1")
               and browser.find_element("css selector", "main h1").text == quiet_schedule)
    assert quiet_schedule in browser.page_source
    # Once the page knows who is signed in (GET me), it has decided which actions to show.
    wait_until("the page to know its caller", lambda: "rita@contoso.com" in browser.find_element("id", "who").text)
    assert "Scheduler.Operator" not in browser.find_element("id", "who").text
    assert browser.find_elements("css selector", "button[data-action]") == []
    shoot(browser, tmp_path, "reader")
    assert page_errors(browser) == []


def test_an_operator_sees_the_actions_and_they_work(browser, entra_stack, quiet_schedule, tmp_path):
    sign_in(browser, OPERATOR)
    browser.get(f"{entra_stack.dev_host_url}/console#/schedules/{quiet_schedule}")
    find(browser, "button[data-action='disable']")[0].click()
    find(browser, "dialog#confirm[open]")[0].find_element("id", "confirm-ok").click()
    wait_until("the page to offer Enable", lambda: browser.find_elements("css selector", "button[data-action='enable']"))
    code, body = Client(entra_stack.dev_host_url)("GET", f"schedules/{quiet_schedule}",
                                                  headers={"X-Dev-Principal": READER})
    assert code == 200 and body["enabled"] is False and body["updatedBy"]["name"] == "otto@contoso.com"
    shoot(browser, tmp_path, "operator")
    assert page_errors(browser) == []
