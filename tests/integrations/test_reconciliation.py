"""The reconciliation against the real sandbox: a created resource is confirmed, then found gone or
changed when someone deletes or changes it behind the portal's back, and the Resources page says so.

Requests run through ``pipeline.execute``; the checks it and the reconciliation send are caught at
the broker's edge (``check_resource.apply_async``) and run in this process as the task, eagerly.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.request import Request, urlopen

import pytest
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from integrations import pipeline, resources
from integrations.models import AttemptKind, AttemptOutcome, Resource, ResourceStatus
from integrations.tasks import check_resource
from tests.factories import make_operator, make_request, make_resource, make_target

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """The checks handed to the broker, as (resource id, options): recorded instead of sent."""
    checks: list[tuple[int, dict]] = []

    def publish(args, kwargs=None, **options):
        checks.append((args[0], kwargs or {}))

    monkeypatch.setattr(check_resource, "apply_async", publish)
    return checks


def run_checks(sent: list[tuple[int, dict]]) -> list[str]:
    """Run every check sent so far as a worker would (the task, eagerly), and forget them."""
    outcomes = [check_resource.apply(args=(pk,), kwargs=options).get() for pk, options in sent]
    sent.clear()
    return outcomes


def control(sandbox, method: str, query: str, body: dict | None = None) -> dict:
    """The sandbox's control API, as a person simulating drift would call it."""
    data = None if body is None else json.dumps(body).encode()
    request = Request(f"{sandbox.url}/_sandbox/resources?{query}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def make_due(resource: Resource) -> None:
    """As the reconciliation finds a resource hours after its last check: every time it keeps moved
    back by more than the interval between checks, and the next check due a second ago."""
    past = dt.timedelta(seconds=settings.PORTAL_RECONCILE_EVERY_SECONDS + 3600)
    Resource.objects.filter(pk=resource.pk).update(
        checked_at=F("checked_at") - past,
        check_started_at=F("check_started_at") - past,
        check_sent_at=F("check_sent_at") - past,
        next_check_at=timezone.now() - dt.timedelta(seconds=1),
    )


def row(text: str, resource: Resource) -> str:
    """The resource's row of the Resources page."""
    start = text.index(f'<tr id="resource-{resource.pk}"')
    return text[start : text.index("</tr>", start)]


@pytest.fixture
def operator(db):
    return make_operator("ada")


@pytest.fixture
def created(aws, sent, operator) -> Resource:
    """An ingestion created through the pipeline in the sandbox, and confirmed in AWS."""
    aws_request = make_request(user=operator)
    assert pipeline.execute(aws_request.pk) == "succeeded"
    resource = Resource.objects.get(request=aws_request)
    assert (resource.status, [pk for pk, _ in sent]) == (ResourceStatus.PENDING, [resource.pk])
    assert run_checks(sent) == [ResourceStatus.CONFIRMED]
    resource.refresh_from_db()
    return resource


def reconcile_and_check(sent) -> list[str]:
    reconciled = resources.reconcile()
    assert sorted(pk for pk, _ in sent) == sorted(reconciled)
    return run_checks(sent)


def page(client, operator, **query) -> str:
    client.force_login(operator)
    response = client.get("/resources/", query)
    assert response.status_code == 200
    return response.content.decode()


class TestConfirmation:
    def test_the_first_read_confirms_the_resource_records_its_state_and_is_an_audited_read_back(self, created):
        assert created.status == ResourceStatus.CONFIRMED
        assert created.state == "enabled"
        assert created.baseline == created.observed
        assert created.baseline["tenantId"] == "tenant-1"
        create, read = created.request.attempts.order_by("number")
        assert (create.kind, read.kind, read.read_call, read.outcome) == (
            AttemptKind.CREATE,
            AttemptKind.READ_BACK,
            "appfabric/GetIngestion",
            AttemptOutcome.SUCCEEDED,
        )
        assert read.client_token == ""  # never the create's token

    def test_a_routine_check_that_finds_nothing_new_is_not_added_to_the_audit(self, created, sent):
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CONFIRMED]

        assert created.request.attempts.count() == 2
        created.refresh_from_db()
        assert created.checks == 2


