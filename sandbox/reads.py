"""What each emulated read (List/Get/Describe) operation answers: one declaration per operation.

Reads share the creates' routing, validation, faults, call log and error formats (``server``,
``wire``, ``awsmodel``); a declaration holds only what differs: which stored resources the
operation sees and how it filters them, and the error codes the service documents. List
operations page by their botocore paginator (page-size member, continuation token), so that
boto3's paginators walk them as they walk AWS. The resources are what the sandbox created
(recorded by ``record_created``) and the demo resources of ``sandbox.demo``, per region.
"""

from __future__ import annotations

import base64
import binascii
import copy
import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import OperationModel, StructureShape

from awsmodel.constraints import Violation
from awsmodel.shapes import operation_model
from operations import operation_key
from sandbox.behaviours import Context
from sandbox.wire import WireError

Description = dict[str, Any]


class ResourceStore:
    """One region's resources: kind ("appfabric/ingestion") → id (an ARN, or the service's id) → description.

    A description is shaped like the read operation's output model, so a read returns it as is;
    keys the model does not have (a Catalog on an engagement summary) are kept for filtering and
    left out of responses by the serializer.
    """

    def __init__(self) -> None:
        self._kinds: dict[str, dict[str, Description]] = {}

    def put(self, kind: str, resource_id: str, description: Description) -> None:
        self._kinds.setdefault(kind, {})[resource_id] = description

    def items(self, kind: str) -> list[tuple[str, Description]]:
        """(id, description) pairs sorted by id: the order every list pages through."""
        return sorted(self._kinds.get(kind, {}).items())

    def find(self, resource_id: str) -> tuple[str, Description] | None:
        for kind, resources in self._kinds.items():
            if resource_id in resources:
                return kind, resources[resource_id]
        return None

    def delete(self, resource_id: str) -> Description | None:
        for resources in self._kinds.values():
            if resource_id in resources:
                return resources.pop(resource_id)
        return None


class MissingError(Exception):
    """The named resource does not exist: answered with the read's not-found error."""


class _BadTokenError(Exception):
    pass


# A list operation's selection: the (id, description) pairs its filters let through, in order.
Select = Callable[[ResourceStore, dict, Context], list[tuple[str, Description]]]
# A get/describe operation's answer: its whole output.
Get = Callable[[ResourceStore, dict, Context], dict]


@functools.cache
def _paginator(service: str, name: str) -> dict[str, Any]:
    config: dict[str, Any] = botocore.session.get_session().get_paginator_model(service).get_paginator(name)
    return config


@dataclass(frozen=True)
class Read:
    key: str  # "service/Operation", as operations.operation_key builds it
    get: Get | None = None
    select: Select | None = None
    # A list's page when the caller gives no size, and the most it ever returns (as documented).
    default_page: int = 50
    max_page: int | None = None
    validation_error: str = "ValidationException"
    not_found_error: str = "ResourceNotFoundException"
    invalid_token_error: str | None = None  # None: the validation error

    @property
    def service(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]

    @property
    def model(self) -> OperationModel:
        return operation_model(self.service, self.name)

    @property
    def input_shape(self) -> StructureShape:
        shape = self.model.input_shape
        assert shape is not None, f"{self.key} has no input"
        return shape

    def rules(self, params: dict) -> list[Violation]:
        return []  # no documented cross-field rules for the reads emulated so far

    def run(self, store: ResourceStore, params: dict, ctx: Context) -> dict:
        """The operation's output for valid ``params``, or the service's error."""
        try:
            if self.get is not None:
                return copy.deepcopy(self.get(store, params, ctx))
            assert self.select is not None, f"{self.key} declares neither get nor select"
            return self._page(self.select(store, params, ctx), params)
        except MissingError as exc:
            raise WireError(self.not_found_error, str(exc)) from exc
        except _BadTokenError as exc:
            raise WireError(self.invalid_token_error or self.validation_error, str(exc)) from exc

    def _page(self, items: list[tuple[str, Description]], params: dict) -> dict:
        config = _paginator(self.service, self.name)
        token = params.get(config["input_token"])
        if token is not None:
            after = _decode_token(self.key, token)
            items = [(i, d) for i, d in items if i > after]
        size = params.get(config["limit_key"]) or self.default_page
        if self.max_page is not None:
            size = min(size, self.max_page)
        page, rest = items[:size], items[size:]
        output: dict = {config["result_key"]: [copy.deepcopy(d) for _, d in page]}
        if rest and page:
            output[config["output_token"]] = _encode_token(self.key, page[-1][0])
        if "more_results" in config:
            output[config["more_results"]] = bool(rest and page)
        return output


