"""NCrontab's own test vectors against our cron (the vectors are in ncrontab_vectors.py).

NCrontab is the library behind Azure Functions timers. Every vector passes as NCrontab
states it, except three divergences, each decided on purpose, tested below as our own
behaviour and explained in docs/scheduling.md ("Compared with NCrontab"):

1. A 5-field expression restricting both day fields (`45 16 1 * Mon`, `0 0 29 Feb Mon`)
   is classic cron here: a day matching either field fires. NCrontab needs both in every
   form; we do in the 6-field (NCRONTAB) form, and there those same vectors pass.
2. An expression that can never fire (`* * 31 Feb *`) is refused when it is saved;
   NCrontab accepts it and finds no occurrence.
3. There is no "seconds required" mode: the number of fields picks the form, so
   `* * * * *` is every minute, where NCrontab told to expect 6 fields refuses it.

NCrontab evaluates naive local times; we evaluate them in UTC, which has no DST.
"""

from datetime import datetime, timedelta, timezone

import pytest

from shared.scheduling import ScheduleError
from shared.scheduling.cron import CronExpression
from tests.unit.scheduling import ncrontab_vectors as vectors

UTC = timezone.utc


def at(text: str) -> datetime:
    """A time in the vectors' formats, as a UTC instant."""
    for pattern in ("%d/%m/%Y %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"not a vector time: {text!r}")


def next_after(expr: str, start: str) -> datetime | None:
    return CronExpression(expr).next_after(at(start), UTC)


def as_six_fields(expr: str) -> str:
    # NCrontab's 5-field schedules fire at second 0, so this is the same schedule to it.
    return "0 " + expr


def restricts_both_day_fields(expr: str) -> bool:
    fields = expr.split()
    return not fields[-3].startswith("*") and not fields[-1].startswith("*")


# Divergence 1, the Evaluations it concerns: (start, expression) -> our next occurrence.
EITHER_DAY_EVALUATIONS = {
    ("01/01/2003 12:00:00", "45 16 1 * Mon"): "01/01/2003 16:45:00",  # the 1st itself, a Wednesday
    ("01/09/2003 23:45:00", "45 16 1 * Mon"): "08/09/2003 16:45:00",  # the next Monday
}


def evaluation_id(vector) -> str:
    start, expr, _, _ = vector
    return f"{expr.strip()} after {start}"


class TestEvaluations:
    @pytest.mark.parametrize("vector", [v for v in vectors.EVALUATIONS if v[:2] not in EITHER_DAY_EVALUATIONS],
                             ids=evaluation_id)
    def test_next_occurrence(self, vector):
        start, expr, expected, with_seconds = vector
        assert len(expr.split()) == (6 if with_seconds else 5)
        assert next_after(expr, start) == at(expected)

    @pytest.mark.parametrize("vector", [v for v in vectors.EVALUATIONS if not v[3]], ids=evaluation_id)
    def test_five_field_vectors_hold_in_the_six_field_form(self, vector):
        start, expr, expected, _ = vector
        assert next_after(as_six_fields(expr), start) == at(expected)

    def test_the_divergent_vectors_are_exactly_the_five_field_ones_restricting_both_day_fields(self):
        both = {v[:2] for v in vectors.EVALUATIONS if not v[3] and restricts_both_day_fields(v[1])}
        assert both == set(EITHER_DAY_EVALUATIONS)

    @pytest.mark.parametrize("key", sorted(EITHER_DAY_EVALUATIONS))
    def test_divergence_five_fields_need_either_day_field(self, key):
        start, expr = key
        assert next_after(expr, start) == at(EITHER_DAY_EVALUATIONS[key])


class TestBoundedOccurrences:
    @pytest.mark.parametrize("expr, start, end, with_seconds", vectors.FINITE_OCCURRENCES)
    def test_nothing_occurs_before_the_end(self, expr, start, end, with_seconds):
        assert len(expr.split()) == (6 if with_seconds else 5)
        assert next_after(expr, start) >= at(end)

    @pytest.mark.parametrize("expr, start, end, expected", vectors.NEXT_BEFORE_END)
    def test_six_field_form_of_get_next_occurrence(self, expr, start, end, expected):
        fire = next_after(as_six_fields(expr), start)
        assert min(fire, at(end)) == at(expected)

    @pytest.mark.parametrize("expr, start, end, expected", vectors.NEXT_BEFORE_END)
    def test_divergence_five_fields_fire_on_the_first_monday_of_february(self, expr, start, end, expected):
        # Either day field: Mondays in February count too, whatever their date.
        fire = next_after(expr, start)
        assert fire.month == 2 and fire.strftime("%A") == "Monday" and fire.day <= 7
        assert fire < at(expected)

    def test_six_field_form_stops_at_the_last_valid_time(self):
        expr, start, last = vectors.LAST_OCCURRENCE
        cron = CronExpression(as_six_fields(expr))
        first = cron.next_after(at(start), UTC)
        assert first == at(last)
        assert cron.next_after(first, UTC) is None  # no later one before the calendar ends

    def test_divergence_five_fields_run_on_to_the_last_monday_of_february_9999(self):
        expr, start, last = vectors.LAST_OCCURRENCE
        cron = CronExpression(expr)
        fires, fire = [], at(start)
        while (fire := cron.next_after(fire, UTC)) is not None:
            fires.append(fire)
        assert at(last) in fires
        assert fires[-1] == datetime(9999, 2, 22, tzinfo=UTC)
        assert all(f.month == 2 and (f.day == 29 or f.strftime("%A") == "Monday") for f in fires)

    @pytest.mark.parametrize("expressions, end, times", vectors.MERGED_OCCURRENCES)
    def test_occurrences_of_several_schedules_together(self, expressions, end, times):
        base = at("01/01/2003 00:00:00")
        merged: set[datetime] = set()
        for expr in expressions:
            cron, fire = CronExpression(expr), base
            # Without an end, each schedule's first len(times) cover the first len(times) of all.
            for _ in range(len(times)):
                fire = cron.next_after(fire, UTC)
                merged.add(fire)
            while end is not None and fire < at(end):
                fire = cron.next_after(fire, UTC)
                merged.add(fire)
        if end is None:
            assert sorted(merged)[:len(times)] == [at(t) for t in times]
        else:
            assert sorted(f for f in merged if f < at(end)) == [at(t) for t in times]


class TestParsing:
    @pytest.mark.parametrize("test_name, expr, with_seconds", vectors.PARSE_FAILURES)
    def test_refuses_what_ncrontab_refuses(self, test_name, expr, with_seconds):
        with pytest.raises(ScheduleError) as err:
            CronExpression(expr)
        assert err.value.field == "trigger.cron"

    @pytest.mark.parametrize("expr", vectors.REFUSED_NON_EXPRESSIONS)
    def test_refuses_empty_and_missing_expressions(self, expr):
        with pytest.raises(ScheduleError):
            CronExpression(expr)

    @pytest.mark.parametrize("expr, text, with_seconds", vectors.ALL_TIME_TEXT)
    def test_every_time_keeps_its_text(self, expr, text, with_seconds):
        assert len(expr.split()) == (6 if with_seconds else 5)
        assert CronExpression(expr).text == text

    @pytest.mark.parametrize("expanded, expr, with_seconds", vectors.FORMATTING)
    def test_spellings_ncrontab_expands_alike_fire_alike(self, expanded, expr, with_seconds):
        # We keep the text as given (names abbreviated), not NCrontab's expanded form, so
        # the vectors are checked as what they show: two spellings of one schedule.
        ours, theirs = CronExpression(expr), CronExpression(expanded)
        for month in range(1, 13):
            fire_ours = fire_theirs = datetime(2003, month, 1, tzinfo=UTC) + timedelta(days=month, seconds=month)
            for _ in range(40):
                fire_ours, fire_theirs = ours.next_after(fire_ours, UTC), theirs.next_after(fire_theirs, UTC)
                assert fire_ours == fire_theirs

    @pytest.mark.parametrize("expr, with_seconds", vectors.NEVER_OCCUR)
    def test_divergence_an_expression_that_never_fires_is_refused(self, expr, with_seconds):
        with pytest.raises(ScheduleError) as err:
            CronExpression(expr)
        assert err.value.field == "trigger.cron"

    def test_divergence_five_fields_are_read_as_five_fields(self):
        expr, _ = vectors.REFUSED_WHEN_SECONDS_REQUIRED
        start = at("01/01/2003 00:00:00")
        assert CronExpression(expr).next_after(start, UTC) == start + timedelta(minutes=1)
