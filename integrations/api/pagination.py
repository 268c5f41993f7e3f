"""The API's history, a keyset page at a time: ``next`` and ``previous`` links carry a cursor.

The same pages as the history page's (``history.keyset_page``): found through the index on
(created_at, id) however deep they lie, with no OFFSET and no COUNT(*) of the whole history,
which at a million requests cost more than the page itself.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from integrations import history

CURSOR_PARAM = "cursor"
CURSOR_HELP = "Where the page starts: the cursor of a `next` or `previous` link. Without it, the newest requests."
PAGE_GONE = "The history is no longer paged by number: follow the next and previous links (a cursor)."
INVALID_CURSOR = "Not a cursor of this API: follow the next and previous links as they are."


class KeysetPagination(BasePagination):
    page_size = 50

    def paginate_queryset(self, queryset, request: Request, view=None) -> list:
        # Always the history's queryset (RequestListView): keyset pages need its columns.
        if "page" in request.query_params:
            # A client counting pages until a 404 would otherwise get the first page for ever.
            raise ValidationError({"page": [PAGE_GONE]})
        token = request.query_params.get(CURSOR_PARAM)
        cursor = history.Cursor.parse(token)
        if token and cursor is None:
            raise ValidationError({CURSOR_PARAM: [INVALID_CURSOR]})
        self.url = request.build_absolute_uri()
        self.page = history.keyset_page(queryset, cursor, self.page_size)
        return self.page.rows

    def _link(self, cursor: history.Cursor | None) -> str | None:
        return None if cursor is None else replace_query_param(self.url, CURSOR_PARAM, cursor.token())

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self._link(self.page.older), "previous": self._link(self.page.newer), "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The older requests; null on the last page."},
                "previous": {**link, "description": "The newer requests; null on the first page."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": CURSOR_PARAM,
                "required": False,
                "in": "query",
                "description": CURSOR_HELP,
                "schema": {"type": "string"},
            }
        ]
