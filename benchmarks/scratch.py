"""The scratch database a benchmark runs on, chosen before Django starts.

Every benchmark measures on a database of its own, so that it never touches a real one and each
run starts from nothing: on the PostgreSQL server of DATABASE_URL a database named for the
benchmark, dropped and created again; without PostgreSQL, a temporary SQLite file.
"""

from __future__ import annotations

import os
import tempfile
from urllib.parse import urlparse


def use_scratch_database(name: str) -> bool:
    """Point DATABASE_URL at a fresh database ``name``; True if it is PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/{name}.sqlite3"
        return False
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = urlparse(url)._replace(path=f"/{name}").geturl()
    return True