def _encode_token(key: str, after: str) -> str:
    """Opaque to callers; names the operation so a token from another list is refused."""
    return base64.urlsafe_b64encode(json.dumps({"op": key, "after": after}).encode()).decode()


def _decode_token(key: str, token: object) -> str:
    try:
        document = json.loads(base64.urlsafe_b64decode(str(token).encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _BadTokenError(f"The pagination token {token!r} is invalid.") from exc
    if not isinstance(document, dict) or document.get("op") != key or not isinstance(document.get("after"), str):
        raise _BadTokenError(f"The pagination token {token!r} is invalid.")
    return document["after"]


# --- helpers --------------------------------------------------------------------------------------


def names(arn: str, identifier: str) -> bool:
    """Whether ``identifier`` (an ARN, or the id at its end) names the resource with ``arn``."""
    return identifier == arn or arn.endswith("/" + identifier) or arn.endswith(":" + identifier)


def _where(store: ResourceStore, kind: str, keep: Callable[[Description], bool]) -> list[tuple[str, Description]]:
    return [(i, d) for i, d in store.items(kind) if keep(d)]


def _within(value: object, allowed: Iterable[object] | None) -> bool:
    """A list filter: no list given lets everything through."""
    return allowed is None or value in list(allowed)


def _first(store: ResourceStore, kind: str, keep: Callable[[Description], bool], missing: str) -> Description:
    for _, description in store.items(kind):
        if keep(description):
            return description
    raise MissingError(missing)


# --- AppFabric ------------------------------------------------------------------------------------


def _list_app_bundles(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    return store.items("appfabric/appbundle")


def _get_ingestion(store: ResourceStore, params: dict, ctx: Context) -> dict:
    bundle, ingestion = params["appBundleIdentifier"], params["ingestionIdentifier"]
    found = _first(
        store,
        "appfabric/ingestion",
        lambda d: names(d["arn"], ingestion) and names(d["appBundleArn"], bundle),
        f"Ingestion {ingestion} does not exist in app bundle {bundle}.",
    )
    return {"ingestion": found}


# --- Supply Chain ---------------------------------------------------------------------------------


def _list_instances(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    return _where(
        store,
        "supplychain/instance",
        lambda d: (
            _within(d.get("instanceName"), params.get("instanceNameFilter"))
            and _within(d.get("state"), params.get("instanceStateFilter"))
        ),
    )


def _list_datasets(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    instance = params["instanceId"]
    if store.find(instance) is None:
        raise MissingError(f"Instance {instance} does not exist.")
    return _where(
        store,
        "supplychain/dataset",
        lambda d: d["instanceId"] == instance and d["namespace"] == params["namespace"],
    )


def _get_event(store: ResourceStore, params: dict, ctx: Context) -> dict:
    instance, event = params["instanceId"], params["eventId"]
    found = _first(
        store,
        "supplychain/event",
        lambda d: d["eventId"] == event and d["instanceId"] == instance,
        f"Data integration event {event} does not exist in instance {instance}.",
    )
    return {"event": found}


# --- AppIntegrations ------------------------------------------------------------------------------


def _get_data_integration(store: ResourceStore, params: dict, ctx: Context) -> dict:
    identifier = params["Identifier"]
    return _first(
        store,
        "appintegrations/data-integration",
        lambda d: identifier in (d["Arn"], d["Id"], d["Name"]),
        f"Data integration {identifier} does not exist.",
    )


# --- Partner Central Selling ----------------------------------------------------------------------


def _list_engagements(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    excluded = params.get("ExcludeCreatedBy") or ()
    return _where(
        store,
        "partnercentral-selling/engagement",
        lambda d: (
            d["Catalog"] == params["Catalog"]
            and _within(d["Id"], params.get("EngagementIdentifier"))
            and _within(d["CreatedBy"], params.get("CreatedBy"))
            and d["CreatedBy"] not in excluded
        ),
    )


def _list_associations(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    filters = {
        member: params[member]
        for member in ("EngagementIdentifier", "ResourceType", "ResourceIdentifier", "CreatedBy")
        if member in params
    }
    fields = {
        "EngagementIdentifier": "EngagementId",
        "ResourceType": "ResourceType",
        "ResourceIdentifier": "ResourceId",
        "CreatedBy": "CreatedBy",
    }
    return _where(
        store,
        "partnercentral-selling/association",
        lambda d: d["Catalog"] == params["Catalog"] and all(d[fields[m]] == v for m, v in filters.items()),
    )


def _list_opportunities(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    return _where(
        store,
        "partnercentral-selling/opportunity",
        lambda d: (
            d["Catalog"] == params["Catalog"]
            and _within(d["Id"], params.get("Identifier"))
            and _within(d["LifeCycle"]["Stage"], params.get("LifeCycleStage"))
            and _within(d["Customer"]["Account"]["CompanyName"], params.get("CustomerCompanyName"))
        ),
    )


def _get_snapshot_job(store: ResourceStore, params: dict, ctx: Context) -> dict:
    catalog, job = params["Catalog"], params["ResourceSnapshotJobIdentifier"]
    return _first(
        store,
        "partnercentral-selling/snapshot-job",
        lambda d: d["Id"] == job and d["Catalog"] == catalog,
        f"Resource snapshot job {job} does not exist in catalog {catalog}.",
    )


# --- AppFlow --------------------------------------------------------------------------------------

CUSTOM_CONNECTOR = "CustomConnector"


def _describe_connector(store: ResourceStore, params: dict, ctx: Context) -> dict:
    kind, label = params["connectorType"], params.get("connectorLabel")
    if kind != CUSTOM_CONNECTOR and label is None:
        # AppFlow's own connectors always exist; the sandbox knows only that much about them.
        return {"connectorConfiguration": {"connectorType": kind, "canUseAsSource": True, "canUseAsDestination": True}}
    found = _first(
        store,
        "appflow/connector",
        lambda d: d["connectorType"] == kind and d["connectorLabel"] == label,
        f"No {kind} connector is registered with the label {label!r}.",
    )
    return {"connectorConfiguration": found}


# --- KMS and Lambda -------------------------------------------------------------------------------


def _list_aliases(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    key = params.get("KeyId")
    if key is None:
        return store.items("kms/alias")
    selected = _where(
        store,
        "kms/alias",
        lambda d: "TargetKeyId" in d and (key == d["TargetKeyId"] or key.endswith(f":key/{d['TargetKeyId']}")),
    )
    if not selected:
        raise MissingError(f"Key '{key}' does not exist")
    return selected


def _list_functions(store: ResourceStore, params: dict, ctx: Context) -> list[tuple[str, Description]]:
    return store.items("lambda/function")


READS: dict[str, Read] = {
    r.key: r
    for r in (
        Read(operation_key("appfabric", "ListAppBundles"), select=_list_app_bundles),
        Read(operation_key("appfabric", "GetIngestion"), get=_get_ingestion),
        Read(operation_key("supplychain", "ListInstances"), select=_list_instances, default_page=10),
        Read(operation_key("supplychain", "ListDataLakeDatasets"), select=_list_datasets, default_page=10),
        Read(operation_key("supplychain", "GetDataIntegrationEvent"), get=_get_event),
        Read(
            operation_key("appintegrations", "GetDataIntegration"),
            get=_get_data_integration,
            validation_error="InvalidRequestException",
        ),
        Read(operation_key("partnercentral-selling", "ListEngagements"), select=_list_engagements, default_page=20),
        Read(
            operation_key("partnercentral-selling", "ListEngagementResourceAssociations"),
            select=_list_associations,
            default_page=20,
        ),
        Read(operation_key("partnercentral-selling", "ListOpportunities"), select=_list_opportunities, default_page=20),
        Read(operation_key("partnercentral-selling", "GetResourceSnapshotJob"), get=_get_snapshot_job),
        Read(operation_key("appflow", "DescribeConnector"), get=_describe_connector),
        Read(
            operation_key("kms", "ListAliases"),
            select=_list_aliases,
            not_found_error="NotFoundException",
            invalid_token_error="InvalidMarkerException",
        ),
        Read(
            operation_key("lambda", "ListFunctions"),
            select=_list_functions,
            # "ListFunctions returns a maximum of 50 items in each response, even if you set the number higher."
            max_page=50,
            validation_error="InvalidParameterValueException",
        ),
    )
}


# --- what the creates leave behind, for the reads to find ----------------------------------------

Stored = tuple[str, str, Description]  # kind, id (the create's recorded resource id), description


def _ingestion(params: dict, output: dict, ctx: Context) -> Stored:
    ingestion = output["ingestion"]
    return "appfabric/ingestion", ingestion["arn"], dict(ingestion)


def _event(params: dict, output: dict, ctx: Context) -> Stored:
    event: Description = {
        "instanceId": params["instanceId"],
        "eventId": output["eventId"],
        "eventType": params["eventType"],
        "eventGroupId": params["eventGroupId"],
        "eventTimestamp": params.get("eventTimestamp", ctx.now),
    }
    if "datasetTarget" in params:
        event["datasetTargetDetails"] = {
            **params["datasetTarget"],
            "datasetLoadExecution": {"status": "SUCCEEDED"},
        }
    return "supplychain/event", output["eventId"], event


def _data_integration(params: dict, output: dict, ctx: Context) -> Stored:
    return "appintegrations/data-integration", output["Arn"], {k: v for k, v in output.items() if k != "ClientToken"}


def _snapshot_job(params: dict, output: dict, ctx: Context) -> Stored:
    catalog, opportunity = params["Catalog"], params["ResourceIdentifier"]
    job = {
        "Catalog": catalog,
        "Id": output["Id"],
        "Arn": output["Arn"],
        "EngagementId": params["EngagementIdentifier"],
        "ResourceType": params["ResourceType"],
        "ResourceId": opportunity,
        "ResourceArn": f"arn:aws:partnercentral:{ctx.region}:{ctx.account}:catalog/{catalog}/opportunity/{opportunity}",
        "ResourceSnapshotTemplateName": params["ResourceSnapshotTemplateIdentifier"],
        "CreatedAt": ctx.now,
        "Status": "Stopped",  # a new job runs once StartResourceSnapshotJob is called
    }
    return "partnercentral-selling/snapshot-job", output["Arn"], job


def _connector(params: dict, output: dict, ctx: Context) -> Stored:
    arn = output["connectorArn"]
    connector = {
        "connectorType": CUSTOM_CONNECTOR,
        "connectorLabel": arn.rsplit("/", 1)[1],
        "connectorArn": arn,
        "connectorDescription": params.get("description"),
        "connectorOwner": ctx.account,
        "connectorProvisioningType": params.get("connectorProvisioningType"),
        "connectorProvisioningConfig": params.get("connectorProvisioningConfig"),
        "registeredAt": ctx.now,
        "registeredBy": f"arn:aws:iam::{ctx.account}:user/sandbox",
        "canUseAsSource": True,
        "canUseAsDestination": True,
    }
    return "appflow/connector", arn, {k: v for k, v in connector.items() if v is not None}


CREATED: dict[str, Callable[[dict, dict, Context], Stored]] = {
    operation_key("appfabric", "CreateIngestion"): _ingestion,
    operation_key("supplychain", "SendDataIntegrationEvent"): _event,
    operation_key("appintegrations", "CreateDataIntegration"): _data_integration,
    operation_key("partnercentral-selling", "CreateResourceSnapshotJob"): _snapshot_job,
    operation_key("appflow", "RegisterConnector"): _connector,
}


def record_created(store: ResourceStore, key: str, params: dict, output: dict, ctx: Context) -> None:
    """Keep what a create made, so that its service's reads return it."""
    describe = CREATED.get(key)
    if describe is not None:
        kind, resource_id, description = describe(params, output, ctx)
        store.put(kind, resource_id, copy.deepcopy(description))


def merge(description: Description, patch: dict) -> Description:
    """RFC 7386 JSON merge: objects merge member by member, ``null`` removes, anything else replaces."""
    merged = dict(description)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, dict):
            current = merged.get(name)
            merged[name] = merge(current if isinstance(current, dict) else {}, value)
        else:
            merged[name] = value
    return merged
