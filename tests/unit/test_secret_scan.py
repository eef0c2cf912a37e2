"""The log scanner that guards the suite finds what it must, and names no secret itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from devtools.identity_emulator import encode_token
from devtools.secret_scan import main, scan_files, scan_text

TOKEN = encode_token({"aud": "https://management.azure.com", "oid": "x"})


@pytest.mark.parametrize("line, kind", [
    (f"cached token {TOKEN} for management.azure.com", "bearer token"),
    ("Authorization: Bearer abcdefghijklmnop", "Authorization header value"),
    ("conn=DefaultEndpointsProtocol=http;AccountName=a;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IF==;",
     "storage account key"),
    ('body {"properties": {"adminUserPassword": "hunter2!"}}', "adminUserPassword value"),
    ("X-IDENTITY-HEADER: 3f9c2d1e0b8a", "identity header value"),
    ("posting to https://hooks.slack.com/services/T0000/B0000/XXXXXXXX", "webhook URL"),
    ("url=https://contoso.webhook.office.com/webhookb2/1234@5678/IncomingWebhook/ab/cd", "webhook URL"),
    ("https://prod-27.westeurope.logic.azure.com:443/workflows/a/triggers/manual/paths/invoke?api-version=1&sig=AbCdEf0123",
     "webhook URL"),
])
def test_each_kind_of_secret_is_found(line, kind):
    findings = scan_text(f"ok line\n{line}\n", where="app.log")
    assert [f.kind for f in findings] == [kind]
    assert findings[0].where == "app.log:2"


def test_known_values_are_found_and_never_printed(capsys):
    secret = "local-identity-header-7f3a9c"
    with tempfile.TemporaryDirectory() as folder:  # outside the session's scanned folders on purpose
        planted = Path(folder) / "devhost.log"
        planted.write_text(f"started\nheader was {secret}\n", encoding="utf-8")
        findings = scan_files([planted], secrets=[secret])
        assert [str(f) for f in findings] == [f"{planted}:2: known secret value"]
        assert main([str(planted)]) == 0  # no pattern matches; only the registered value did
        planted.write_text(f"token {TOKEN}\n", encoding="utf-8")
        assert main([str(planted)]) == 1
    assert secret not in capsys.readouterr().out and TOKEN not in capsys.readouterr().out


@pytest.mark.parametrize("line", [
    "'Authorization': 'REDACTED'",
    "adminUserPassword is not accepted; use an SSH public key",
    "X-IDENTITY-HEADER: REDACTED",
    "AML GET /subscriptions/0000/computes/cpu-cluster -> 404 ResourceNotFound",
    "alert failed of incident s1-1 delivered to https://hooks.slack.com/*** (delivery 1)",
    "alert not sent to https://contoso.webhook.office.com/***: host is not on the allow-list",
    "alert delivered to https://prod-27.westeurope.logic.azure.com:443/***",
])
def test_harmless_lines_pass(line):
    assert scan_text(line) == []
