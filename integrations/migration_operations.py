"""Migration operations of the portal's own, shared by its migrations."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexWithoutLocking(migrations.AddIndex):
    """AddIndex, built CONCURRENTLY on PostgreSQL (the state it records is the same).

    A plain CREATE INDEX would block every insert and status update of the requests (the work
    queue) for as long as it takes to read a million rows. CONCURRENTLY cannot run in a
    transaction: a migration using this says ``atomic = False``. Other databases (SQLite, in tests
    and ``make run``) get a plain index. If a concurrent build fails, PostgreSQL leaves an INVALID
    index behind: drop it (``DROP INDEX CONCURRENTLY <name>``) before migrating again.
    """

    def _concurrently(self) -> AddIndexConcurrently:
        return AddIndexConcurrently(self.model_name, self.index)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self._concurrently().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self._concurrently().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            super().database_backwards(app_label, schema_editor, from_state, to_state)
