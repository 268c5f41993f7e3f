"""The sandbox's HTTP endpoint: one threaded server for all emulated operations and the control API.

boto3 and the AWS CLI reach it through their standard endpoint setting (``endpoint_url`` or
``AWS_ENDPOINT_URL``); a call is routed by its SigV4 credential scope, ``X-Amz-Target`` header,
method and path, exactly the information the real endpoints have.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from botocore.model import OperationModel, ServiceModel

from awsmodel.constraints import validate
from awsmodel.shapes import idempotency_token_member, service_model
from operations import operation_key
from sandbox.behaviours import BEHAVIOURS, Behaviour, Context
from sandbox.reads import READS, Read
from sandbox.state import DEFAULT_REGION, ERROR_FAULTS, SandboxState, Step
from sandbox.wire import (
    Route,
    WireError,
    credential_scope,
    match_rest_operation,
    parse_request,
    serialize_error,
    serialize_output,
    signing_key_id,
)

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox/"
MAX_LISTED_VIOLATIONS = 10


def _served_operations() -> list[tuple[str, str]]:
    """(service, operation) of every emulated operation: the creates, then the reads."""
    return [(b.operation.service, b.operation.name) for b in BEHAVIOURS.values()] + [
        (r.service, r.name) for r in READS.values()
    ]


def _served_services() -> list:
    return [service_model(name) for name in dict.fromkeys(service for service, _ in _served_operations())]


def resolve(method: str, path: str, headers) -> Route:
    """Which operation a request calls, from what a real AWS endpoint sees of it."""
    _, signing_name = credential_scope(headers.get("Authorization"))
    services = _served_services()
    if signing_name:
        services = [s for s in services if signing_name in (s.signing_name, s.endpoint_prefix)]
        if not services:
            raise WireError("UnknownOperationException", f"The sandbox does not emulate the {signing_name!r} service.")
    target = headers.get("X-Amz-Target")
    if target:
        prefix, _, name = target.rpartition(".")
        for service in services:
            if service.protocol == "json" and service.metadata.get("targetPrefix") == prefix:
                if name not in service.operation_names:
                    raise UnknownOperationError(service, f"{target} is not an operation of {service.service_name}.")
                return Route(service, service.operation_model(name))
        raise WireError("UnknownOperationException", f"No emulated service has the target {target!r}.")
    rest = [s for s in services if s.protocol == "rest-json"]
    served = [
        (s, s.operation_model(name))
        for s in rest
        for service, name in _served_operations()
        if service == s.service_name
    ]
    others = [(s, s.operation_model(n)) for s in rest for n in s.operation_names]
    for service, operation in served + others:
        labels = match_rest_operation(operation, method, path)
        if labels is not None:
            return Route(service, operation, labels)
    message = f"No operation matches {method} {path}."
    if len(services) == 1:
        raise UnknownOperationError(services[0], message)
    raise WireError("UnknownOperationException", message)


class UnknownOperationError(WireError):
    """No operation matched, but the service did: the error is answered in its protocol."""

    def __init__(self, service: ServiceModel, message: str):
        super().__init__("UnknownOperationException", message)
        self.service = service


def _validation_message(violations) -> str:
    shown = violations[:MAX_LISTED_VIOLATIONS]
    count = len(violations)
    head = f"{count} validation error{'s' if count != 1 else ''} detected: "
    return head + "; ".join(f"{v.dotted_path or 'input'} {v.message}" for v in shown)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False  # a deliberately slow response must not hold up shutdown
    # socketserver's listen backlog of 5 overflows when a burst of clients connects at once (a
    # worker pool retrying together): the kernel then drops connections before any request is read.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState | None = None):
        self.state = state or SandboxState()
        super().__init__(address, SandboxHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    # Without this, keep-alive clients wait ~40 ms per call on the delayed-ACK/Nagle interaction.
    disable_nagle_algorithm = True
    server_version = "PortalAWSSandbox/1.0"

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        logger.debug("%s %s", self.address_string(), format % args)

    # --- plumbing ---------------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        """Write the whole response in one piece (see PITFALLS: header and body writes apart are slow)."""
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        headers = {
            "Date": email.utils.formatdate(usegmt=True),
            "Server": self.server_version,
            "Content-Length": str(len(body)),
            **headers,
        }
        lines += [f"{k}: {v}" for k, v in headers.items()]
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if self.command == "HEAD" else body)
        try:
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its read timeout); nothing to do

    def _json(self, status: int, document: object) -> None:
        self._send(status, {"Content-Type": "application/json"}, json.dumps(document, default=str).encode())

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if CONTROL_PREFIX in url.path + "/":
            self._control(url.path.split(CONTROL_PREFIX.rstrip("/"), 1)[1].strip("/"), url.query, body)
        else:
            self._aws_call(url.path, url.query, body)

    # --- AWS operations ---------------------------------------------------------------------------

    def _aws_call(self, path: str, query: str, body: bytes) -> None:
        request_id = str(uuid.uuid4())
        region, _ = credential_scope(self.headers.get("Authorization"))
        route: Route | None = None
        try:
            route = resolve(self.command, path, self.headers)
        except UnknownOperationError as exc:
            self._error(exc.service, None, exc, request_id)
            return
        except WireError as exc:
            self._error(None, None, exc, request_id)
            return
        key = operation_key(route.service.service_name, route.operation.name)
        behaviour: Behaviour | Read | None = BEHAVIOURS.get(key) or READS.get(key)
        if behaviour is None:
            unknown = WireError("UnknownOperationException", f"The sandbox does not implement {key}.")
            self._error(route.service, route.operation, unknown, request_id)
            return

        log = {
            "request_id": request_id,
            "operation": key,
            "client_token": None,
            "fault": None,
            "access_key_id": signing_key_id(self.headers.get("Authorization")),
        }
        fault = self.server.state.draw_fault(key, region or DEFAULT_REGION)
        if fault is not None:
            log["fault"] = fault.kind
        try:
            params = parse_request(route, query, self.headers, body)
            token_member = idempotency_token_member(route.operation)
            log["client_token"] = params.get(token_member) if token_member else None
            if fault is not None and fault.kind in ERROR_FAULTS:
                raise self._fault_error(route, fault)
            if fault is not None and fault.kind == "latency":
                time.sleep(fault.latency_ms / 1000)
            if fault is not None and fault.kind in ("drop", "slow") and not fault.after:
                self._misbehave(fault, log)
                return
            input_shape = behaviour.input_shape if isinstance(behaviour, Read) else behaviour.operation.input_shape
            violations = validate(input_shape, params)
            violations = violations or behaviour.rules(params)
            if violations:
                raise WireError(behaviour.validation_error, _validation_message(violations), violations=violations)
            ctx = Context(region or DEFAULT_REGION)
            if isinstance(behaviour, Read):
                output, result = self.server.state.read(behaviour, params, ctx), "read"
            else:
                outcome = self.server.state.execute(behaviour, params, token_member, ctx)
                output, result = outcome.output, "replayed" if outcome.replayed else "created"
        except WireError as exc:
            # Logged before answering, as a success is: a caller that reads the call log as soon
            # as it has its answer must find the call there.
            status, headers, payload = serialize_error(route.service, route.operation, exc)
            self.server.state.log_call(**log, outcome=exc.code, status=status, message=exc.message)
            self._send(status, {**headers, "x-amzn-RequestId": request_id}, payload)
            return
        status, headers, payload = serialize_output(route, output)
        self.server.state.log_call(**log, outcome=result, status=status)
        if fault is not None and fault.kind in ("drop", "slow"):
            self._misbehave(fault, log, (status, headers, payload, request_id))
            return
        self._send(status, {**headers, "x-amzn-RequestId": request_id}, payload)

    def _fault_error(self, route: Route, fault: Step) -> WireError:
        declared = {shape.name for shape in route.operation.error_shapes}
        codes = ERROR_FAULTS[fault.kind]
        code = next((c for c in codes if c in declared), codes[0])
        return WireError(code, f"Sandbox fault: {fault.kind} ({code}).")

    def _misbehave(self, fault: Step, log: dict, response: tuple | None = None) -> None:
        if response is None:
            self.server.state.log_call(**log, outcome="dropped" if fault.kind == "drop" else "slow", status=None)
        if fault.kind == "slow":
            time.sleep(fault.delay_s)
        if fault.kind == "drop" or response is None:
            self.close_connection = True  # the socket closes with no response at all
            return
        status, headers, payload, request_id = response
        self._send(status, {**headers, "x-amzn-RequestId": request_id}, payload)

    def _error(
        self, service: ServiceModel | None, operation: OperationModel | None, error: WireError, request_id: str
    ) -> int:
        status, headers, payload = serialize_error(service, operation, error)
        self._send(status, {**headers, "x-amzn-RequestId": request_id}, payload)
        return status

    # --- control API ------------------------------------------------------------------------------

    def _drift(self, method: str, params: dict[str, list[str]], body: bytes) -> None:
        """Delete or change a resource behind the portal's back, as someone in the console would."""
        resource_id = params.get("id", [None])[0]
        region = params.get("region", [None])[0]
        if not resource_id:
            return self._json(400, {"error": "name the resource: ?id=<its ARN or id>"})
        try:
            if method == "DELETE":
                return self._json(200, {"deleted": self.server.state.delete_resource(resource_id, region)})
            patch = json.loads(body or b"null")
            return self._json(200, {"changed": self.server.state.change_resource(resource_id, patch, region)})
        except KeyError:
            return self._json(404, {"error": f"no resource {resource_id!r}"})

    def _control(self, action: str, query: str, body: bytes) -> None:
        state = self.server.state
        params = parse_qs(query)
        operation = params.get("operation", [None])[0]
        method = self.command
        try:
            if (method, action) == ("GET", "health"):
                return self._json(200, {"status": "ok", "operations": sorted(BEHAVIOURS), "reads": sorted(READS)})
            if (method, action) == ("GET", "calls"):
                calls = [c for c in list(state.calls) if operation in (None, c["operation"])]
                return self._json(200, {"calls": calls})
            if (method, action) == ("GET", "resources"):
                resources = [r for r in list(state.resources) if operation in (None, r["operation"])]
                return self._json(200, {"resources": resources})
            if method in ("DELETE", "PATCH") and action == "resources":
                return self._drift(method, params, body)
            if (method, action) == ("GET", "faults"):
                return self._json(200, {"faults": [f.describe() for f in list(state.faults)]})
            if (method, action) == ("POST", "faults"):
                fault = state.add_fault(json.loads(body or b"{}"))
                return self._json(201, fault.describe())
            if (method, action) == ("DELETE", "faults"):
                state.clear_faults()
                return self._json(200, {"faults": []})
            if (method, action) == ("POST", "reset"):
                state.reset()
                return self._json(200, {"reset": True})
        except (ValueError, TypeError) as exc:
            return self._json(400, {"error": str(exc)})
        return self._json(404, {"error": f"no control action {method} {CONTROL_PREFIX}{action}"})


@contextlib.contextmanager
def running_sandbox(host: str = "127.0.0.1", port: int = 0) -> Iterator[SandboxServer]:
    """A sandbox served from a background thread, for tests and scripts."""
    server = SandboxServer((host, port))
    thread = threading.Thread(target=server.serve_forever, name="aws-sandbox", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
