"""Pure scheduling core: cron and recurrence triggers, time zones, jitter, slot maths,
parameter templating.

Everything here is a function of its arguments; no clock is read and no I/O is done.
"""


class ScheduleError(ValueError):
    """A schedule definition is invalid; `field` names the offending JSON field."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
