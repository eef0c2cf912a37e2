"""The local webhook receiver records what it is sent and answers as asked, or not at all."""

import pytest
import requests

from devtools.webhook_receiver import WebhookReceiver


def test_it_records_posts_and_answers_as_asked():
    seen = []
    with WebhookReceiver(on_message=seen.append) as receiver:
        assert requests.post(receiver.url("/a/b"), json={"text": "hello"}, timeout=5).status_code == 200
        receiver.respond_with(503)
        assert requests.post(receiver.url("/a/b"), data="not json", timeout=5).status_code == 503
        receiver.respond_with(302, location=receiver.url("/elsewhere"))
        answer = requests.post(receiver.url("/a/b"), json={}, timeout=5, allow_redirects=False)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/elsewhere")
    assert [(r.path, r.body, r.status) for r in seen] == [("/a/b", {"text": "hello"}, 200), ("/a/b", "not json", 503),
                                                          ("/a/b", {}, 302)]


def test_a_hanging_receiver_answers_nothing_until_released():
    with WebhookReceiver() as receiver:
        receiver.hang()
        with pytest.raises(requests.Timeout):
            requests.post(receiver.url(), json={"text": "x"}, timeout=(1, 0.3))
        receiver.release()
        assert requests.post(receiver.url(), json={"text": "y"}, timeout=5).status_code == 200
        assert [r.status for r in receiver.messages()] == [None, 200]