class TestDrift:
    def test_a_resource_deleted_behind_the_portals_back_is_marked_gone_on_the_resources_page(
        self, created, sent, aws, client, operator
    ):
        assert "Confirmed in AWS" in row(page(client, operator), created)
        control(aws, "DELETE", f"id={created.resource_id}")
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.GONE]

        created.refresh_from_db()
        assert (created.status, created.check_error) == (ResourceStatus.GONE, "")
        shown = row(page(client, operator), created)
        assert ">Gone</span>" in shown
        assert "AWS says it no longer exists" in shown
        assert "Confirmed in AWS" not in shown

    def test_a_resource_changed_behind_the_portals_back_is_marked_changed_with_the_difference(
        self, created, sent, aws, client, operator
    ):
        control(aws, "PATCH", f"id={created.resource_id}", {"tenantId": "tenant-2"})
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CHANGED]

        created.refresh_from_db()
        assert created.changes == [{"field": "tenantId", "was": "tenant-1", "now": "tenant-2"}]
        shown = row(page(client, operator, status="changed"), created)
        assert "Changed outside the portal" in shown
        assert "<code>tenantId</code>: tenant-1 → tenant-2" in shown

    def test_a_new_state_alone_is_shown_but_is_not_a_change(self, created, sent, aws, client, operator):
        control(aws, "PATCH", f"id={created.resource_id}", {"state": "disabled"})
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CONFIRMED]

        created.refresh_from_db()
        assert (created.state, created.changes) == ("disabled", [])
        assert "<td>disabled</td>" in row(page(client, operator), created)

    def test_a_resource_changed_back_is_confirmed_again(self, created, sent, aws):
        control(aws, "PATCH", f"id={created.resource_id}", {"tenantId": "tenant-2"})
        make_due(created)
        reconcile_and_check(sent)
        control(aws, "PATCH", f"id={created.resource_id}", {"tenantId": "tenant-1"})
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CONFIRMED]
        created.refresh_from_db()
        assert created.changes == []


class TestACheckThatCannotTell:
    def test_a_throttled_read_leaves_the_status_as_it_was_and_shows_the_error(
        self, created, sent, aws, client, operator
    ):
        aws.state.add_fault({"operation": "appfabric/GetIngestion", "sequence": ["throttle"]})
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CONFIRMED]

        created.refresh_from_db()
        assert created.status == ResourceStatus.CONFIRMED
        assert created.check_error.startswith("ThrottlingException")
        shown = row(page(client, operator), created)
        assert "Confirmed in AWS" in shown
        assert "The last check could not tell: ThrottlingException" in shown
        # Tried again soon (a throttle passes), not at the reconciliation's hours-long pace.
        assert created.next_check_at < timezone.now() + dt.timedelta(minutes=1)

    def test_the_next_check_that_can_tell_clears_the_error(self, created, sent, aws):
        aws.state.add_fault({"operation": "appfabric/GetIngestion", "sequence": ["throttle"]})
        make_due(created)
        reconcile_and_check(sent)
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CONFIRMED]
        created.refresh_from_db()
        assert created.check_error == ""

    def test_a_deleted_resource_whose_read_is_throttled_is_not_called_gone(self, created, sent, aws):
        control(aws, "DELETE", f"id={created.resource_id}")
        aws.state.add_fault({"operation": "appfabric/GetIngestion", "sequence": ["throttle"]})
        make_due(created)

        assert reconcile_and_check(sent) == [ResourceStatus.CONFIRMED]


class TestRecheck:
    def test_a_person_asking_for_a_recheck_gets_an_audited_read_at_once_even_when_not_due(
        self, created, sent, aws, client, operator
    ):
        control(aws, "DELETE", f"id={created.resource_id}")
        client.force_login(operator)

        response = client.post(f"/resources/{created.pk}/recheck/")

        assert response.status_code == 302
        assert run_checks(sent) == [ResourceStatus.GONE]
        last = created.request.attempts.order_by("number").last()
        assert (last.kind, last.error_code) == (AttemptKind.READ_BACK, "ResourceNotFoundException")


