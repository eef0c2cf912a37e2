"""The served OpenAPI document is the contract: Schemathesis checks the real app against it.

The app runs in the in-process dev host against Azurite and the AML emulator (the
`proxy_host` fixture). Schemathesis loads the document the app serves and, for every
operation, generates requests the schema allows (positive) and requests it refuses
(negative): schema examples, boundary cases (coverage) and random ones (fuzzing), with a
fixed seed and derandomized generation so CI sees the same cases every run. Each answer
must be no 5xx, a documented status with the documented content type and body, and:

* a positive request is accepted, unless its 400 names only fields under a semantic rule
  the operation documents in `x-semantic-rules` (a rule JSON Schema cannot express);
* a negative request is refused;
* a refused request (4xx) wrote nothing: both tables (keys and ETags) and the AML
  emulator's write requests are the same after it as before.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import CheckContext
from schemathesis.core.failures import Failure

from tests.conftest import RUN_SUMMARY, written_state

pytestmark = pytest.mark.azurite

SEED = 20261122
# Fuzzed cases per operation and mode, on top of the deterministic examples and coverage cases.
FUZZ_EXAMPLES = 8
# Answers that refuse a request for its content. 404, 409 and 412 are about the state of a
# resource (none with that id, a run already over, a stale ETag), which a request the
# schema allows may well meet.
REFUSALS = {400, 413, 415}

STATS: Counter = Counter()
LAST_STATE: dict = {}
FAILURES: list[str] = []


class PositiveDataRefused(Failure):
    kind_title = "Schema-valid request refused"


def under_semantic_rule(field: str, case) -> bool:
    """Whether the operation documents a rule JSON Schema cannot state for `field`."""
    for rule in case.operation.definition.raw.get("x-semantic-rules", []):
        documented = rule["field"]
        if documented == "*" or field == documented:
            return True
        if documented.endswith(".*") and field.startswith(documented[:-1]):
            return True
    return False


def cron_expressions() -> st.SearchStrategy[str]:
    """Valid cron expressions, 5 fields or 6 with seconds first: what the `cron` format means."""
    def field(low: int, high: int) -> st.SearchStrategy[str]:
        single = st.integers(low, high).map(str)
        span = st.tuples(st.integers(low, high), st.integers(low, high)).map(
            lambda pair: f"{min(pair)}-{max(pair)}")
        step = st.integers(1, high - low).map(lambda n: f"*/{n}")
        listed = st.lists(st.integers(low, high), min_size=2, max_size=3, unique=True).map(
            lambda values: ",".join(map(str, values)))
        return st.one_of(st.just("*"), single, span, step, listed)

    # Days of the month stop at 28, so that every expression fires in every month.
    five = st.tuples(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6)).map(" ".join)
    return st.one_of(five, st.tuples(field(0, 59), five).map(" ".join))


def zone_names() -> st.SearchStrategy[str]:
    """Names the `time-zone` format allows: IANA zones and the Windows names AML accepts."""
    from zoneinfo import available_timezones

    from shared.scheduling.zones import windows_zone_names

    return st.sampled_from(sorted(available_timezones() | set(windows_zone_names())))


def positive_data_accepted(ctx: CheckContext, response, case) -> bool | None:
    """A schema-valid request is accepted, or refused only for a rule the operation documents."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code not in REFUSALS:
        return None
    try:
        fields = {d.get("field") for d in response.json()["error"]["details"]}
    except (ValueError, KeyError, TypeError):
        fields = set()
    if fields and all(isinstance(f, str) and under_semantic_rule(f, case) for f in fields):
        return None
    raise PositiveDataRefused(operation=case.operation.label,
                              message=f"{response.status_code} for a request the schema allows: {response.text[:500]}")


def config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": SEED,
        # Hypothesis' health checks judge generation speed and filtering, which the document's
        # patterns and oneOf branches trip without anything being wrong with the app.
        "suppress-health-check": ["all"],
        "generation": {"mode": "all", "max-examples": FUZZ_EXAMPLES, "deterministic": True, "database": "none",
                       "no-shrink": True},
        # Methods a route does not declare are the Functions host's to refuse (Azure answers 404, as the
        # dev host does), not the app's; TRACE is left out because the dev host is no production server.
        "phases": {"stateful": {"enabled": False},
                   "coverage": {"unexpected-methods": ["GET", "PUT", "POST", "DELETE", "PATCH"]}},
        "checks": {
            "unsupported_method": {"enabled": False},
            # Function keys are checked by the Functions host, which the dev host imitates without them
            # (as Core Tools does); the app never sees a request whose key Azure refused.
            "ignored_auth": {"enabled": False},
            # Replaced by positive_data_accepted, which knows the documented semantic rules.
            "positive_data_acceptance": {"enabled": False},
        },
    })


@pytest.fixture(scope="module")
def api_schema(proxy_host):
    from devtools.aml_emulator.local_seeds import LOCAL_SCHEDULE, local_schedule_properties

    # An AML schedule to import, so the import's answers carry imported and existing entries.
    proxy_host.aml.seed_schedule(LOCAL_SCHEDULE, local_schedule_properties(proxy_host.aml.workspace_path))
    schemathesis.openapi.format("cron", cron_expressions())
    schemathesis.openapi.format("time-zone", zone_names())
    return schemathesis.openapi.from_url(f"{proxy_host.url}/openapi.json", config=config())


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_the_app_keeps_its_documented_contract(case, proxy_host):
    mode = case.meta.generation.mode.name.lower() if case.meta is not None else "explicit"
    STATS[(case.operation.label, mode)] += 1
    # The state after a refused request is the state before the next one: nothing else writes
    # (the host runs no timers), so a snapshot is taken again only after an accepted request.
    before = LAST_STATE.pop("state", None) or written_state(proxy_host)
    # A fresh connection per case: the dev host answers kept-alive connections only after the
    # client's delayed ACK (see tests/conftest.py).
    response = case.call(headers={"Connection": "close"})
    try:
        case.validate_response(response, additional_checks=[positive_data_accepted])
        if 400 <= response.status_code < 500:
            after = written_state(proxy_host)
            assert after == before, f"a refused request ({response.status_code}) wrote"
            LAST_STATE["state"] = after
    except BaseException as exc:
        found = getattr(exc, "exceptions", [exc])
        for failure in found:
            title = getattr(failure, "title", type(failure).__name__)
            detail = getattr(failure, "message", str(failure)).replace("\n", " ")[:400]
            FAILURES.append(f"{case.operation.label} [{mode}] {response.status_code} {title}: {detail}")
        raise


def test_summary():
    """Runs last in this module: the figures of the contract run, printed at the end of the session."""
    operations = {label for label, _ in STATS}
    by_mode: Counter = Counter()
    for (_, mode), count in STATS.items():
        by_mode[mode] += count
    RUN_SUMMARY.append(f"schemathesis: {len(operations)} operations, {sum(by_mode.values())} cases "
                       f"({', '.join(f'{m} {n}' for m, n in sorted(by_mode.items()))}), {len(FAILURES)} failures")
    RUN_SUMMARY.extend("  " + line for line in FAILURES)
    assert operations, "no operation was exercised"
