"""The sandbox's memory: created resources, client tokens, the call log and planned faults.

Everything sits behind one lock, held across "is this token known? then create", so that
concurrent calls carrying one client token create exactly one resource, as AWS promises.
"""

from __future__ import annotations

import collections
import copy
import datetime as dt
import hashlib
import itertools
import json
import random
import threading
from dataclasses import asdict, dataclass, field

from awsmodel.redaction import redact_sensitive
from sandbox import demo
from sandbox.behaviours import BEHAVIOURS, SANDBOX_ACCOUNT_ID, Behaviour, Context
from sandbox.reads import READS, Read, ResourceStore, merge, record_created
from sandbox.wire import WireError

CALL_LOG_LIMIT = 10_000
DEFAULT_REGION = "us-east-1"  # where unsigned calls land, and the region seeded at start
WILDCARD = "*"

ERROR_FAULTS = {
    # fault kind: error codes to answer with, the first one the operation's model declares wins
    "throttle": ("ThrottlingException", "TooManyRequestsException"),
    "internal": ("InternalServerException", "InternalServiceError", "ServiceException", "KMSInternalException"),
    "quota": ("ServiceQuotaExceededException", "ResourceQuotaExceededException"),
    # The caller's role may not make this call (an IAM policy, an SCP, a region refused to it).
    "denied": ("AccessDeniedException",),
}
FAULT_KINDS = (*ERROR_FAULTS, "latency", "drop", "slow", "ok")


