"""Run again on a request recorded before today's checks (a null member, a value past its
maximum, a member the model lacks): the form opens, and running it is refused at the field,
with nothing recorded. Nothing of the kind can be recorded any more; old rows may hold it."""

from __future__ import annotations

import pytest

from integrations.models import AwsRequest
from operations import get_operation
from operations.checks import check_parameters
from tests.factories import form_post, ingestion_params, make_request
from tests.integrations.trust import VALID

pytestmark = pytest.mark.django_db

OLD_RECORDS = {
    "null-optional-member": ("appflow/RegisterConnector", {**VALID["appflow/RegisterConnector"], "description": None}),
    "unknown-member": ("appfabric/CreateIngestion", {**ingestion_params(), "notInTheModel": "x"}),
}


def _run_again(client, old: AwsRequest):
    operation = get_operation(old.operation_key)
    page = client.get(f"/requests/{old.pk}/again/")
    assert page.status_code == 200
    data = dict(page.context["form"].initial)
    return operation, client.post(f"/operations/{operation.service}/{operation.name}/", form_post(data))


def test_a_value_past_its_maximum_is_refused_at_its_field_and_nothing_is_recorded(signed_in, operator):
    old = make_request("appfabric/CreateIngestion", user=operator, parameters=ingestion_params(tenantId="t" * 1025))

    _, run = _run_again(signed_in, old)

    assert run.status_code == 200  # the form again, with its error
    assert run.context["form"].errors["tenantId"]
    assert AwsRequest.objects.count() == 1


@pytest.mark.parametrize("case", ["null-optional-member", "unknown-member"])
def test_what_a_form_cannot_say_is_left_out_and_the_rest_runs_as_botocore_accepts_it(case, signed_in, operator):
    key, parameters = OLD_RECORDS[case]
    old = make_request(key, user=operator, parameters=parameters)

    operation, run = _run_again(signed_in, old)

    assert run.status_code == 302
    again = AwsRequest.objects.exclude(pk=old.pk).get()
    assert None not in again.parameters.values()
    assert "notInTheModel" not in again.parameters
    assert check_parameters(operation, again.parameters, strict=True) == []
