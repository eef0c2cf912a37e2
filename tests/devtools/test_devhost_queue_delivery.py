"""Message bodies as the host decodes them: base64 by default, with .NET's tolerance for whitespace."""

from __future__ import annotations

import base64

from devtools.devhost.queue_delivery import decode_body


def test_base64_bodies_decode_to_the_bytes_sent():
    text = "héllo ✓".encode()
    assert decode_body(base64.b64encode(text).decode(), "base64") == text
    assert decode_body("aGVs\r\nbG8=", "base64") == b"hello"  # line breaks are skipped
    assert decode_body("", "base64") == b""


def test_text_that_is_not_base64_does_not_decode():
    for text in ('{"slot": 1}', "hello", "aGVsbG8", "aGVs*G8="):
        assert decode_body(text, "base64") is None


def test_plain_text_that_happens_to_be_base64_decodes_to_other_bytes_as_in_the_host():
    # Why a producer must encode: "abcd" is valid base64, so the function gets garbage.
    assert decode_body("abcd", "base64") == base64.b64decode("abcd")


def test_encoding_none_passes_the_text_through():
    assert decode_body('{"slot": 1}', "none") == b'{"slot": 1}'
