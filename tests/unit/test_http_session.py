"""The process's HTTP session: environment read once, not on every call."""

from shared.http_session import new_session


def test_the_session_takes_proxies_and_ca_bundle_from_the_environment_once(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    session = new_session()
    monkeypatch.delenv("HTTPS_PROXY")
    assert session.trust_env is False
    assert session.proxies["https"] == "http://proxy.example:3128"  # kept, though the variable is gone
    assert session.verify == "/etc/ssl/corp.pem"


def test_no_proxy_settings_mean_none(monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY", "all_proxy",
                 "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    session = new_session()
    assert not {k: v for k, v in session.proxies.items() if k != "no"} and session.verify is True
