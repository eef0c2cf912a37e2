"""The caller from Easy Auth's X-MS-CLIENT-PRINCIPAL: what counts as a role, an id, a name; malformed is refused."""

from __future__ import annotations

import base64
import json

import pytest

from shared.access.principal import PrincipalError, from_headers

OID_URI = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
OID = "5b5450db-eb26-4c1a-981c-ba1d25f0483d"


def encoded(document) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def principal(*claims, role_typ=ROLE_URI, name_typ="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"):
    return {"X-MS-CLIENT-PRINCIPAL": encoded({"auth_typ": "aad", "name_typ": name_typ, "role_typ": role_typ,
                                              "claims": [{"typ": t, "val": v} for t, v in claims]})}


def test_a_user_token_as_easy_auth_maps_it():
    found = from_headers(principal((OID_URI, OID), ("name", "Alice Example"), ("preferred_username", "alice@contoso.com"),
                                   ("roles", "Scheduler.Reader"), (ROLE_URI, "Scheduler.Operator"),
                                   ("groups", "f08bbbea-b793-4a36-a5fc-136c18d8aa8f")))
    assert (found.id, found.name, found.kind) == (OID, "Alice Example", "entra")
    assert found.roles == {"Scheduler.Reader", "Scheduler.Operator"}
    assert found.actor() == {"id": OID, "name": "Alice Example"}


def test_roles_follow_the_principals_own_role_type_and_ignore_other_claims():
    found = from_headers(principal(("oid", OID), ("custom/role", "Scheduler.Editor"), ("groups", "Scheduler.Editor"),
                                   role_typ="custom/role"))
    assert found.roles == {"Scheduler.Editor"}


def test_name_falls_back_to_preferred_username_then_the_name_header_then_the_id():
    assert from_headers(principal(("oid", OID), ("preferred_username", "bob@contoso.com"))).name == "bob@contoso.com"
    headers = {**principal(("oid", OID)), "X-MS-CLIENT-PRINCIPAL-NAME": "daemon-app"}
    assert from_headers(headers).name == "daemon-app"
    assert from_headers(principal(("oid", OID))).name == OID


def test_an_app_without_an_oid_claim_is_named_by_the_id_header():
    headers = {**principal(("roles", "Runs.Submitter")), "X-MS-CLIENT-PRINCIPAL-ID": OID}
    assert from_headers(headers).id == OID


def test_no_header_is_no_principal():
    assert from_headers({}) is None and from_headers({"X-MS-CLIENT-PRINCIPAL": "  "}) is None


def test_values_are_made_safe_to_store_and_log():
    found = from_headers(principal(("oid", OID), ("name", "eve\r\nInjected: line" + "x" * 500)))
    assert "\n" not in found.name and "\r" not in found.name and len(found.name) == 256


@pytest.mark.parametrize("raw, says", [
    ("%%%not base64%%%", "not base64"),
    (base64.b64encode(b"\xff\xfe").decode(), "not base64-encoded JSON"),
    (base64.b64encode(b"{not json").decode(), "not base64-encoded JSON"),
    (encoded([1, 2]), "JSON object"),
    (encoded({"claims": "roles"}), "no claims list"),
    (encoded({"claims": [{"typ": "roles", "val": "Scheduler.Reader"}]}), "no object id"),
    (base64.b64encode(b"[" * 100_000 + b"]" * 100_000).decode(), "longer than"),
    (base64.b64encode(b"[" * 20_000 + b"]" * 20_000).decode(), "not base64-encoded JSON"),
])
def test_malformed_principals_are_refused_with_a_reason(raw, says):
    with pytest.raises(PrincipalError, match=says):
        from_headers({"X-MS-CLIENT-PRINCIPAL": raw})


def test_claims_of_another_shape_are_left_out_not_fatal():
    document = {"claims": [{"typ": "oid", "val": OID}, {"typ": "roles", "val": 7}, "roles", {"typ": "roles"},
                           {"typ": "roles", "val": "Compute.Admin"}]}
    found = from_headers({"X-MS-CLIENT-PRINCIPAL": encoded(document)})
    assert found.roles == {"Compute.Admin"}
