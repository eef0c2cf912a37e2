"""Queue workers: one claimed slot per message, and the messages the host gave up on.

The queue is `%SLOT_QUEUE%` on the `AzureWebJobsStorage` account (identity-based in
Azure); host.json's `extensions.queues` sets batch size, visibility timeout and how
many deliveries a message gets before the host moves it to `<queue>-poison`.
"""

import azure.functions as func

from shared import workers

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name="%SLOT_QUEUE%", connection="AzureWebJobsStorage")
def slot_worker(msg: func.QueueMessage) -> None:
    workers.run_slot(msg.get_body(), msg.dequeue_count or 1)


@bp.queue_trigger(arg_name="msg", queue_name="%SLOT_QUEUE%-poison", connection="AzureWebJobsStorage")
def slot_poison(msg: func.QueueMessage) -> None:
    workers.run_poison(msg.get_body(), msg.dequeue_count or 1)
