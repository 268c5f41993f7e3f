"""Factories: each test builds exactly the rows it talks about."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

from integrations.models import Request
from integrations.operations import get_operation

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(username: str | None = None, **fields):
    username = username or f"operator{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)


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


def make_request(operation: tuple[str, str] = ("appfabric", "CreateIngestion"), user=None, **fields) -> Request:
    op = get_operation(*operation)
    fields.setdefault("parameters", ingestion_params() if operation[0] == "appfabric" else {})
    fields.setdefault("region", "us-east-1")
    return Request.objects.create(service=op.service, operation=op.name, created_by=user or make_user(), **fields)
