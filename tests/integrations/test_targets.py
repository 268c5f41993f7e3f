"""AWS targets: who may use which, what a valid one looks like, and the role each call runs as.

The role is assumed through a real local STS endpoint (moto's server, in this process) and the
call itself goes to the sandbox, whose call log shows the access key each call was signed with.
"""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from django.core.exceptions import ValidationError
from moto.sts.models import sts_backends

from integrations import aws_clients, lifecycle, pipeline
from integrations.models import AwsRequest, AwsTarget, RequestStatus
from integrations.permissions import OPERATORS
from operations import get_operation
from sandbox.server import running_sandbox
from tests.factories import ingestion_params, make_target, make_user

pytestmark = pytest.mark.django_db

ROLE_ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ROLE_ACCOUNT}:role/portal-operator"
EXTERNAL_ID = "portal-external-id-42"
USERNAME = "ada.lovelace@example.com"


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def base_access_key_id() -> str:
    """The portal's own identity: boto3's chain, or the sandbox's dummy key when it has none."""
    base = aws_clients._base_credentials()
    return base["aws_access_key_id"] if base else boto3.Session().get_credentials().access_key


def assumed_roles() -> list:
    """What moto's STS handed out for the role's account, oldest first."""
    return list(sts_backends[ROLE_ACCOUNT]["aws"].assumed_roles)


@pytest.fixture
def role_target(db):
    return make_target(
        "with-role", account_id=ROLE_ACCOUNT, region="eu-west-1", role_arn=ROLE_ARN, external_id=EXTERNAL_ID
    )


@pytest.fixture
def user(db):
    return make_user(USERNAME, groups=(OPERATORS,))


def run(target: AwsTarget, user) -> AwsRequest:
    request = lifecycle.record(get_operation("appfabric/CreateIngestion"), ingestion_params(), user, target)
    assert pipeline.execute(request.pk) == "succeeded"
    request.refresh_from_db()
    return request


# --- the role --------------------------------------------------------------------------------------


def test_the_call_is_signed_with_credentials_of_the_role_assumed_for_the_portal_user(aws, role_target, user):
    before = len(assumed_roles())

    request = run(role_target, user)

    [call] = aws.state.calls
    [role] = assumed_roles()[before:]
    # STS issued credentials for the target's role, to a session named after the portal user…
    assert role.role_arn == ROLE_ARN
    assert role.external_id == EXTERNAL_ID
    assert role.session_name == aws_clients.role_session_name(USERNAME) == f"portal-{USERNAME}"
    assert role.arn == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/portal-operator/portal-{USERNAME}"
    # …and the call was signed with exactly those, not with the portal's own identity.
    assert call["access_key_id"] == role.access_key_id
    assert call["access_key_id"] != base_access_key_id()
    assert call["client_token"] == request.client_token
    assert request.status == RequestStatus.SUCCEEDED
    assert request.resource_id == aws.state.resources[0]["id"]


def test_moto_knows_the_assumed_credentials_as_the_roles_session(aws, role_target, user, sts_server):
    run(role_target, user)
    creds = aws_clients.assumed_credentials(ROLE_ARN, EXTERNAL_ID, USERNAME, "eu-west-1")  # from the cache

    sts = boto3.client(
        "sts",
        region_name="eu-west-1",
        endpoint_url=sts_server,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    identity = sts.get_caller_identity()

    assert identity["Account"] == ROLE_ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{ROLE_ACCOUNT}:assumed-role/portal-operator/portal-{USERNAME}"
    assert aws.state.calls[0]["access_key_id"] == creds["AccessKeyId"]


def test_a_request_records_its_target_account_and_region(aws, role_target, user):
    request = run(role_target, user)

    assert (request.target, request.account_id, request.region) == (role_target, ROLE_ACCOUNT, "eu-west-1")
    # The call was made in the target's region.
    assert aws.state.resources[0]["region"] == "eu-west-1"
    assert request.resource_id.startswith("arn:aws:appfabric:eu-west-1:")


def test_assumed_credentials_are_reused_while_fresh(aws, role_target, user):
    before = len(assumed_roles())

    run(role_target, user)
    run(role_target, user)

    assert len(assumed_roles()) == before + 1
    first, second = aws.state.calls
    assert first["access_key_id"] == second["access_key_id"] == assumed_roles()[-1].access_key_id


def test_assumed_credentials_are_renewed_within_five_minutes_of_expiry(aws, role_target, user):
    before = len(assumed_roles())
    run(role_target, user)
    [cached] = aws_clients._assumed.values()
    now = dt.datetime.now(dt.UTC)

    cached["Expiration"] = now + dt.timedelta(minutes=6)  # still fresh enough
    run(role_target, user)
    assert len(assumed_roles()) == before + 1

    cached["Expiration"] = now + dt.timedelta(minutes=4, seconds=50)  # inside the five minutes
    run(role_target, user)

    assert len(assumed_roles()) == before + 2
    first, renewed = assumed_roles()[before:]
    assert first.access_key_id != renewed.access_key_id
    assert [c["access_key_id"] for c in aws.state.calls] == [
        first.access_key_id,
        first.access_key_id,
        renewed.access_key_id,
    ]
    [fresh] = aws_clients._assumed.values()
    assert fresh["Expiration"] - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=30)


def test_each_portal_user_gets_a_session_of_their_own(aws, role_target, user):
    other = make_user("grace", groups=(OPERATORS,))
    before = len(assumed_roles())

    run(role_target, user)
    run(role_target, other)

    sessions = [r.session_name for r in assumed_roles()[before:]]
    assert sessions == [f"portal-{USERNAME}", "portal-grace"]
    first, second = aws.state.calls
    assert first["access_key_id"] != second["access_key_id"]


