"""HTTP handlers for experiments and runs (AML run history and execution services).

A run is submitted as AML's own multipart upload (`runDefinitionFile`, `projectZipFile`),
checked here first: size-capped, the definition a JSON object without passwords, the
archive a sound zip whose entries stay inside it. Nothing reaches AML before all checks
pass.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import stat
import zipfile
from typing import Any

import azure.functions as func

from shared.aml import names
from shared.aml.client import AmlClient
from shared.aml.errors import AmlPermanentError
from shared.aml.runs import RUN_STATUSES, RunsClient
from shared.api.http import ApiError, bad_request, json_response, parse_json
from shared.api.proxy import (
    aml_error_view,
    guard_destructive,
    query_flag,
    reject_passwords,
    route_value,
    token_refused,
    wants_raw,
    with_raw,
)
from shared.config import Settings

MAX_DEFINITION_BYTES = 1024 * 1024
MAX_ZIP_ENTRIES = 10_000
# Bounds the work of checking CRCs: zipfile stops at each entry's declared size.
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
UPLOAD_FIELDS = ("runDefinitionFile", "projectZipFile")
MAX_AML_TOKEN_CHARS = 4096
TOKEN_PREFIX = "r"
# base64url of at most MAX_AML_TOKEN_CHARS bytes, unpadded, after the prefix.
_OUR_TOKEN = re.compile(r"r[A-Za-z0-9_-]{2,5462}")


class RunHandlers:
    def __init__(self, runs: RunsClient, aml: AmlClient, settings: Settings):
        self._runs = runs
        self._aml = aml
        self._settings = settings

    # -- experiments -----------------------------------------------------------------
    def experiment_get(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "experiment name")
        raw = wants_raw(req)
        experiment = self._runs.get_experiment(name)
        return json_response(with_raw(experiment_view(experiment), experiment, raw))

    def experiment_create(self, req: func.HttpRequest) -> func.HttpResponse:
        name = route_value(req, "name", "experiment name")
        raw = wants_raw(req)
        if (req.get_body() or b"").strip():
            raise bad_request("body", "must be empty: an experiment is created from its name alone")
        experiment = self._runs.create_experiment(name)
        return json_response(with_raw(experiment_view(experiment), experiment, raw))

    # -- runs ------------------------------------------------------------------------
    def submit(self, req: func.HttpRequest) -> func.HttpResponse:
        experiment = route_value(req, "name", "experiment name")
        raw = wants_raw(req)
        run_id = req.params.get("runId")
        if run_id is not None and not names.is_valid("run id", run_id):
            raise bad_request("runId", "must be 1-255 letters, digits, '-' or '_', starting with a letter or digit")
        definition, project_zip = self._read_upload(req)
        started = self._runs.start_run(experiment, definition, project_zip, run_id=run_id)
        new_id = started.get("runId")
        if not isinstance(new_id, str) or not names.is_valid("run id", new_id):
            raise ApiError(502, "AmlError", "AML accepted the run but returned no usable run id",
                           details=[{"field": "aml", "message": "no runId in the answer", "amlStatus": None,
                                     "amlCode": None}])
        view = {"runId": new_id, "experimentName": experiment, "status": "NotStarted",
                "portalUrl": self._aml.portal_url(new_id)}
        return json_response(with_raw(view, started, raw), 201,
                             headers={"Location": f"/api/experiments/{experiment}/runs/{new_id}"})

    def list(self, req: func.HttpRequest) -> func.HttpResponse:
        experiment = route_value(req, "name", "experiment name")
        raw = wants_raw(req)
        status = req.params.get("status")
        if status is not None and status not in RUN_STATUSES:
            raise bad_request("status", "must be one of " + ", ".join(RUN_STATUSES))
        token = req.params.get("continuationToken") or None
        aml_token = amls_token(token) if token is not None else None
        try:
            page = self._runs.query_runs(experiment, status=status, continuation_token=aml_token)
        except AmlPermanentError as exc:
            if aml_token is None or exc.status != 400:
                raise
            raise token_refused(exc, "AML") from None
        runs = [r for r in (page.get("value") or []) if isinstance(r, dict)]
        next_token = page.get("continuationToken")
        return json_response({
            "value": [with_raw(self._run_view(experiment, r), r, raw) for r in runs],
            "continuationToken": our_token(next_token) if isinstance(next_token, str) and next_token else None,
        })

    def get(self, req: func.HttpRequest) -> func.HttpResponse:
        experiment = route_value(req, "name", "experiment name")
        run_id = route_value(req, "runId", "run id")
        raw = wants_raw(req)
        details = query_flag(req, "details")
        run = self._aml.get_run(experiment, run_id).raw
        view = self._run_view(experiment, run)
        raw_doc: Any = run
        if details:
            more = self._runs.get_run_details(experiment, run_id)
            view["details"] = details_view(more)
            raw_doc = {"run": run, "details": more}
        return json_response(with_raw(view, raw_doc, raw))

    def cancel(self, req: func.HttpRequest) -> func.HttpResponse:
        experiment = route_value(req, "name", "experiment name")
        run_id = route_value(req, "runId", "run id")
        raw = wants_raw(req)
        guard_destructive(req, self._settings.allow_destructive, "run cancel", f"run {run_id} of {experiment}")
        state = self._aml.get_run(experiment, run_id)
        if state.terminal:
            # AML would accept the cancel and change nothing: say so instead of "requested".
            raise ApiError(409, "RunAlreadyFinished", f"run {run_id} already ended {state.status}; nothing to cancel",
                           details=[{"field": "runId", "message": f"the run ended {state.status}",
                                     "status": state.status}])
        answer = self._aml.cancel_run(experiment, run_id)
        view = {"runId": run_id, "experimentName": experiment, "cancelRequested": True}
        return json_response(with_raw(view, answer, raw), 202)

    # -- helpers ---------------------------------------------------------------------
    def _run_view(self, experiment: str, raw: dict) -> dict:
        view = run_view(raw, experiment)
        run_id = view.get("runId")
        view["portalUrl"] = self._aml.portal_url(run_id) if names.is_valid("run id", run_id) else None
        return view

    def _read_upload(self, req: func.HttpRequest) -> tuple[bytes, bytes]:
        body = req.get_body() or b""
        cap = self._settings.max_upload_bytes
        if len(body) > cap:
            raise ApiError(413, "PayloadTooLarge", f"request body exceeds {cap} bytes (AML_PROXY_MAX_UPLOAD_MB)")
        content_type = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "multipart/form-data":
            raise ApiError(415, "UnsupportedMediaType",
                           "Content-Type must be multipart/form-data with runDefinitionFile and projectZipFile")
        try:
            files, form = req.files, req.form
        except Exception:  # werkzeug reports malformed multipart bodies in several ways
            raise bad_request("body", "malformed multipart/form-data body") from None
        for field in list(files.keys()) + list(form.keys()):
            if field not in UPLOAD_FIELDS:
                raise bad_request(field, "unknown part; send runDefinitionFile and projectZipFile only")
        parts = {}
        for field in UPLOAD_FIELDS:
            uploads = files.getlist(field)
            if len(uploads) != 1:
                raise bad_request(field, "exactly one file part is required")
            parts[field] = uploads[0].read()
        definition = parts["runDefinitionFile"]
        if len(definition) > MAX_DEFINITION_BYTES:
            raise ApiError(413, "PayloadTooLarge", f"runDefinitionFile exceeds {MAX_DEFINITION_BYTES} bytes")
        parsed = parse_json(definition, "runDefinitionFile")
        if not isinstance(parsed, dict):
            raise bad_request("runDefinitionFile", "must be a JSON object (the run definition)")
        reject_passwords(parsed, "runDefinitionFile")
        check_project_zip(parts["projectZipFile"])
        return definition, parts["projectZipFile"]


def our_token(aml_token: str) -> str:
    """AML's continuation token wrapped in this API's own shape, so what comes back can be checked."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(aml_token.encode("utf-8")).decode("ascii").rstrip("=")


