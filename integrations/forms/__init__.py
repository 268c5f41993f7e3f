"""One form for every operation, built from the operation's botocore input shape.

Each scalar member becomes a field named by its path ("ScheduleConfig__ScheduleExpression");
lists and maps become rows ("tags__0__key", "Tags__0__value"), added and removed with plain
submit buttons so they work with and without JavaScript.

- ``fields``: one Django form field per scalar member (``make_field``, ``TimestampField``).
- ``layout``: the layout tree (``Node``) from the input shape and the submitted keys.
- ``data``: API parameters <-> form data (``collect_params``, ``params_to_data``, ``edit_rows``)
  and the form's names (``field_name``, ``path_label``, ``SEP``, ``ROWS_ACTION``, ``FIELD``).
- ``operation_form``: ``OperationForm``, which glues them together, validates the parameters
  like the sandbox does and puts each violation on its field or group.
"""

from integrations.forms.data import (
    FIELD,
    ROWS_ACTION,
    SEP,
    collect_params,
    edit_rows,
    field_name,
    params_to_data,
    path_label,
)
from integrations.forms.fields import TimestampField, make_field
from integrations.forms.layout import Node, build_layout
from integrations.forms.operation_form import OperationForm

__all__ = [
    "FIELD",
    "ROWS_ACTION",
    "SEP",
    "Node",
    "OperationForm",
    "TimestampField",
    "build_layout",
    "collect_params",
    "edit_rows",
    "field_name",
    "make_field",
    "params_to_data",
    "path_label",
]