def _fingerprint(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def redact(behaviour: Behaviour, params: dict) -> dict:
    """``params`` with members the model marks sensitive replaced by their size and digest."""
    shown: dict = redact_sensitive(behaviour.operation.input_shape, params)  # a dict in, a dict out
    return shown


@dataclass
class Step:
    """One planned fault. ``after``: do the work first (the resource exists), then misbehave."""

    kind: str
    latency_ms: int = 0
    delay_s: float = 30.0
    after: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        # Checked here, when the fault is planned: a bad value found only when a call meets it
        # would crash that call's handler instead of answering it.
        for name in ("latency_ms", "delay_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if self.after is not None and not isinstance(self.after, bool):
            raise ValueError("after must be true or false")
        if self.after is None:
            # A slow response is slow after the service did the work, which is what makes a
            # client's read timeout dangerous; a dropped connection defaults to losing the request.
            self.after = self.kind == "slow"

    @classmethod
    def parse(cls, spec: str | dict) -> Step:
        if isinstance(spec, str):
            return cls(spec)
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError("a fault step is a kind name or an object with a 'kind'")
        unknown = set(spec) - {"kind", "latency_ms", "delay_s", "after"}
        if unknown:
            raise ValueError(f"unknown fault step field(s): {', '.join(sorted(unknown))}")
        return cls(**spec)


@dataclass
class Fault:
    id: int
    operation: str
    # Only calls signed for this region meet the fault (None: every region), so that one target's
    # region can be refused while another's is served.
    region: str | None = None
    sequence: list[Step] | None = None
    step: Step | None = None
    probability: float = 1.0
    seed: int | None = None
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def describe(self) -> dict:
        return {
            "id": self.id,
            "operation": self.operation,
            "region": self.region,
            "sequence": [asdict(s) for s in self.sequence] if self.sequence is not None else None,
            "fault": asdict(self.step) if self.step else None,
            "probability": self.probability,
        }


@dataclass
class Outcome:
    output: dict
    replayed: bool


class SandboxState:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.resources: list[dict] = []
            self._tokens: dict[tuple[str, str], tuple[str, dict]] = {}
            self._unique: dict[tuple[str, str], str | None] = {}
            self.calls: collections.deque[dict] = collections.deque(maxlen=CALL_LOG_LIMIT)
            self.faults: list[Fault] = []
            # What the reads see, per region: created resources and the demo ones. The default
            # region is seeded now, others on their first call (or control action naming them).
            self._stores: dict[str, ResourceStore] = {}
            self._store(DEFAULT_REGION)

    def _store(self, region: str) -> ResourceStore:
        """``region``'s resources, seeded with the demo ones on first use; call with the lock held."""
        store = self._stores.get(region)
        if store is None:
            store = self._stores[region] = ResourceStore()
            demo.seed(store, region, SANDBOX_ACCOUNT_ID)
        return store

    # --- faults -----------------------------------------------------------------------------------

    def add_fault(self, spec: dict) -> Fault:
        """Plan a fault from the control API's JSON (see the README for its fields)."""
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(spec) - {"operation", "region", "sequence", "fault", "probability", "seed"}
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        operation = spec.get("operation", WILDCARD)
        if operation != WILDCARD and operation not in BEHAVIOURS and operation not in READS:
            known = ", ".join([*BEHAVIOURS, *READS])
            raise ValueError(f"unknown operation {operation!r}; expected '*' or one of {known}")
        region = spec.get("region")
        if region is not None and (not isinstance(region, str) or not region):
            raise ValueError("region must be a region name such as eu-west-1")
        if ("sequence" in spec) == ("fault" in spec):
            raise ValueError("give either 'sequence' (a list of steps) or 'fault' (one step, with a 'probability')")
        probability = float(spec.get("probability", 1.0))
        if not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if "sequence" in spec:
            if not isinstance(spec["sequence"], list) or not spec["sequence"]:
                raise ValueError("sequence must be a non-empty list of steps")
            steps = [Step.parse(s) for s in spec["sequence"]]
            fault = Fault(next(self._ids), operation, region, sequence=steps)
        else:
            fault = Fault(next(self._ids), operation, region, step=Step.parse(spec["fault"]), probability=probability)
        if spec.get("seed") is not None:
            fault._rng.seed(spec["seed"])
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def draw_fault(self, operation: str, region: str = DEFAULT_REGION) -> Step | None:
        """The fault this call (signed for ``region``) meets, if any: the first matching plan decides."""
        with self._lock:
            for fault in self.faults:
                if fault.operation not in (WILDCARD, operation) or fault.region not in (None, region):
                    continue
                if fault.sequence is not None:
                    step = fault.sequence.pop(0)
                    if not fault.sequence:
                        self.faults.remove(fault)
                    return None if step.kind == "ok" else step
                chance = fault.step
                if chance is not None and fault._rng.random() < fault.probability:
                    return None if chance.kind == "ok" else chance
                return None
        return None

    # --- calls and resources ----------------------------------------------------------------------

    def log_call(self, **entry: object) -> None:
        entry.setdefault("time", dt.datetime.now(dt.UTC).isoformat())
        with self._lock:
            self.calls.append(entry)

    def execute(self, behaviour: Behaviour, params: dict, token_member: str | None, ctx: Context) -> Outcome:
        """Create the resource, or replay the one this client token already created."""
        token = params.get(token_member) if token_member else None
        request = {k: v for k, v in params.items() if k != token_member}
        fingerprint = _fingerprint(request)
        with self._lock:
            if token is not None:
                known = self._tokens.get((behaviour.key, token))
                if known is not None:
                    if known[0] != fingerprint:
                        raise WireError(
                            behaviour.mismatch_error,
                            f"Client token {token!r} was already used with different parameters; "
                            "use a new client token for a different request.",
                        )
                    return Outcome(known[1], replayed=True)
            unique_value = params.get(behaviour.unique_member) if behaviour.unique_member else None
            if unique_value is not None and (behaviour.key, unique_value) in self._unique:
                raise WireError(
                    behaviour.unique_error,
                    f"A resource with {behaviour.unique_member} {unique_value!r} already exists.",
                )
            output = behaviour.create(params, ctx)
            record_created(self._store(ctx.region), behaviour.key, params, output, ctx)
            if token is not None:
                self._tokens[(behaviour.key, token)] = (fingerprint, output)
            if unique_value is not None:
                self._unique[(behaviour.key, unique_value)] = token
            self.resources.append(
                {
                    "operation": behaviour.key,
                    "id": behaviour.resource_id(output),
                    "client_token": token,
                    "region": ctx.region,
                    "created_at": ctx.now.isoformat(),
                    "parameters": redact(behaviour, request),
                }
            )
            return Outcome(output, replayed=False)

    # --- reads and drift --------------------------------------------------------------------------

    def read(self, read: Read, params: dict, ctx: Context) -> dict:
        """A read's output, from what exists in the caller's region at this moment."""
        with self._lock:
            return read.run(self._store(ctx.region), params, ctx)

    def _regions(self, region: str | None) -> list[ResourceStore]:
        return [self._store(region)] if region else list(self._stores.values())

    def delete_resource(self, resource_id: str, region: str | None = None) -> dict:
        """Delete a resource behind the portal's back (drift); KeyError if no such resource."""
        with self._lock:
            for store in self._regions(region):
                deleted = store.delete(resource_id)
                if deleted is not None:
                    return copy.deepcopy(deleted)
        raise KeyError(resource_id)

    def change_resource(self, resource_id: str, patch: dict, region: str | None = None) -> dict:
        """Merge ``patch`` (RFC 7386) into a resource's description; KeyError if no such resource."""
        if not isinstance(patch, dict):
            raise ValueError("a change is a JSON object, merged into the resource's description")
        with self._lock:
            for store in self._regions(region):
                found = store.find(resource_id)
                if found is not None:
                    kind, description = found
                    changed = merge(description, patch)
                    store.put(kind, resource_id, changed)
                    return copy.deepcopy(changed)
        raise KeyError(resource_id)
