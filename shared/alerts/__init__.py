"""Alerts: a schedule's incidents, one message each, delivered without holding up the scheduler.

* `webhook`: a schedule's `alerts` definition, the webhook URL's shape, its mask, and the
  host allow-list (`ALERT_WEBHOOK_HOSTS`) checked when a schedule is saved and again when
  a message is sent;
* `incidents`: the pure state machine (an incident opens on a failure, a late run or a
  pause, and closes on the next completed run), with time passed in;
* `listener`: hears run outcomes (shared.engine.outcomes), keeps the incident row with
  If-Match, writes the structured log event and puts one message on the alert queue;
* `message`: that queue message and the webhook body built from it;
* `delivery`: the queue-triggered sender (one POST per message, retried by the queue).

Nothing here is imported by `function_app` at load time beyond what the blueprint names.
"""
