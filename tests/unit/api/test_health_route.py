"""GET /api/health keeps working after its first call in a warm worker."""

import json

import azure.functions as func

from shared.blueprints.docs import health


def test_health_answers_the_same_way_every_time(monkeypatch):
    # Without settings the answer is a quick 503 naming what is missing; the point is
    # that the second and third calls in the same process still reach the check.
    monkeypatch.delenv("AML_SUBSCRIPTION_ID", raising=False)
    answers = []
    for _ in range(3):
        response = health(func.HttpRequest("GET", "http://localhost/api/health", body=b""))
        answers.append((response.status_code, json.loads(response.get_body())["status"]))
    assert answers == [(503, "unhealthy")] * 3
