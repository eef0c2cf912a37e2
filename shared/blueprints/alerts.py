"""Alert delivery: one webhook POST per message on the alert queue, and the messages that failed every time.

The queue is `%ALERT_QUEUE%` on the `AzureWebJobsStorage` account; host.json's
`extensions.queues` (shared by every queue trigger) sets how often a failed POST is tried
again (`visibilityTimeout`, `maxDequeueCount`) before the host moves the message to
`<queue>-poison`, where `alerts_poison` logs it as an alert delivery failure.
"""

import azure.functions as func

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name="%ALERT_QUEUE%", connection="AzureWebJobsStorage")
def alerts_send(msg: func.QueueMessage) -> None:
    from shared.alerts import delivery  # on first use: the worker imports this module on every cold start

    delivery.run_alert(msg.get_body(), msg.dequeue_count or 1)


@bp.queue_trigger(arg_name="msg", queue_name="%ALERT_QUEUE%-poison", connection="AzureWebJobsStorage")
def alerts_poison(msg: func.QueueMessage) -> None:
    from shared.alerts import delivery

    delivery.run_poison(msg.get_body(), msg.dequeue_count or 1)
