"""The console's routes: the page, its allow-listed assets with their headers, and `me`."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

from shared.access.guard import acting_as
from shared.access.principal import Principal
from shared.access.roles import OPERATOR, READER, ROLES
from shared.api import console
from shared.api.console import ASSET_DIR, ASSETS, PAGE
from shared.blueprints.console import console_asset, console_page, me


def get(handler, path: str, route_params: dict | None = None, headers: dict | None = None) -> func.HttpResponse:
    return handler(func.HttpRequest("GET", f"http://localhost/api/{path}", body=b"", headers=headers or {},
                                    route_params=route_params or {}))


def header(response: func.HttpResponse, name: str) -> str | None:
    return response.headers.get(name)


def content_type(response: func.HttpResponse) -> str:
    return f"{response.mimetype}; charset={response.charset}"


def test_the_page_is_html_with_strict_headers():
    response = get(console_page, "console")
    assert response.status_code == 200
    assert content_type(response) == "text/html; charset=utf-8"
    assert response.get_body() == (ASSET_DIR / PAGE).read_bytes()
    csp = header(response, "Content-Security-Policy")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Referrer-Policy") == "no-referrer"
    assert header(response, "Cache-Control") == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', header(response, "ETag"))


def test_a_trailing_slash_is_redirected_to_the_page_itself():
    response = get(console_page, "console/")
    assert response.status_code == 308 and header(response, "Location") == "../console"


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_each_allowed_asset_is_served_with_its_type(name):
    response = get(console_asset, f"console/assets/{name}", {"name": name})
    assert response.status_code == 200, response.get_body()
    expected = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]]
    assert content_type(response) == f"{expected}; charset=utf-8"
    assert response.get_body() == (ASSET_DIR / name).read_bytes()
    assert header(response, "X-Content-Type-Options") == "nosniff"
    assert header(response, "Content-Security-Policy").startswith("default-src 'self'")


@pytest.mark.parametrize("name", ["missing.js", "console-old.css", "logo.svg"])
def test_well_formed_names_outside_the_allow_list_are_404_in_the_error_envelope(name):
    response = get(console_asset, f"console/assets/{name}", {"name": name})
    assert response.status_code == 404
    assert json.loads(response.get_body())["error"]["code"] == "NotFound"
    assert name.encode() not in response.get_body()


@pytest.mark.parametrize("name", [PAGE, "../api/console.py", "..%2Fconsole.py", "console.JS", "/etc/passwd", "",
                                  "console.js/", "__init__.py", "a\nb.js"])
def test_malformed_names_are_400_naming_the_parameter_and_never_echoed(name):
    response = get(console_asset, f"console/assets/{name}", {"name": name})
    assert response.status_code == 400
    error = json.loads(response.get_body())["error"]
    assert error["code"] == "ValidationFailed" and error["details"][0]["field"] == "name"
    assert name.encode() not in response.get_body() or not name


def test_a_matching_etag_answers_304_without_a_body():
    first = get(console_asset, "console/assets/console.js", {"name": "console.js"})
    etag = header(first, "ETag")
    again = get(console_asset, "console/assets/console.js", {"name": "console.js"},
                headers={"If-None-Match": f'"other", W/{etag}'})
    assert again.status_code == 304 and again.get_body() == b"" and header(again, "ETag") == etag
    other = get(console_asset, "console/assets/console.js", {"name": "console.js"}, headers={"If-None-Match": '"x"'})
    assert other.status_code == 200


def test_every_shipped_file_is_allow_listed_and_every_listed_one_exists():
    shipped = {p.name for p in ASSET_DIR.iterdir() if p.is_file()}
    assert shipped == set(ASSETS) | {PAGE}


def test_me_answers_the_function_key_caller_with_every_role():
    response = get(me, "me")
    assert response.status_code == 200
    assert json.loads(response.get_body()) == {"mode": "functionKey", "name": "function key", "roles": list(ROLES)}
    assert "Scheduler.Operator" in ROLES


def test_me_answers_a_signed_in_caller_with_the_roles_they_hold_and_imply():
    operator = Principal("8a1d6b0e-4c3f-4b7a-9d2e-1f0c5a6b7c8d", "alice@contoso.com", frozenset({OPERATOR}), "entra")
    with acting_as(operator):
        response = console.me(func.HttpRequest("GET", "http://localhost/api/me", body=b""))
    assert json.loads(response.get_body()) == {"mode": "entra", "name": "alice@contoso.com",
                                               "roles": [READER, OPERATOR]}


# -- what the assets are allowed to contain (the CSP would block the rest in a browser) --

def test_the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere():
    html = (ASSET_DIR / PAGE).read_text()
    assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="console/assets/console.js">']
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html, re.IGNORECASE)
    linked = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    assert linked and all(url.startswith("console/assets/") and url.split("/")[-1] in ASSETS for url in linked)


@pytest.mark.parametrize("name", sorted(n for n in ASSETS if n.endswith(".js")))
def test_scripts_build_the_dom_from_text_and_import_only_allow_listed_modules(name):
    source = (ASSET_DIR / name).read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                         r"setAttribute\(\s*[\"']style", source)
    for imported in re.findall(r'from\s+"([^"]+)"', source):
        assert imported.startswith("./") and imported[2:] in ASSETS, imported
    # The only absolute URL a script may spell is SVG's namespace (a name, never fetched).
    assert set(re.findall(r"https?://[^\s\"'`]+", source)) <= {"http://www.w3.org/2000/svg"}


def test_the_key_goes_out_as_a_header_and_never_into_a_url():
    source = (ASSET_DIR / "api.js").read_text()
    assert 'headers["x-functions-key"] = key' in source
    assert "sessionStorage" in source and "localStorage" not in source
    for name in ASSETS:
        assert "code=" not in (ASSET_DIR / name).read_text(), name
