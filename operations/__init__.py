"""The operation registry: every AWS operation the portal runs is declared once, in this package.

One module per operation holds everything the project knows about it beyond botocore's model:
titles and help, where the created resource's ARN or id sits in the response, the documented
valid values and cross-field rules, its patterns in words and its AWS errors explained. Forms,
validation, the API, permissions, the pipeline and the sandbox read the rest from the model and
all find an operation by one key, ``Operation.key`` ("appfabric/CreateIngestion").

Adding an operation means adding a module here with one ``register(Operation(...))`` call (and,
for the sandbox, one behaviour keyed by the same key in ``sandbox/behaviours.py``).

Nothing here imports Django: the sandbox and the portal share it.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from awsmodel import jsontext
from awsmodel.constraints import Violation
from awsmodel.shapes import idempotency_token_member, operation_model
from awsmodel.sizes import scalars_at_most
from awsmodel.words import PATTERN_WORDS

# A documented cross-field rule: the violations of one operation's parameters.
Rule = Callable[[dict[str, Any]], list[Violation]]
# The form's other values, by dotted member path ("instanceId", "Catalog"), as typed so far.
Values = Mapping[str, str]


@dataclass(frozen=True)
class Call:
    """An AWS call named as the registry names operations: "service/Operation" (botocore's names)."""

    call: str

    @property
    def service(self) -> str:
        return self.call.split("/", 1)[0]

    @property
    def operation(self) -> str:
        return self.call.split("/", 1)[1]


@dataclass(frozen=True)
class Picker(Call):
    """Where a member that names an existing resource finds its choices: a List call in the target.

    ``call`` is "service/Operation" (botocore's names); it is paged by botocore's paginator for it,
    and every item of its result list gives a value (``value``, a key of the item) and words to show
    beside it (``label``, optional). ``params`` builds the call's parameters from the form's other
    values: a list of parameter sets (each listed and paged in turn; several when one call cannot
    cover every choice), or None while a value it ``depends_on`` is still missing. ``keep`` drops
    items that cannot be chosen. Read by ``integrations.choices`` for the forms and the API alike.
    """

    value: str
    label: str = ""
    depends_on: tuple[str, ...] = ()
    params: Callable[[Values], list[dict[str, Any]] | None] | None = None
    keep: Callable[[dict[str, Any]], bool] | None = None
    # What the list holds, in words, for "No app bundles in this target" and similar.
    noun: str = "resources"

    def call_params(self, values: Values) -> list[dict[str, Any]] | None:
        if any(not values.get(name) for name in self.depends_on):
            return None
        return self.params(values) if self.params else [{}]


def dig(document: object, path: tuple[str, ...]) -> object:
    """The value at ``path`` in nested dicts, or None where any part is missing."""
    for part in path:
        document = document.get(part) if isinstance(document, dict) else None
    return document


@dataclass(frozen=True)
class ReadBack(Call):
    """How a created resource is read back from AWS: after the create succeeds (its confirmation)
    and whenever the reconciliation checks it again.

    ``call`` is the service's own read ("appfabric/GetIngestion"), its parameters built by
    ``params`` from the create's parameters and response. ``fields`` are the key fields recorded
    from the read's output (name → path): the first read is the baseline, and a later read that
    differs in any of them marks the resource "changed". ``state`` names the field that is the
    resource's state in AWS (one of ``fields``), if it has one. ``gone`` are the error codes by
    which the service says the resource does not exist.
    """

    params: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
    fields: dict[str, tuple[str, ...]]
    state: str = ""
    gone: tuple[str, ...] = ("ResourceNotFoundException",)

    def observe(self, output: dict[str, Any]) -> dict[str, Any]:
        """The key fields of a read's output (JSON-safe values; missing ones are None)."""
        return {name: dig(output, path) for name, path in self.fields.items()}


def operation_key(service: str, name: str) -> str:
    """The one key of an operation, everywhere: botocore's service name and operation name."""
    return f"{service}/{name}"


@dataclass(frozen=True)
class FieldHint:
    """What a form field needs beyond the model: all optional."""

    label: str | None = None
    help: str | None = None
    # The constraint in words, for people ("an app bundle ARN (arn:…) or a UUID").
    words: str | None = None
    # Documented values, each a value or a (value, label) pair. Where the model types the member
    # as free text, these are enforced like an enum (by the portal and the sandbox alike).
    choices: tuple[str | tuple[str, str], ...] | None = None
    widget: str | None = None  # "textarea" for long or multi-line values
    # The value sent when the field is left empty, made when the request is recorded.
    default: Callable[[], object] | None = None
    # The member (or group) applies only when another top-level member has one value:
    # ("eventType", "scn.data.dataset"). The form shows it only then, and ignores what it holds
    # otherwise; the service's own rules still judge an API call that sends it anyway.
    shown_when: tuple[str, str] | None = None
    # One row of a list or map, in words: "Folder" names the rows "Folder 1", "Folder 2".
    item_label: str | None = None

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(c if isinstance(c, str) else c[0] for c in self.choices or ())


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    title: str
    summary: str
    # Where the created resource's ARN or id sits in the response, e.g. ("ingestion", "arn").
    result_path: tuple[str, ...]
    # Keyed by the member's path, dotted: "tags.key", "ScheduleConfig.ScheduleExpression".
    hints: dict[str, FieldHint] = field(default_factory=dict)
    docs_url: str = ""
    # The resource's page in the AWS console, if it has one: {region} and {resource_id} filled in.
    console_url: str = ""
    # This operation's own model patterns in words, keyed by the exact pattern (shared ones are
    # in awsmodel.words).
    words: dict[str, str] = field(default_factory=dict)
    # Cross-field rules the documentation states and the model cannot express.
    rules: Rule | None = None
    # Top-level string members whose text is a JSON document (the model says string, the docs
    # say JSON): checked as RFC 8259 JSON, without NaN/Infinity, of any depth, before the rules.
    json_members: tuple[str, ...] = ()
    # AWS error codes this operation answers with, explained in plain words (beside the common ones).
    error_help: dict[str, str] = field(default_factory=dict)
    # How long AWS honours a client token, when the operation's documentation says (Supply Chain
    # and AppFlow: 8 hours); None where it says nothing. An operator's retry reuses the token only
    # within it (integrations.operator).
    token_lifetime: dt.timedelta | None = None
    # Members naming an existing resource, keyed by dotted path: the form offers their choices.
    pickers: dict[str, Picker] = field(default_factory=dict)
    # How the created resource is read back (confirmation and reconciliation); None: never.
    read_back: ReadBack | None = None
    # The created resource's name for people, from the create's parameters and response.
    resource_name: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
    # Members (dotted paths) whose values, together, may name only one resource in an account and
    # region: a second create with the same ones is refused as a conflict ("already exists"), and
    # the failed request's page links to the portal's request that created the existing one.
    unique_members: tuple[str, ...] = ()
    # Top-level members whose values, together with the target's account and region, make a group
    # whose requests must reach AWS one at a time, in the order recorded (Supply Chain processes
    # the events of one group in the order received). Empty: requests run in any order.
    ordered_by: tuple[str, ...] = ()
    # Whether people may upload a file of many requests at once (integrations/batches.py).
    bulk_upload: bool = False

    @property
    def key(self) -> str:
        return operation_key(self.service, self.name)

    @property
    def model(self) -> OperationModel:
        return operation_model(self.service, self.name)

    @property
    def input_shape(self) -> StructureShape:
        """The shape of the operation's input: every operation the portal runs takes one."""
        shape = self.model.input_shape
        assert shape is not None, f"{self.key} has no input shape"
        return shape

    # Read from the model once per operation: forms, validation and the pipeline ask on every
    # request (the declaration is frozen, so what these derive from never changes).
    @functools.cached_property
    def token_member(self) -> str | None:
        return idempotency_token_member(self.model)

    @functools.cached_property
    def pattern_words(self) -> Mapping[str, str]:
        """Every pattern of this operation said in words: its own first, then the shared ones."""
        return collections.ChainMap(self.words, PATTERN_WORDS)

    def console_link(self, region: str, resource_id: str) -> str:
        if not (self.console_url and resource_id):
            return ""
        return self.console_url.format(region=region, resource_id=resource_id)

    def result_of(self, response: dict[str, Any]) -> str:
        """The ARN or id in a response, or "" when the response does not carry it."""
        value: object = response
        for part in self.result_path:
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else ""

    def shape_at(self, dotted: str) -> Shape | None:
        """The model's shape of a member named by its dotted path through structures."""
        shape: Shape | None = self.model.input_shape
        for part in dotted.split("."):
            members = getattr(shape, "members", None)
            shape = members.get(part) if members else None
        return shape

    @functools.cached_property
    def documented_values(self) -> dict[str, tuple[str, ...]]:
        """Top-level members the model types as free text but whose docs list the valid values."""
        return {
            path: hint.choice_values
            for path, hint in self.hints.items()
            if hint.choices and "." not in path and not getattr(self.shape_at(path), "enum", None)
        }

    def documented_rules(self, params: dict[str, Any]) -> list[Violation]:
        """Violations of what the documentation adds to the model (whose constraints hold): JSON
        documents read as RFC 8259 JSON first, then the documented values and cross-field rules.

        Shared by the portal (``operations.checks``) and the sandbox, which plays the service.
        """
        found = self._json_documents(params)
        if found:
            return found
        found = [
            Violation((member,), "enum", "must be one of " + ", ".join(allowed))
            for member, allowed in self.documented_values.items()
            if params.get(member) is not None and params[member] not in allowed
        ]
        try:
            return found + (self.rules(params) if self.rules else [])
        except RecursionError:
            # A rule reading a document nested too deeply for Python: refused, never a 500.
            return [Violation((), "rule", "nest too deeply to be checked")]

    def _json_documents(self, params: dict[str, Any]) -> list[Violation]:
        """JSON documents held in strings, read as RFC 8259 JSON: no NaN or Infinity, and no nesting
        too deep for Python's parser to read (a field error, where a plain ``json.loads`` would raise
        RecursionError). Text that is not JSON at all is left to the rules, which say so."""
        found = []
        for member in self.json_members:
            text = params.get(member)
            if not isinstance(text, str):
                continue
            try:
                jsontext.loads(text)
            except (jsontext.NonStandardJSONError, jsontext.TooDeepJSONError) as error:
                found.append(Violation((member,), "rule", f"must be JSON as RFC 8259 defines it: {error}"))
            except jsontext.JSONTextError:
                pass
        return found


_REGISTRY: dict[str, Operation] = {}


def register(operation: Operation) -> Operation:
    if operation.key in _REGISTRY:
        raise ValueError(f"{operation.key} is declared twice")
    operation.model  # noqa: B018 - fail at import if botocore does not know the operation
    _REGISTRY[operation.key] = operation
    return operation


@functools.cache
def _load_declarations() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def all_operations() -> list[Operation]:
    _load_declarations()
    return sorted(_REGISTRY.values(), key=lambda op: (op.title, op.key))


def largest_form_size() -> int:
    """The most form fields any registered operation's form can need: its input with every
    bounded list and map filled to the model's maximum (``awsmodel.sizes``), the client token
    left out. ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` must cover it (a test checks that it does)."""
    return max(scalars_at_most(op.input_shape, skip=op.token_member) for op in all_operations())


def get_operation(key: str) -> Operation:
    """The operation registered under ``key``; LookupError if there is none."""
    _load_declarations()
    try:
        return _REGISTRY[key]
    except KeyError:
        raise LookupError(f"no operation {key} is registered") from None
