from shared.aml.transport import parse_retry_after


def test_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:05 GMT", now=1795341600.0) == 5.0
    assert parse_retry_after("Sun, 22 Nov 2026 10:00:05 GMT", now=1795341700.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_a_credential_that_fails_is_a_transient_aml_error_and_nothing_is_sent():
    import pytest
    import requests

    from shared.aml.errors import AmlTransientError
    from shared.aml.transport import AmlTransport

    class BrokenIdentity:
        def token(self, scope):
            raise RuntimeError("identity endpoint unreachable at http://secret-host/")

    class NoNetwork(requests.Session):
        def request(self, *args, **kwargs):
            raise AssertionError("nothing may be sent without a token")

    transport = AmlTransport(BrokenIdentity(), allowed_hosts=frozenset({"aml.example"}), max_retries=2,
                             session=NoNetwork(), sleep=lambda seconds: None)
    with pytest.raises(AmlTransientError) as caught:
        transport.request("POST", "https://aml.example/x", scope="https://ml.azure.com/.default")
    error = caught.value
    assert (error.code, error.uncertain, error.retryable) == ("TokenUnavailable", False, True)
    assert "secret-host" not in error.message and "RuntimeError" in error.message
