"""Find credentials in log text: bearer tokens, Authorization values, storage keys, passwords, webhook URLs.

The test suite runs this over every log it produced (its own captured records and the
local stack's log files) and fails when anything turns up; see tests/conftest.py.
Findings name the file, line and kind of secret, never the secret itself.

    python -m devtools.secret_scan FILE...      # exit status 1 when something is found
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

PATTERNS: dict[str, re.Pattern[str]] = {
    # JWTs (every Entra ID access token, and the identity emulator's) start with eyJ: base64 of '{"'.
    "bearer token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "Authorization header value": re.compile(
        r"authorization['\"]?\s*[:=]\s*['\"]?\s*(?:bearer|basic|sharedkey|sharedaccesssignature)\s+[^\s'\",]{4,}",
        re.IGNORECASE),
    "storage account key": re.compile(r"AccountKey=[A-Za-z0-9+/]{16,}={0,2}"),
    "adminUserPassword value": re.compile(r"adminUserPassword['\"]?\s*[:=]\s*['\"]?[^\s'\",}{]+", re.IGNORECASE),
    "identity header value": re.compile(
        r"x-identity-header['\"]?\s*[:=]\s*['\"]?(?!redacted)[^\s'\",]{4,}", re.IGNORECASE),
    # Incoming webhooks carry their token in the path (Slack, Teams) or the query (Power Automate,
    # Logic Apps); their masked form (https://hooks.slack.com/***) does not match.
    "webhook URL": re.compile(
        r"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_-]{4,}"
        r"|webhook\.office\.com/webhookb2/[^\s'\"*]{8,}"
        r"|logic\.azure\.com[^\s'\"]*[?&]sig=[^\s&'\"*]{8,}", re.IGNORECASE),
}


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}"


def scan_text(text: str, secrets: Iterable[str] = (), where: str = "text") -> list[Finding]:
    """Every line of `text` that holds a pattern or one of the literal `secrets`."""
    literals = [s for s in secrets if s and len(s) >= 8]
    findings = []
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            if pattern.search(line):
                findings.append(Finding(f"{where}:{number}", kind))
        for literal in literals:
            if literal in line:
                findings.append(Finding(f"{where}:{number}", "known secret value"))
    return findings


def scan_files(paths: Iterable[Path], secrets: Iterable[str] = ()) -> list[Finding]:
    secrets = list(secrets)
    findings = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        findings.extend(scan_text(text, secrets, where=str(path)))
    return findings


def main(argv: list[str] | None = None) -> int:
    findings = scan_files(Path(p) for p in (argv if argv is not None else sys.argv[1:]))
    for finding in findings:
        print(finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
