"""Request parsing shared by every route: the JSON depth cap and the Content-Type rule."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from shared.api.http import MAX_JSON_DEPTH, ApiError, nesting_exceeds, parse_json, read_json


def request(body: bytes, content_type: str | None = "application/json") -> func.HttpRequest:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    return func.HttpRequest("POST", "http://localhost/api/x", headers=headers, body=body)


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@pytest.mark.parametrize("text, depth", [
    ("1", 0), ("{}", 1), (nested(5), 5), ('{"a": [{"b": {}}]}', 4),
    ('["[[[[", "{{{{"]', 1),           # brackets inside strings do not nest
    ('["a\\"[[[[", "b"]', 1),          # nor after an escaped quote
    ('["\\\\", [[]]]', 3),             # an escaped backslash ends before the quote that closes the string
])
def test_nesting_counts_arrays_and_objects_outside_strings(text, depth):
    assert json.loads(text) is not None
    assert not nesting_exceeds(text, depth)
    assert nesting_exceeds(text, depth - 1) == (depth > 0)


def test_documents_up_to_the_cap_parse():
    assert parse_json(nested(MAX_JSON_DEPTH).encode(), "body") is not None


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000])
def test_deeper_documents_are_a_400_naming_the_field(depth):
    with pytest.raises(ApiError) as caught:
        parse_json(nested(depth).encode(), "runDefinitionFile")
    assert caught.value.status == 400 and caught.value.details[0]["field"] == "runDefinitionFile"
    assert f"nested deeper than {MAX_JSON_DEPTH}" in caught.value.message


def test_a_body_without_content_type_is_refused_as_415():
    with pytest.raises(ApiError) as caught:
        read_json(request(b'{"a": 1}', content_type=None))
    assert caught.value.status == 415 and "application/json" in caught.value.message


def test_an_empty_body_without_content_type_is_the_missing_body_400():
    with pytest.raises(ApiError) as caught:
        read_json(request(b"", content_type=None))
    assert caught.value.status == 400 and caught.value.details[0]["field"] == "body"


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_json_with_its_content_type_is_parsed(content_type):
    assert read_json(request(b'{"a": [1]}', content_type)) == {"a": [1]}


@pytest.mark.parametrize("raw", ["", " 5", "5.0", "+5", "1e3", "٥"])
def test_a_query_number_is_plain_digits(raw):
    from shared.api.http import query_int

    req = func.HttpRequest("GET", "http://localhost/api/x", params={"limit": raw}, body=b"")
    with pytest.raises(ApiError) as caught:
        query_int(req, "limit", 50, 1, 500)
    assert caught.value.details[0]["field"] == "limit"
