"""The operation registry: every AWS operation the portal runs is declared once, in this package.

A declaration names the botocore service and operation, says where the created resource's ARN
or id sits in the response, and adds what the botocore model does not carry (titles, the
documented valid values, constraints in words). Forms, validation, the pipeline and the
history are shared and read everything else from botocore's model. Adding an operation means
adding a module here with one ``register(Operation(...))`` call.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.model import OperationModel
from django.http import Http404

from integrations.awsmodel import idempotency_token_member, operation_model


@dataclass(frozen=True)
class FieldHint:
    """What a form field needs beyond the model: all optional."""

    label: str | None = None
    help: str | None = None
    # The constraint in words, for people ("an app bundle ARN (arn:…) or a UUID").
    words: str | None = None
    # Documented values, each a value or a (value, label) pair.
    choices: tuple[str | tuple[str, str], ...] | None = None
    widget: str | None = None  # "textarea" for long or multi-line values
    # The value sent when the field is left empty, made when the request is recorded.
    default: Callable[[], object] | None = None

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

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def model(self) -> OperationModel:
        return operation_model(self.service, self.name)

    @property
    def token_member(self) -> str | None:
        return idempotency_token_member(self.model)

    def console_link(self, region: str, resource_id: str) -> str:
        if not (self.console_url and resource_id):
            return ""
        return self.console_url.format(region=region, resource_id=resource_id)

    def result_of(self, response: dict) -> str:
        """The ARN or id in a response, or "" when the response does not carry it."""
        value: object = response
        for part in self.result_path:
            value = value.get(part) if isinstance(value, dict) else None
        return value if isinstance(value, str) else ""


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


def get_operation(service: str, name: str) -> Operation:
    _load_declarations()
    try:
        return _REGISTRY[f"{service}/{name}"]
    except KeyError:
        raise LookupError(f"no operation {service}/{name} is registered") from None


def get_operation_or_404(service: str, name: str) -> Operation:
    try:
        return get_operation(service, name)
    except LookupError:
        raise Http404(f"No operation {service}/{name}") from None
