"""HTTP handlers for AML v2 jobs on ARM: list, read, create by name, cancel.

A job is created from the properties a schedule's `job` target takes, checked by the same
rules (`shared.targets`), with compute names turned into the ARM ids ARM needs. Schedule
placeholders (`{{slot}}` ...) are refused: only a schedule has a slot to fill them from.
Answers are `job_view`; `?raw=true` adds ARM's JobBase as it came.

Lists are ARM's pages, one per request. The app's page token wraps ARM's (itself checked
by `JobsClient`) with the filters of the first page, so later pages keep them, and a
filter that differs from them is a 400 rather than a silently different list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Callable

import azure.functions as func

from shared.aml import names
from shared.aml.arm import InvalidContinuation
from shared.aml.client import AmlClient
from shared.aml.errors import AmlPermanentError
from shared.aml.jobs import JOB_STATUSES, JOB_TYPES, LIST_VIEW_TYPES, job_state
from shared.api.http import ApiError, bad_request, json_response, read_json
from shared.api.proxy import (
    guard_destructive,
    object_body,
    reject_placeholders,
    route_value,
    target_rules,
    token_refused,
    wants_raw,
    with_raw,
)
from shared.config import Settings
from shared.engine.kinds import with_compute_ids
from shared.targets import parse_target

LIST_FILTERS = ("jobType", "tag", "listViewType", "status")
# Tag keys the scheduler puts on the jobs it submits: a job carrying them is taken for a
# slot's job, so a caller may not set them.
RESERVED_TAG_PREFIX = "scheduler_"
# base64url of {"t": ARM's token, "f": {filters}}, unpadded: ARM's tokens are the checked
# query of a nextLink, at most a few KiB.
PAGE_TOKEN = r"^[A-Za-z0-9_-]{0,12000}$"
_PAGE_TOKEN = re.compile(PAGE_TOKEN)
_NOT_OURS = "is not a token from a previous page of this list"


class JobHandlers:
    def __init__(self, aml: AmlClient, settings: Settings):
        self._aml = aml
        self._settings = settings

    # -- reads -----------------------------------------------------------------------
    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        raw = wants_raw(req)
        arm_token, filters = list_request(req)
        try:
            items, following = self._aml.jobs.page(
                job_type=filters.get("jobType"), tag=filters.get("tag"),
                list_view_type=filters.get("listViewType"), continuation=arm_token)
        except InvalidContinuation:
            raise bad_request("continuationToken", _NOT_OURS) from None
        except AmlPermanentError as exc:
            if arm_token is None or exc.status != 400:
                raise
            raise token_refused(exc, "ARM") from None
        # ARM filters by type, tag key and view; the status is the app's filter, page by page.
        wanted = filters.get("status")
        shown = [item for item in items if wanted is None or job_view(item, None)["status"] == wanted]
        return json_response({
            "value": [with_raw(job_view(item, self._aml.portal_url), item, raw) for item in shown],
            "continuationToken": page_token(following, filters) if following else None,
        })

    def get(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "job name")
        raw = wants_raw(req)
        jobs = self._aml.jobs
        job = jobs.get(name)
        view = job_view(job, self._aml.portal_url)
        view["error"] = None
        if view["status"] == "Failed":
            # ARM's JobBase has no error; the job's run in run history has it.
            code, message = jobs.error(name)
            if code or message:
                view["error"] = {"code": code, "message": message}
        return json_response(with_raw(view, job, raw))

    # -- writes ----------------------------------------------------------------------
    def put(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "job name")
        raw = wants_raw(req)
        job = parse_job_request(object_body(read_json(req)))
        status, answer = self._aml.jobs.put(name, with_compute_ids(job, self._aml.compute_id))
        created = status == 201
        headers = {"Location": f"/api/jobs/{name}"} if created else None
        return json_response(with_raw(job_view(answer, self._aml.portal_url), answer, raw), 201 if created else 200,
                             headers=headers)

    def cancel(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "job name")
        guard_destructive(req, self._settings.allow_destructive, "job cancel", f"job {name}")
        jobs = self._aml.jobs
        state = job_state(jobs.get(name))
        if state.terminal:
            # AML refuses to cancel a finished job (400): say what it is instead.
            raise already_finished(name, state.status)
        try:
            jobs.cancel(name)
        except AmlPermanentError as exc:
            if exc.status != 400:
                raise
            state = job_state(jobs.get(name))
            if not state.terminal:
                raise
            raise already_finished(name, state.status) from None  # it ended between the read and the cancel
        # AML cancels asynchronously; the job shows CancelRequested, then Canceled.
        return json_response({"name": name, "status": "CancelRequested"}, 202,
                             headers={"Location": f"/api/jobs/{name}"})


def already_finished(name: str, status: str) -> ApiError:
    return ApiError(409, "JobAlreadyFinished", f"job {name} already ended {status}; nothing to cancel",
                    details=[{"field": "name", "message": f"the job ended {status}", "status": status}])


# -- request parsing ------------------------------------------------------------------

def parse_job_request(body: dict) -> dict:
    """A job's properties as a schedule's `job` target takes them, without placeholders."""
    reject_placeholders(body)
    tags = body.get("tags")
    if isinstance(tags, dict):
        for key in tags:
            if isinstance(key, str) and key.startswith(RESERVED_TAG_PREFIX):
                raise bad_request(f"tags.{key}", f"tags starting with {RESERVED_TAG_PREFIX} are the scheduler's "
                                                 "own: they mark the jobs it submits for schedule slots")
    with target_rules("target.job"):
        return parse_target({"kind": "job", "job": body}).job


def check_filters(values: dict[str, Any]) -> dict[str, str]:
    """The list filters, each checked; a 400 names the first bad one."""
    rules = {"jobType": JOB_TYPES, "listViewType": LIST_VIEW_TYPES, "status": JOB_STATUSES}
    for key, value in values.items():
        if key not in LIST_FILTERS:
            raise bad_request(key, "unknown filter")
        if key == "tag":
            if not names.is_valid("tag name", value):
                raise bad_request("tag", "must be a tag key: 1-64 letters, digits or '_', starting with a letter")
        elif value not in rules[key]:
            raise bad_request(key, "must be one of " + ", ".join(rules[key]))
    return dict(values)


def list_request(req: func.HttpRequest) -> tuple[str | None, dict[str, str]]:
    """(ARM's token or None, the filters that apply) for a list request."""
    given = check_filters({key: req.params.get(key) for key in LIST_FILTERS if req.params.get(key) is not None})
    token = req.params.get("continuationToken") or None
    if token is None:
        return None, given
    arm_token, carried = read_page_token(token)
    for key in LIST_FILTERS:
        if key in given and given[key] != carried.get(key):
            raise bad_request(key, "differs from the filters of the list this continuationToken belongs to; leave "
                                   "it out (the token keeps them) or start a new list without the token")
    return arm_token, carried


def page_token(arm_token: str, filters: dict[str, str]) -> str:
    doc = {"t": arm_token, "f": filters}
    encoded = base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode("utf-8"))
    return encoded.decode("ascii").rstrip("=")


