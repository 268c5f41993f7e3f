"""The Celery application; its settings are the CELERY_* names in portal/settings.py."""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.signals import after_setup_task_logger

from portal.logs import celery_loggers_through_root

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# No PORTAL_ENVIRONMENT default: unset means production (portal/settings.py).

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Each worker's main process writes its heartbeat (integrations/heartbeats.py); named, not
# imported, since the models cannot load before Django is set up.
app.steps["worker"].add("integrations.heartbeats:WorkerHeartbeat")
# Every worker line in PORTAL_LOG_FORMAT, pool-process deaths included (portal/logs.py).
after_setup_task_logger.connect(celery_loggers_through_root)


@app.on_after_configure.connect
def _create_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
