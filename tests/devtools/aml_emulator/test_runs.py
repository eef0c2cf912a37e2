"""Run history: run lifecycle, cancel, runs:query and list filters, experiments."""

from __future__ import annotations

import uuid

import pytest

from tests.devtools.aml_emulator.support import assert_error_shape


class TestCancel:
    def test_cancel_goes_through_cancel_requested_to_canceled(self, aml, client):
        aml.register_pipeline("slow", duration_seconds=30)
        run_id = client.submit("slow").json()["Id"]
        response = client.session.post(
            client.url("execution", f"experiments/batch_scoring/runId/{run_id}/cancel"), timeout=5)
        assert response.status_code == 200
        assert response.json() == {"runId": run_id}
        assert client.run(run_id).json()["status"] == "CancelRequested"
        dto, _ = client.wait_for(run_id, {"Canceled"})
        assert dto["endTimeUtc"] is not None

    def test_cancel_of_a_finished_run_is_a_no_op(self, aml, client):
        aml.register_pipeline("instant", duration_seconds=0)
        run_id = client.submit("instant").json()["Id"]
        response = client.session.post(
            client.url("execution", f"experiments/batch_scoring/runId/{run_id}/cancel"), timeout=5)
        assert response.status_code == 200
        assert client.run(run_id).json()["status"] == "Completed"

    def test_cancel_in_the_wrong_experiment_is_404(self, client):
        run_id = client.submit().json()["Id"]
        response = client.session.post(
            client.url("execution", f"experiments/other/runId/{run_id}/cancel"), timeout=5)
        assert_error_shape(response, 404)
        assert_error_shape(client.run(run_id, experiment="other"), 404)
        assert_error_shape(client.run(str(uuid.uuid4())), 404)


class TestQueries:
    @pytest.fixture
    def tagged(self, client):
        ids = {}
        for key in ("a", "b"):
            ids[key] = client.submit(Tags={"runKey": f"nightly-{key}", "scheduleId": "nightly"}).json()["Id"]
        return ids

    def query(self, client, body, experiment="batch_scoring"):
        return client.session.post(client.url("history", f"experiments/{experiment}/runs:query"),
                                   json=body, timeout=5)

    @pytest.mark.parametrize("expression", ["Tags/runKey eq 'nightly-a'", '(Tags/runKey eq "nightly-a")'])
    def test_runs_query_filters_by_tag(self, client, tagged, expression):
        page = self.query(client, {"filter": expression}).json()
        assert [r["runId"] for r in page["value"]] == [tagged["a"]]
        assert page["continuationToken"] is None and page["nextLink"] is None

    def test_runs_query_combines_and_orders(self, client, tagged):
        page = self.query(client, {"filter": "Tags/scheduleId eq 'nightly' and Status ne 'Failed'",
                                   "orderBy": "CreatedUtc desc", "top": 5}).json()
        assert [r["runId"] for r in page["value"]] == [tagged["b"], tagged["a"]]
        assert len(self.query(client, {"top": 1}).json()["value"]) == 1

    def test_list_with_odata_filter_query_string(self, client, tagged):
        response = client.session.get(client.url("history", "experiments/batch_scoring/runs"),
                                      params={"$filter": "Tags/runKey eq 'nightly-b'"}, timeout=5)
        assert [r["runId"] for r in response.json()["value"]] == [tagged["b"]]

    def test_pages_carry_a_continuation_token(self, aml, client, tagged):
        aml.query_page_size = 1
        first = self.query(client, {}).json()
        assert len(first["value"]) == 1 and first["continuationToken"]
        second = self.query(client, {"continuationToken": first["continuationToken"]}).json()
        assert second["continuationToken"] is None
        assert {first["value"][0]["runId"], second["value"][0]["runId"]} == set(tagged.values())

    @pytest.mark.parametrize("body", [
        {"filters": [{"field": "tags/runKey", "operator": "eq", "values": ["x"]}]},
        {"filter": "Tags/runKey eq"},
        {"filter": "Colour eq 'blue'"},
        {"top": -1},
    ])
    def test_bad_queries_are_400(self, client, tagged, body):
        assert_error_shape(self.query(client, body), 400)

    def test_unknown_experiment_is_404(self, client):
        assert_error_shape(self.query(client, {}, experiment="nope"), 404)


class TestExperiments:
    def test_get_create_get(self, client):
        url = client.url("history", "experiments/fresh_experiment")
        assert_error_shape(client.session.get(url, timeout=5), 404)
        created = client.session.post(url, timeout=5)
        again = client.session.post(url, timeout=5)
        assert created.status_code == again.status_code == 200
        assert created.json()["experimentId"] == again.json()["experimentId"]
        fetched = client.session.get(url, timeout=5).json()
        assert fetched["name"] == "fresh_experiment" and fetched["createdUtc"]