# --- the pace: rate-limited per target, lost sends re-sent -----------------------------------------


@pytest.fixture
def limit(settings):
    """Two checks of one target per run: 4 a minute, a run every 30 seconds."""
    settings.PORTAL_RECONCILE_CHECKS_PER_MINUTE = 4
    settings.PORTAL_RECONCILE_INTERVAL_SECONDS = 30
    assert resources.per_target_limit() == 2


def due_resources(n: int, target, waited_from: int = 60) -> list[Resource]:
    """``n`` resources of ``target`` due for a check, the first one waiting longest."""
    now = timezone.now()
    made = []
    for i in range(n):
        resource = make_resource(target=target, status=ResourceStatus.CONFIRMED)
        Resource.objects.filter(pk=resource.pk).update(next_check_at=now - dt.timedelta(minutes=waited_from - i))
        made.append(resource)
    return made


class TestPace:
    def test_one_run_sends_at_most_the_limit_for_a_target_while_other_targets_are_still_sent(self, sent, limit):
        busy = due_resources(5, make_target("busy", account_id="444455556666"))
        quiet = due_resources(1, make_target("quiet", account_id="777788889999"))

        first = resources.reconcile()

        assert sorted(first) == sorted([busy[0].pk, busy[1].pk, quiet[0].pk])  # the longest-waiting of each
        assert sorted(pk for pk, _ in sent) == sorted(first)
        assert resources.reconcile() == [busy[2].pk, busy[3].pk]  # the next run takes the next ones
        assert resources.reconcile() == [busy[4].pk]
        assert resources.reconcile() == []

    def test_a_sent_check_is_not_sent_again_while_its_message_may_still_be_queued(self, sent, limit):
        [resource] = due_resources(1, make_target())

        assert resources.reconcile() == [resource.pk]
        assert resources.reconcile() == []
        assert resources.reconcile(timezone.now() + resources.check_lease() / 2) == []

    def test_a_lost_send_is_sent_again_after_the_lease(self, sent, limit):
        [resource] = due_resources(1, make_target())
        resources.reconcile()  # the message is lost: no worker ever runs it

        later = timezone.now() + resources.check_lease() + dt.timedelta(seconds=1)

        assert resources.reconcile(later) == [resource.pk]
        assert [pk for pk, _ in sent] == [resource.pk, resource.pk]

    def test_a_send_the_broker_refuses_is_not_marked_sent_and_goes_out_with_the_next_run(self, monkeypatch, limit):
        [resource] = due_resources(1, make_target())

        def refuse(*args, **kwargs):
            raise ConnectionError("broker down")

        monkeypatch.setattr(check_resource, "apply_async", refuse)
        assert resources.reconcile() == []
        resource.refresh_from_db()
        assert resource.check_sent_at is None

        sent: list[int] = []
        monkeypatch.setattr(check_resource, "apply_async", lambda args, kwargs=None, **o: sent.append(args[0]))
        assert resources.reconcile() == [resource.pk] == sent

    def test_a_resource_not_due_yet_is_not_sent(self, sent, limit):
        [resource] = due_resources(1, make_target())
        Resource.objects.filter(pk=resource.pk).update(next_check_at=timezone.now() + dt.timedelta(minutes=5))

        assert resources.reconcile() == []

    def test_a_check_sent_twice_reads_once(self, created, sent, aws):
        make_due(created)
        resources.reconcile()
        sent.append(sent[0])  # a redelivery: the same message twice
        calls_before = len(aws.state.calls)

        assert run_checks(sent) == [ResourceStatus.CONFIRMED, "not ours to check"]
        assert len(aws.state.calls) == calls_before + 1


def test_the_resources_of_a_retired_target_are_not_read_again(db):
    retired = make_target("retired", is_active=False)
    resource = make_resource(target=retired, status=ResourceStatus.CONFIRMED)
    Resource.objects.filter(pk=resource.pk).update(next_check_at=timezone.now() - dt.timedelta(hours=1))

    assert resource.pk not in resources.select_due(timezone.now(), per_target=10)
