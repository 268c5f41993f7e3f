"""The broker, as the pipeline sees it: kombu's Redis transport with one upstream bug worked around,
and how many messages a queue holds.

**kombu 5.7.0, Redis transport: a worker dies when Redis restarts while it holds unacknowledged
messages** (late acks; ETA/countdown messages). Celery's consumer handles the lost connection by
calling ``connection.collect()``, which drops the transport's reference to its client
(``transport.client = None``), and then ``connection.close()``. Closing the default channel
restores the unacknowledged messages (``QoS.restore_unacked_once``), which needs a new connection
pool, whose parameters ``Channel._connparams`` reads from ``self.connection.client.hostname``:
``AttributeError: 'NoneType' object has no attribute 'hostname'``. An AttributeError is not one of
the connection errors Celery ignores there, so the worker logs "Unrecoverable error" and exits.
Minimal reproduction (tests/integrations/test_broker.py runs it against a private redis-server):
a Celery app with ``task_acks_late=True``, one worker, three tasks sent with ``countdown=60``, then
stop and start Redis: the worker exits, every time.

The workaround keeps the connection parameters the channel last computed while its client was
alive and uses them once the client is gone, so the restore tries to reach Redis like any other
call: if Redis is back it succeeds; if not, it raises a connection error, which Celery ignores, and
reconnects as it does for every other broker outage. Messages it could not restore are not lost
work: the database is the source of truth and the sweeper re-sends what no worker took.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        saved: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_portal_saved_connparams", {})
        if self.connection.client is None and asynchronous in saved:
            return dict(saved[asynchronous])
        params = super()._connparams(asynchronous=asynchronous)
        saved[asynchronous] = dict(params)
        return params


class RedisTransport(kombu_redis.Transport):
    """kombu's Redis transport, with the restore-after-collect fix above (``redis://``, ``rediss://``)."""

    Channel = Channel


REDIS_TRANSPORT = f"{__name__}:RedisTransport"