def read_page_token(token: str) -> tuple[str, dict[str, str]]:
    if not _PAGE_TOKEN.fullmatch(token):
        raise bad_request("continuationToken", _NOT_OURS)
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError):
        raise bad_request("continuationToken", _NOT_OURS) from None
    if (not isinstance(doc, dict) or set(doc) != {"t", "f"} or not isinstance(doc["t"], str) or not doc["t"]
            or not isinstance(doc["f"], dict) or not all(isinstance(v, str) for v in doc["f"].values())):
        raise bad_request("continuationToken", _NOT_OURS)
    try:
        filters = check_filters(doc["f"])
    except ApiError:
        raise bad_request("continuationToken", _NOT_OURS) from None
    return doc["t"], filters


# -- response mapping -----------------------------------------------------------------

def job_view(raw: dict, portal_url: Callable[[str], str] | None) -> dict:
    props = raw.get("properties") if isinstance(raw.get("properties"), dict) else {}
    system = raw.get("systemData") if isinstance(raw.get("systemData"), dict) else {}
    name = _text(raw.get("name"))
    tags = props.get("tags")
    return {
        "name": name,
        "jobType": _text(props.get("jobType")),
        "displayName": _text(props.get("displayName")),
        "experimentName": _text(props.get("experimentName")),
        "status": _text(props.get("status")),
        "computeId": _text(props.get("computeId")),
        "tags": tags if isinstance(tags, dict) else {},
        "createdAt": _text(system.get("createdAt")),
        # Built from the name, never taken from the job's `services` URLs.
        "portalUrl": portal_url(name) if portal_url and names.is_valid("job name", name) else None,
    }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
