from shared.aml.transport import parse_retry_after


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:05 GMT", now=1795341600.0) == 5.0
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:05 GMT", now=1795341700.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
