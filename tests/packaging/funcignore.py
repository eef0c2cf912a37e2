"""Which files `func azure functionapp publish` puts in the package, the way Core Tools does.

Core Tools does not implement full gitignore: it ports codemix/gitignore-parser. Each
.funcignore line becomes a regex anchored at the start of the path relative to the app
root and *not* anchored at the end, so a pattern matches any path it is a prefix of:
`tests/` drops everything under the top-level tests directory, `*.pyc` only top-level
.pyc files (`*` never crosses a `/`), `**` crosses directories, `?` is a literal. Lines
starting with `!` re-include. Independently of .funcignore it skips directories named
.git or .vscode and files named .funcignore, .gitignore, local.settings.json and
project.lock.json wherever they are. Emulating this, not gitignore, is what makes the
package test honest.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ALWAYS_SKIPPED_DIRS = {".git", ".vscode"}
ALWAYS_SKIPPED_FILES = {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
_SPECIAL = re.compile(r"[\-\[\]/{}()+?.\\^$|]")


def _pattern(line: str) -> str:
    escaped = _SPECIAL.sub(lambda m: "\\" + m.group(), line)
    return escaped.replace("**", "(.+)").replace("*", "([^/]+)")


def _compile(patterns: list[str]) -> re.Pattern[str]:
    if not patterns:
        return re.compile(r"$^")
    return re.compile("^((" + ")|(".join(_pattern(p) for p in sorted(patterns)) + "))")


class FuncIgnore:
    def __init__(self, text: str):
        positive: list[str] = []
        negative: list[str] = []
        for raw in text.split("\n"):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            target = positive
            if line.startswith("!"):
                target, line = negative, line[1:]
            if line.startswith("/"):
                line = line[1:]
            target.append(line)
        self._positive = _compile(positive)
        self._negative = _compile(negative)
        self._has_negative = bool(negative)

    def accepts(self, relative: str) -> bool:
        return bool(self._negative.match(relative)) or not self._positive.match(relative)

    def prunes(self, relative_dir: str) -> bool:
        """True when no file under this directory can be accepted (the regexes are prefix matches)."""
        return not self._has_negative and bool(self._positive.match(relative_dir + "/"))


def package_files(root: Path) -> list[str]:
    """Relative paths (with /) of every file Core Tools would zip from root."""
    ignore_file = root / ".funcignore"
    rules = FuncIgnore(ignore_file.read_text()) if ignore_file.exists() else None
    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        rel_dir = Path(directory).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = sorted(d for d in dirs if d.lower() not in ALWAYS_SKIPPED_DIRS
                         and not (rules and rules.prunes(prefix + d)))
        for name in sorted(files):
            if name.lower() in ALWAYS_SKIPPED_FILES:
                continue
            relative = prefix + name
            if rules is None or rules.accepts(relative):
                found.append(relative)
    return found