def test_a_target_without_a_role_calls_as_the_portals_own_identity(aws, user):
    before = len(assumed_roles())

    run(make_target("plain", account_id="111122223333"), user)

    assert len(assumed_roles()) == before
    [call] = aws.state.calls
    assert call["access_key_id"] == base_access_key_id()


@pytest.mark.parametrize(
    ("username", "session"),
    [
        ("alice", "portal-alice"),
        ("ada.lovelace@example.com", "portal-ada.lovelace@example.com"),
        ("o'brien/ops team", "portal-o-brien-ops-team"),
        ("x" * 80, "portal-" + "x" * 57),
    ],
)
def test_the_role_session_name_is_the_users_name_within_stss_limits(username, session):
    assert aws_clients.role_session_name(username) == session
    assert len(session) <= 64


# --- the endpoint ----------------------------------------------------------------------------------


def test_a_target_with_an_endpoint_sends_its_calls_there(aws, user):
    with running_sandbox() as elsewhere:
        target = make_target("local-endpoint", endpoint_url=elsewhere.url)

        request = run(target, user)

        [call] = elsewhere.state.calls
        assert call["client_token"] == request.client_token
        assert request.resource_id == elsewhere.state.resources[0]["id"]
    assert list(aws.state.calls) == []  # not the default endpoint


def test_an_endpoint_is_refused_in_production(settings):
    target = AwsTarget(name="prod", account_id="111122223333", region="us-east-1", endpoint_url="http://127.0.0.1:1")

    settings.PRODUCTION = True
    with pytest.raises(ValidationError) as refused:
        target.full_clean()
    assert refused.value.message_dict == {"endpoint_url": ["Custom endpoints are for development and tests only."]}
    target.endpoint_url = ""
    target.full_clean()

    settings.PRODUCTION = False
    target.endpoint_url = "http://127.0.0.1:1"
    target.full_clean()


# --- validation ------------------------------------------------------------------------------------


def valid_target(**fields) -> AwsTarget:
    values = {"name": "t", "account_id": "111122223333", "region": "eu-west-1", "role_arn": ROLE_ARN}
    values.update(fields)
    return AwsTarget(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"region": "us-gov-west-1"},
        {"region": "ap-southeast-2"},
        {"role_arn": ""},
        {"role_arn": "arn:aws-cn:iam::123456789012:role/path/to/Name+=,.@-_"},
        {"role_arn": "arn:aws-us-gov:iam::123456789012:role/x"},
    ],
)
def test_a_valid_target(fields):
    valid_target(**fields).full_clean()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("account_id", "12345678901", "An AWS account id is 12 digits."),
        ("account_id", "12345678901a", "An AWS account id is 12 digits."),
        ("account_id", "", "This field cannot be blank."),
        ("region", "eu-west", "Enter a region such as eu-west-1."),
        ("region", "EU-WEST-1", "Enter a region such as eu-west-1."),
        ("region", "euwest1", "Enter a region such as eu-west-1."),
        ("region", "eu-west-1 ", "Enter a region such as eu-west-1."),
        ("role_arn", "arn:aws:iam::12345678901:role/x", "Enter an IAM role ARN."),
        ("role_arn", f"arn:aws:iam::{ROLE_ACCOUNT}:user/x", "Enter an IAM role ARN."),
        ("role_arn", f"arn:aws:sts::{ROLE_ACCOUNT}:role/x", "Enter an IAM role ARN."),
        ("role_arn", f"arn:aws:iam::{ROLE_ACCOUNT}:role/", "Enter an IAM role ARN."),
        ("role_arn", "portal-operator", "Enter an IAM role ARN."),
    ],
)
def test_an_invalid_target_is_refused(field, value, message):
    with pytest.raises(ValidationError) as refused:
        valid_target(**{field: value}).full_clean()

    assert message in refused.value.message_dict[field]


# --- who may use which -----------------------------------------------------------------------------


def test_a_target_is_usable_by_the_users_and_groups_it_is_granted_to():
    alice, bob, carol = make_user("alice"), make_user("bob", groups=(OPERATORS,)), make_user("carol")
    for_alice = make_target("for-alice", users=(alice,))
    for_operators = make_target("for-operators", groups=(OPERATORS,))
    for_both = make_target("for-both", users=(bob,), groups=(OPERATORS,))
    make_target("inactive", users=(alice,), groups=(OPERATORS,), is_active=False)
    make_target("for-nobody")

    assert list(AwsTarget.usable_by(alice)) == [for_alice]
    assert list(AwsTarget.usable_by(bob)) == [for_both, for_operators]  # once each, by name
    assert list(AwsTarget.usable_by(carol)) == []


def test_a_superuser_may_use_every_active_target():
    admin = make_user("root", is_superuser=True)
    everyone = [make_target(name) for name in ("a", "b", "c")]
    make_target("off", is_active=False)

    assert list(AwsTarget.usable_by(admin)) == everyone


def test_the_operation_form_offers_only_the_usable_targets_and_refuses_others(client):
    alice = make_user("alice", groups=(OPERATORS,))
    mine = make_target("mine", users=(alice,))
    theirs = make_target("theirs", users=(make_user("bob"),))
    make_target("off", users=(alice,), is_active=False)
    client.force_login(alice)

    html = client.get("/operations/appfabric/CreateIngestion/").content.decode()

    assert f'value="{mine.pk}"' in html
    assert "theirs" not in html
    assert "off (" not in html
    response = client.post("/operations/appfabric/CreateIngestion/", {"target": str(theirs.pk), **ingestion_params()})
    assert response.status_code == 403
    assert not AwsRequest.objects.exists()
