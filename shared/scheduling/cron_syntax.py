"""The text of a cron expression: its form, its names, and the one spelling we keep.

Two forms, told apart by the number of fields:

* 5 fields, `minute hour day-of-month month day-of-week`: classic cron, as cronsim reads it.
* 6 fields, seconds first: NCRONTAB, the form Azure Functions timers use (NCrontab).

Month and weekday names are accepted in any letter case, in full (`Monday`, `january`)
or cut to at least three letters (`Mon`, `Sept`, `Wednes`), wherever a number may stand:
alone, in ranges, lists and steps. Three letters already tell every name apart. NCrontab
also takes shorter prefixes and silently picks the first name they begin (`M` is March,
`T` Tuesday, `Ju` June); we refuse those, since the pick is rarely what was meant.

The canonical text (what a schedule stores and returns) is the expression in upper case,
single-spaced, with every name spelled as its three-letter abbreviation: `0 30 9 * * Monday-friday`
becomes `0 30 9 * * MON-FRI`. We keep this rather than the user's own text because
(1) re-saving the same schedule spelled differently must not count as a changed trigger,
which would move the schedule's cursor, and (2) cronsim, Vixie cron and NCrontab all read
the abbreviations the same way, so the stored text means the same to any tool that reads it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from shared.scheduling import ScheduleError

MONTH_NAMES = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER",
               "OCTOBER", "NOVEMBER", "DECEMBER")
WEEKDAY_NAMES = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
MIN_NAME_LETTERS = 3

_LETTERS = re.compile(r"[A-Z]+")
_STEP_FROM_ONE_VALUE = re.compile(r"([0-9]+|[A-Z]+)/([0-9]+)")


@dataclass(frozen=True)
class CronFields:
    """The six fields of an expression, seconds first; a 5-field one has seconds `0`."""

    second: str
    minute: str
    hour: str
    day_of_month: str
    month: str
    day_of_week: str
    has_seconds: bool

    @property
    def text(self) -> str:
        fields = [self.minute, self.hour, self.day_of_month, self.month, self.day_of_week]
        return " ".join([self.second, *fields] if self.has_seconds else fields)

    def with_days(self, day_of_month: str, day_of_week: str) -> CronFields:
        return replace(self, day_of_month=day_of_month, day_of_week=day_of_week)


def parse_fields(text: object) -> CronFields:
    """Split an expression into its fields in canonical spelling; refuse a wrong shape.

    Only the shape and the names are settled here: cronsim judges each field's values.
    """
    if not isinstance(text, str):
        raise ScheduleError("trigger.cron", "must be a string")
    # str.upper() turns some non-ASCII letters into ASCII ones (`ſun` would become `SUN`),
    # which would let look-alike text through as a name.
    if not text.isascii():
        raise ScheduleError("trigger.cron", "must be plain ASCII")
    fields = text.upper().split()
    if len(fields) not in (5, 6):
        raise ScheduleError("trigger.cron", "must have 5 fields, or 6 with seconds first (NCRONTAB)")
    has_seconds = len(fields) == 6
    second, minute, hour, day_of_month, month, day_of_week = fields if has_seconds else ["0", *fields]
    month = _abbreviate_names(month, MONTH_NAMES)
    day_of_week = _abbreviate_names(day_of_week, WEEKDAY_NAMES)
    if has_seconds:
        day_of_week = _end_weekday_steps_on_saturday(day_of_week)
    return CronFields(second, minute, hour, day_of_month, month, day_of_week, has_seconds)


def _abbreviate_names(field: str, names: tuple[str, ...]) -> str:
    def abbreviation(match: re.Match) -> str:
        letters = match.group()
        if len(letters) >= MIN_NAME_LETTERS:
            for name in names:
                if name.startswith(letters):
                    return name[:3]
        # Not a name: cronsim reads its own letter codes (`L` in `5L`) and refuses the rest.
        return letters

    return _LETTERS.sub(abbreviation, field)


def _end_weekday_steps_on_saturday(field: str) -> str:
    # In NCrontab a step from a single value runs to the field's last value, which for
    # weekdays is 6 (Saturday): `1/2` is Monday, Wednesday, Friday. cronsim's weekday field
    # runs on to 7 (Sunday again) and would add Sunday. Spelling out the range keeps the
    # NCRONTAB meaning, in cronsim and in the stored text alike. A step from 7, which
    # NCrontab refuses, keeps cronsim's reading (Sunday) so stored schedules still load.
    terms = []
    for term in field.split(","):
        step = _STEP_FROM_ONE_VALUE.fullmatch(term)
        if step:
            first, every = step.groups()
            if first.isalpha():
                term = f"{first}-SAT/{every}"
            elif int(first) <= 6:
                term = f"{first}-6/{every}"
        terms.append(term)
    return ",".join(terms)
