"""Which roles a caller has: every write role also grants Reader, nothing else is implied."""

from __future__ import annotations

import json

import pytest

from shared.access.roles import (
    COMPUTE_ADMIN,
    EDITOR,
    OPERATOR,
    PUBLIC,
    READER,
    ROLES,
    SUBMITTER,
    app_roles_manifest,
    effective,
    grants,
)


@pytest.mark.parametrize("role", [OPERATOR, EDITOR, COMPUTE_ADMIN, SUBMITTER])
def test_every_write_role_grants_reader_and_nothing_else(role):
    assert effective([role]) == {role, READER}


def test_reader_grants_no_write_and_unknown_roles_grant_nothing():
    assert effective([READER]) == {READER}
    assert not grants([READER], EDITOR) and not grants([EDITOR], OPERATOR) and not grants([OPERATOR], EDITOR)
    assert effective(["Scheduler.Admin", "scheduler.reader"]) == set()
    assert grants([], PUBLIC)


def test_the_manifest_declares_each_role_once_with_a_stable_id():
    manifest = app_roles_manifest()
    assert [r["value"] for r in manifest] == list(ROLES)
    assert len({r["id"] for r in manifest}) == len(ROLES)
    assert manifest == app_roles_manifest() and json.loads(json.dumps(manifest)) == manifest
    assert all(r["allowedMemberTypes"] == ["User", "Application"] and r["isEnabled"] for r in manifest)
