# ruff: noqa: N999 - gunicorn.conf.py is the name gunicorn looks for, not a module to import
"""gunicorn's settings for the production web process (`make serve`, deploy/supervisord.conf).

Read from the environment like the portal's own settings, so a deployment changes variables, not
files. Logs go to stdout, where supervisord collects every process's output.
"""

from __future__ import annotations

import os
from pathlib import Path

from portal.env import env_int, env_str

bind = [address.strip() for address in (env_str("PORTAL_WEB_BIND") or "127.0.0.1:8000").split(",") if address.strip()]
workers = env_int("PORTAL_WEB_WORKERS", 2 * (os.cpu_count() or 1) + 1)
threads = env_int("PORTAL_WEB_THREADS", 1)
# Longer than the slowest page (a streamed export ends its own response), shorter than a proxy's
# patience: a worker stuck past this is killed and replaced.
timeout = env_int("PORTAL_WEB_TIMEOUT", 60)
graceful_timeout = 30
# Behind a proxy that keeps connections open to the portal.
keepalive = 5
# A worker is replaced after this many requests (with jitter), bounding any slow leak.
max_requests = env_int("PORTAL_WEB_MAX_REQUESTS", 1000)
max_requests_jitter = max_requests // 10
# Django is imported once, in the master, and its workers forked with it: a replaced worker costs a
# fork, not a fresh import of everything (Django opens no database connection at import).
preload_app = True

accesslog = "-"
errorlog = "-"
loglevel = (env_str("PORTAL_LOG_LEVEL") or "info").lower()

# Whether a request came over HTTPS is the portal's decision (PORTAL_TRUST_X_FORWARDED_PROTO,
# portal/settings.py), not gunicorn's: by default gunicorn believes X-Forwarded-Proto from
# 127.0.0.1, which would make any local client's claim count.
secure_scheme_headers: dict[str, str] = {}

# gunicorn's control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl): keep it
# beside supervisord's, so two portals on one machine never share it.
control_socket = str(Path(env_str("PORTAL_VAR_DIR") or Path(__file__).resolve().parent.parent / "var") / "gunicorn.ctl")
