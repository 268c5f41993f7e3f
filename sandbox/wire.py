"""The AWS wire protocols, read and written from botocore's model rather than per operation.

botocore only serializes requests and parses responses; the sandbox needs the mirror image
(parse requests, serialize responses and errors) for the two protocols our operations use:
``rest-json`` (members bound to the URI, query string, headers or a JSON body) and ``json``
(version 1.0 or 1.1: the whole input as a JSON body, the operation named by ``X-Amz-Target``).
"""

from __future__ import annotations

import base64
import calendar
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, unquote

from botocore.model import ListShape, OperationModel, ServiceModel, Shape, StructureShape

from awsmodel.constraints import Violation
from awsmodel.shapes import Path, ShapeWalk


class WireError(Exception):
    """A request the sandbox answers with an AWS error in the operation's protocol."""

    def __init__(self, code: str, message: str, status: int | None = None, violations: Iterable[Violation] = ()):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.violations = list(violations)


@dataclass
class Route:
    service: ServiceModel
    operation: OperationModel
    labels: dict[str, str] = field(default_factory=dict)


# --- routing --------------------------------------------------------------------------------------

_CREDENTIAL_SCOPE = re.compile(r"Credential=(?P<key>[^/,\s]+)/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


def signing_key_id(authorization: str | None) -> str | None:
    """The access key id a SigV4 request was signed with: whose credentials made the call."""
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    return match["key"] if match else None


def credential_scope(authorization: str | None) -> tuple[str | None, str | None]:
    """(region, signing service) from a SigV4 Authorization header; (None, None) if unsigned."""
    match = _CREDENTIAL_SCOPE.search(authorization or "")
    return (match["region"], match["service"]) if match else (None, None)


def _uri_regex(request_uri: str) -> re.Pattern:
    path = request_uri.split("?", 1)[0]
    out, pos = [], 0
    for label in re.finditer(r"\{([^}]+?)(\+?)\}", path):
        out.append(re.escape(path[pos : label.start()]))
        group = re.sub(r"\W", "_", label[1])
        out.append(f"(?P<{group}>.+)" if label[2] else f"(?P<{group}>[^/]+)")
        pos = label.end()
    out.append(re.escape(path[pos:]))
    # The endpoint URL may carry a path prefix (http://host/prefix): match the template at the end.
    return re.compile("^(?:/.*?)??" + "".join(out) + "/?$")


def match_rest_operation(operation: OperationModel, method: str, path: str) -> dict[str, str] | None:
    """The URI labels if ``method path`` is this rest-json operation's, else None."""
    if operation.http.get("method", "POST").upper() != method.upper():
        return None
    match = _uri_regex(operation.http.get("requestUri", "/")).match(path)
    if not match:
        return None
    names = {re.sub(r"\W", "_", n): n for n in re.findall(r"\{([^}]+?)\+?\}", operation.http["requestUri"])}
    return {names[g]: unquote(v) for g, v in match.groupdict().items()}


# --- requests -------------------------------------------------------------------------------------


def _wire_name(name: str, shape: Shape) -> str:
    return shape.serialization.get("name", name)


def parse_request(route: Route, query: str, headers: Mapping[str, str] | Message, body: bytes) -> dict:
    """The operation's input parameters, as the caller passed them to boto3."""
    input_shape = route.operation.input_shape
    if input_shape is None:
        return {}
    protocol = route.service.protocol
    try:
        document = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise WireError("SerializationException", f"The request body is not valid JSON: {exc}") from exc
    if protocol == "json":
        if not isinstance(document, dict):
            raise WireError("SerializationException", "The request body must be a JSON object.")
        return _from_json(input_shape, document)
    if protocol != "rest-json":
        raise WireError("UnknownOperationException", f"The sandbox does not speak the {protocol} protocol.")

    params: dict = {}
    qs = parse_qs(query, keep_blank_values=True)
    lower_headers = {k.lower(): v for k, v in headers.items()}
    payload_member = input_shape.serialization.get("payload")
    body_members = {}
    for name, member in input_shape.members.items():
        location = member.serialization.get("location")
        wire = _wire_name(name, member)
        if location == "uri":
            if wire in route.labels:
                params[name] = _scalar(member, route.labels[wire])
        elif location == "querystring":
            if wire in qs:
                values = qs[wire]
                params[name] = (
                    [_scalar(member.member, v) for v in values]
                    if isinstance(member, ListShape)
                    else _scalar(member, values[0])
                )
        elif location == "header":
            if wire.lower() in lower_headers:
                params[name] = _scalar(member, lower_headers[wire.lower()])
        elif name == payload_member:
            if member.type_name == "structure":
                params[name] = _from_json(member, document) if document else None
            else:
                params[name] = body.decode() if member.type_name == "string" else body
        else:
            body_members[name] = member
    if payload_member is None and body_members:
        if not isinstance(document, dict):
            raise WireError("SerializationException", "The request body must be a JSON object.")
        for name, member in body_members.items():
            wire = _wire_name(name, member)
            if wire in document:
                params[name] = _from_json(member, document[wire])
    return {k: v for k, v in params.items() if v is not None}


def _scalar(shape: Shape, text: str) -> object:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return text.lower() == "true"
    except ValueError:
        return text  # left as text, so that validation names the member and its type
    return text


class _FromJson(ShapeWalk):
    """Undo botocore's JSON serialization (wire names, base64 blobs); types are left to validation."""

    def structure(self, shape: Any, value: Any, path: Path) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for name, member in shape.members.items():
            wire = _wire_name(name, member)
            if wire in value and value[wire] is not None:
                out[name] = self.walk(member, value[wire], (*path, name))
        return out

    def scalar(self, shape: Shape, value: Any, path: Path) -> Any:
        if shape.type_name == "blob" and isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                return value
        return value


def _from_json(shape: Shape, value: object) -> Any:
    return _FromJson().walk(shape, value)


# --- responses ------------------------------------------------------------------------------------


def _timestamp(shape: Shape, value: object, default_format: str) -> object:
    if not isinstance(value, dt.datetime):
        return value
    fmt = shape.serialization.get("timestampFormat") or shape.metadata.get("timestampFormat") or default_format
    value = value.astimezone(dt.UTC)
    if fmt == "iso8601":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if fmt == "rfc822":
        return value.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return calendar.timegm(value.utctimetuple()) + value.microsecond / 1e6


class _ToJson(ShapeWalk):
    """botocore's JSON serialization of an output: wire names, members bound elsewhere left out,
    timestamps in the protocol's format, blobs in base64."""

    def structure(self, shape: Any, value: Any, path: Path) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {
            _wire_name(name, member): self.walk(member, value[name], (*path, name))
            for name, member in shape.members.items()
            if value.get(name) is not None and member.serialization.get("location") is None
        }

    def scalar(self, shape: Shape, value: Any, path: Path) -> Any:
        if shape.type_name == "timestamp":
            return _timestamp(shape, value, "unixTimestamp")
        if shape.type_name == "blob" and isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode()
        return value


def _to_json(shape: Shape, value: object) -> object:
    return _ToJson().walk(shape, value)


def _content_type(service: ServiceModel) -> str:
    if service.protocol == "json":
        return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"
    return "application/json"


def serialize_output(route: Route, output: Mapping) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a successful call, as the real service would send it."""
    shape = route.operation.output_shape
    status = int(route.operation.http.get("responseCode", 200))
    headers = {"Content-Type": _content_type(route.service)}
    if shape is None:
        return status, headers, b"{}"
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if output.get(name) is None:
            continue
        if location == "header":
            headers[_wire_name(name, member)] = str(_timestamp(member, output[name], "rfc822"))
        elif location == "statusCode":
            status = int(output[name])
    return status, headers, json.dumps(_to_json(shape, output)).encode()


_DEFAULT_STATUS = {
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "InternalServiceError": 500,
    "ServiceQuotaExceededException": 402,
    "ConflictException": 409,
    "ResourceNotFoundException": 404,
    "AccessDeniedException": 403,
    "UnknownOperationException": 404,
    # KMS's model gives its errors no status; these are the ones the service sends.
    "KMSInternalException": 500,
    "NotFoundException": 400,
    "InvalidMarkerException": 400,
}


def error_shape(operation: OperationModel | None, code: str) -> Shape | None:
    for shape in operation.error_shapes if operation else ():
        if shape.name == code:
            return shape
    return None


def error_status(operation: OperationModel | None, code: str) -> int:
    shape = error_shape(operation, code)
    status = shape.metadata.get("error", {}).get("httpStatusCode") if shape is not None else None
    return int(status or _DEFAULT_STATUS.get(code, 400))


_VALIDATION_CODES = {
    "required": "REQUIRED_FIELD_MISSING",
    "enum": "INVALID_ENUM_VALUE",
    "pattern": "INVALID_STRING_FORMAT",
    "range": "VALUE_OUT_OF_RANGE",
}


def _error_members(shape: Shape | None, message: str, violations: list[Violation]) -> dict:
    """The error's message plus the detail members the model gives it (reason, field list)."""
    if not isinstance(shape, StructureShape):
        return {"message": message}
    body: dict = {}
    members: dict[str, Any] = dict(shape.members)  # enums, lists and structures read below
    for name, member in members.items():
        lname = name.lower()
        if lname == "message":
            body[name] = message
        elif lname == "reason" and member.enum:
            preferred = ("fieldValidationFailed", "REQUEST_VALIDATION_FAILED")
            body[name] = next((v for v in preferred if v in member.enum), member.enum[0])
        elif member.type_name == "list" and member.member.type_name == "structure" and violations:
            items = []
            for v in violations:
                item = {}
                for field_name, field_shape in member.member.members.items():
                    if field_name.lower() in ("name", "fieldname"):
                        item[field_name] = v.dotted_path
                    elif field_name.lower() == "message":
                        item[field_name] = v.message
                    elif field_name.lower() == "code" and field_shape.enum:
                        code = _VALIDATION_CODES.get(v.constraint, "INVALID_VALUE")
                        item[field_name] = code if code in field_shape.enum else field_shape.enum[0]
                items.append(item)
            body[name] = items
    body.setdefault("message", message)
    return body


def serialize_error(
    service: ServiceModel | None,
    operation: OperationModel | None,
    error: WireError,
    status: int | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of an AWS error, in the shape botocore's parsers read it."""
    status = error.status or status or error_status(operation, error.code)
    body = _error_members(error_shape(operation, error.code), error.message, error.violations)
    if service is not None and service.protocol == "json":
        namespace = service.metadata.get("targetPrefix", "com.amazonaws.sandbox").lower()
        body = {"__type": f"{namespace}#{error.code}", **body}
        return status, {"Content-Type": _content_type(service)}, json.dumps(body).encode()
    if service is None:
        # The caller's protocol is unknown: json clients read the code from __type, rest-json from the header.
        body = {"__type": error.code, **body}
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}, json.dumps(body).encode()
