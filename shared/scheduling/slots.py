"""Which owed slots a tick fires or skips: the misfire policy as a pure function.

A slot is *owed* once its fire time has passed the schedule's cursor. An owed slot up
to ON_TIME_SECONDS old is simply on time (a timer that fires every minute, late or
twice, sees slots that old in normal operation) and always fires. Older owed slots have
*misfired* (the app was down, disabled or throttled) and follow `policy.misfire`:

* `latest`: fire only the newest misfired slot, if within `misfireGraceSeconds` and no
  on-time slot exists; skip the rest.
* `all`: fire every misfired slot within the grace period, oldest first, at most
  `maxCatchup` per tick (the rest wait for the next tick); skip the older ones.
* `skip`: skip every misfired slot.

Skipped slots are recorded so history has no holes; a long run of them is summarised in
one decision, so a schedule that fires every minute and was down for days is settled in
one tick with a handful of writes.

With jitter a slot is due `not_before_offset` after its nominal instant. Slots keep
their nominal instants (the run key, placeholders and history all use them); only the
moment they become owed, and how late they count as, moves with the offset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.scheduling.triggers import Trigger

ON_TIME_SECONDS = 120
EARLY_LEEWAY = timedelta(seconds=2)
MAX_FIRES_PER_TICK = 60
MAX_SLOTS_EXAMINED = 20_000
SKIP_DETAIL_LIMIT = 5

FIRE = "fire"
SKIP = "skip"


@dataclass(frozen=True)
class SlotDecision:
    slot: datetime
    action: str
    reason: str | None = None
    # A summary of consecutive skipped slots: `slot` is the first, `last_slot` the last.
    count: int = 1
    last_slot: datetime | None = None


@dataclass(frozen=True)
class SlotPlan:
    decisions: tuple[SlotDecision, ...]
    next_cursor: datetime | None

    @property
    def fires(self) -> list[datetime]:
        return [d.slot for d in self.decisions if d.action == FIRE]


def plan_slots(trigger: Trigger, cursor: datetime, now: datetime, *, misfire: str,
               grace_seconds: int, max_catchup: int,
               not_before_offset: timedelta = timedelta(0)) -> SlotPlan:
    """Decide the owed slots from `cursor` (the first unsettled fire time) up to `now`."""
    # Judging nominal slots against a clock set back by the offset is the same as judging
    # each slot's due time (slot + offset) against the real clock.
    now = now - not_before_offset
    horizon = now + EARLY_LEEWAY
    owed: list[datetime] = []
    slot: datetime | None = cursor
    while slot is not None and slot <= horizon and len(owed) < MAX_SLOTS_EXAMINED:
        owed.append(slot)
        slot = trigger.next_after(slot)
    following = slot

    on_time_from = now - timedelta(seconds=ON_TIME_SECONDS)
    grace_from = now - timedelta(seconds=grace_seconds)
    misfired = [s for s in owed if s < on_time_from]
    has_on_time = len(misfired) < len(owed)

    chosen: set[datetime] = set()
    if misfire == "all":
        chosen = {s for s in misfired if s >= grace_from}
    elif misfire == "latest" and misfired and not has_on_time and misfired[-1] >= grace_from:
        chosen = {misfired[-1]}

    decisions: list[SlotDecision] = []
    fired = fired_late = 0
    next_cursor = following
    for s in owed:
        late = s < on_time_from
        if late and s not in chosen:
            decisions.append(SlotDecision(s, SKIP, _skip_reason(s, grace_from, misfire)))
            continue
        if fired >= MAX_FIRES_PER_TICK or (late and fired_late >= max_catchup):
            # Leave this slot and everything after it for the next tick.
            next_cursor = s
            break
        decisions.append(SlotDecision(s, FIRE))
        fired += 1
        fired_late += late
    return SlotPlan(tuple(_summarise_skips(decisions)), next_cursor)


def _skip_reason(slot: datetime, grace_from: datetime, misfire: str) -> str:
    if misfire == "skip":
        return "missed: misfire policy is skip"
    if slot < grace_from:
        return "missed: older than misfireGraceSeconds"
    return "missed: superseded by a later slot (misfire policy latest)"


def _summarise_skips(decisions: list[SlotDecision]) -> list[SlotDecision]:
    out: list[SlotDecision] = []
    run: list[SlotDecision] = []

    def flush() -> None:
        if len(run) > SKIP_DETAIL_LIMIT:
            out.append(SlotDecision(run[0].slot, SKIP, run[0].reason, count=len(run), last_slot=run[-1].slot))
        else:
            out.extend(run)
        run.clear()

    for d in decisions:
        if d.action == SKIP and (not run or run[-1].reason == d.reason):
            run.append(d)
            continue
        flush()
        if d.action == SKIP:
            run.append(d)
        else:
            out.append(d)
    flush()
    return out