def amls_token(token: str) -> str:
    """The AML token inside one of `our_token`'s tokens; a 400 for anything this API did not issue."""
    if not _OUR_TOKEN.fullmatch(token):
        raise bad_request("continuationToken", "is not a token from a previous page of this list")
    try:
        inner = base64.urlsafe_b64decode(token[1:] + "=" * (-len(token[1:]) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise bad_request("continuationToken", "is not a token from a previous page of this list") from None
    if not inner or len(inner) > MAX_AML_TOKEN_CHARS or not inner.isprintable():
        raise bad_request("continuationToken", "is not a token from a previous page of this list")
    return inner


def check_project_zip(data: bytes) -> None:
    """400 unless `data` is a sound zip whose entries all stay inside the archive."""
    field = "projectZipFile"
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise bad_request(field, "is not a readable zip archive") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ZIP_ENTRIES:
            raise bad_request(field, f"has more than {MAX_ZIP_ENTRIES} entries")
        total = 0
        for info in entries:
            name = info.filename
            parts = name.replace("\\", "/").split("/")
            if (not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":")
                    or ".." in parts or "\x00" in name):
                raise bad_request(field, "has an entry with an absolute path or '..'")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise bad_request(field, "has a symbolic link entry")
            total += info.file_size
        if total > MAX_UNCOMPRESSED_BYTES:
            raise bad_request(field, f"expands to more than {MAX_UNCOMPRESSED_BYTES} bytes")
        try:
            broken = archive.testzip()
        except (zipfile.BadZipFile, RuntimeError, ValueError, OSError, EOFError):  # RuntimeError covers unsupported compression
            raise bad_request(field, "is corrupt") from None
        except Exception:  # zlib.error and friends: the archive lies about its contents
            raise bad_request(field, "is corrupt") from None
        if broken is not None:
            raise bad_request(field, "is corrupt (an entry fails its CRC check)")


# -- response mapping -----------------------------------------------------------------

def experiment_view(raw: dict) -> dict:
    return {
        "experimentId": raw.get("experimentId"),
        "name": raw.get("name"),
        "description": raw.get("description"),
        "createdAt": raw.get("createdUtc"),
        "archived": raw.get("archivedTime") is not None,
        "tags": raw.get("tags") or {},
    }


def run_view(raw: dict, experiment: str) -> dict:
    return {
        "runId": raw.get("runId"),
        "experimentName": experiment,
        "experimentId": raw.get("experimentId"),
        "runNumber": raw.get("runNumber"),
        "status": raw.get("status"),
        "runType": raw.get("runType"),
        "displayName": raw.get("displayName"),
        "description": raw.get("description"),
        "target": raw.get("target"),
        "parentRunId": raw.get("parentRunId"),
        "createdAt": raw.get("createdUtc"),
        "startedAt": raw.get("startTimeUtc"),
        "endedAt": raw.get("endTimeUtc"),
        "duration": raw.get("duration"),
        "error": aml_error_view(raw.get("error")),
        "tags": raw.get("tags") or {},
        "properties": raw.get("properties") or {},
    }


def details_view(raw: dict) -> dict:
    log_files = raw.get("logFiles")
    warnings = raw.get("warnings")
    return {
        "target": raw.get("target"),
        "status": raw.get("status"),
        "computeDuration": raw.get("computeDuration"),
        "effectiveStartedAt": raw.get("effectiveStartTimeUtc"),
        "logFiles": sorted(log_files) if isinstance(log_files, dict) else [],
        "warnings": [w.get("message") for w in warnings if isinstance(w, dict)] if isinstance(warnings, list) else [],
        "error": aml_error_view(raw.get("error")),
    }
