"""The minimal reproduction of kombu 5.7.0's Redis restore bug: a Celery app and nothing else.

A worker of this app holds unacknowledged messages (late acks; messages with a countdown, which a
worker keeps unacknowledged until they are due). Stop Redis and start it again: with kombu's own
transport the worker logs ``Unrecoverable error: AttributeError("'NoneType' object has no attribute
'hostname'")`` and exits. REPRO_TRANSPORT names another transport class to try instead
(``integrations.broker:RedisTransport``, the portal's fix). See integrations/broker.py.
"""

import os

from celery import Celery

app = Celery("kombu_redis_restart", broker=os.environ["REPRO_BROKER_URL"])
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"socket_timeout": 2, "socket_connect_timeout": 2},
)
if os.environ.get("REPRO_TRANSPORT"):
    app.conf.broker_transport = os.environ["REPRO_TRANSPORT"]


@app.task
def noop() -> str:
    return "ok"
