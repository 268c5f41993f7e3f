"""Factories: each test builds exactly the rows it talks about."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from integrations.models import AwsRequest, AwsTarget, RequestStatus, Resource, ResourceStatus
from integrations.permissions import OPERATORS
from operations import get_operation

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, groups: tuple[str, ...] = (), **fields):
    username = username or f"user{next(_counter)}"
    user = get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)
    user.groups.add(*(Group.objects.get(name=name) for name in groups))
    return user


def make_target(name: str = "sandbox", users=(), groups: tuple[str, ...] = (), **fields) -> AwsTarget:
    """An AWS target; its calls go to settings.AWS_ENDPOINT_URL (the sandbox) unless told."""
    fields.setdefault("account_id", "111122223333")
    fields.setdefault("region", "us-east-1")
    target, _ = AwsTarget.objects.get_or_create(name=name, defaults=fields)
    target.users.add(*users)
    target.groups.add(*(Group.objects.get(name=g) for g in groups))
    return target


def default_target() -> AwsTarget:
    """The target every operator may use unless a test says otherwise."""
    return make_target("sandbox", groups=(OPERATORS,))


def make_operator(username: str | None = None, **fields):
    """A member of Operators, who may run every operation in the default target."""
    default_target()
    return make_user(username or f"operator{next(_counter)}", groups=(OPERATORS,), **fields)


def ingestion_params(**overrides) -> dict:
    params = {
        "app": "SLACK",
        "appBundleIdentifier": "2b2b2b2b-1111-2222-3333-444444444444",
        "ingestionType": "auditLog",
        "tenantId": "tenant-1",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def ingestion_form_data(**overrides) -> dict:
    """Form data for AppFabric CreateIngestion, as a browser would post it."""
    data = ingestion_params()
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def form_post(data: dict, target: AwsTarget | None = None) -> dict:
    """What the operation page posts: the form's data and the chosen target (the default one)."""
    return {"target": str((target or default_target()).pk), **data}


def make_request(operation: str = "appfabric/CreateIngestion", user=None, **fields) -> AwsRequest:
    op = get_operation(operation)
    fields.setdefault("parameters", ingestion_params() if op.service == "appfabric" else {})
    fields.setdefault("target", default_target())
    fields.setdefault("account_id", fields["target"].account_id)
    fields.setdefault("region", fields["target"].region)
    return AwsRequest.objects.create(
        service=op.service, operation=op.name, created_by=user or make_operator(), **fields
    )


_resources = itertools.count(1)


def make_resource(operation: str = "appfabric/CreateIngestion", user=None, target=None, **fields) -> Resource:
    """A resource as ``resources.record`` makes it with its request's success (confirmed unless told)."""
    n = next(_resources)
    aws_request = fields.pop("request", None)
    arn = fields.pop("resource_id", aws_request.resource_id if aws_request else "")
    arn = arn or f"arn:aws:appfabric:us-east-1:111122223333:appbundle/b/ingestion/{n}"
    if aws_request is None:
        aws_request = make_request(
            operation, user=user, target=target or default_target(), status=RequestStatus.SUCCEEDED, resource_id=arn
        )
    fields.setdefault("status", ResourceStatus.CONFIRMED)
    fields.setdefault("name", f"SLACK tenant-{n}")
    fields.setdefault("created_at", timezone.now())
    return Resource.objects.create(
        request=aws_request,
        service=aws_request.service,
        operation=aws_request.operation,
        resource_id=arn,
        target=aws_request.target,
        account_id=aws_request.account_id,
        region=aws_request.region,
        created_by=aws_request.created_by,
        created_by_username=aws_request.created_by.get_username(),
        **fields,
    )
