"""AWS error codes explained in plain words, shown beside the code on a request's page.

The codes every operation may meet are here; a code only one operation answers with is explained
in that operation's declaration (``Operation.error_help``) and wins over these.

Two things change the words for one code. Whether the portal still retries: a throttle seen by a
request that is waiting for its next attempt "is retried by itself", but the same code on a request
that failed after its last attempt must say that the portal gave up (never that it retries). And a
conflict: the portal never reuses a client token with other parameters, so "already exists" is the
only cause a portal user can act on; where the operation declares its unique members, the words
name them and their values, and the page links to the portal's request that created the resource.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrations.models import AwsRequest, RequestStatus
from operations import Operation

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SAME_TOKEN = "The portal retries by itself with the same client token."
CHANGE_AND_RUN_AGAIN = "Run the request again with a corrected value (Run again keeps everything else)."

EXPLANATIONS: dict[str, str] = {
    "ValidationException": f"AWS refused a parameter value. The message names the parameter. {CHANGE_AND_RUN_AGAIN}",
    "InvalidRequestException": f"AWS refused a parameter value. The message names the parameter. "
    f"{CHANGE_AND_RUN_AGAIN}",
    "AccessDeniedException": "The AWS identity the portal used (or the target's role) is not allowed to do this. "
    "An administrator must grant the permission in IAM.",
    "ConflictException": "AWS says this conflicts with something that exists already in the account and region: a "
    "resource with the same name or label, or one whose state does not allow this now. Look at the existing "
    "resource (the AWS console, or the portal's Resources page), then run the request again with another name, "
    "or use the existing resource.",
    "ResourceNotFoundException": "Something the request refers to does not exist (an instance, app bundle or "
    "engagement). Check the identifiers and the target's account and region.",
    "ServiceQuotaExceededException": "The account reached a service quota. Ask for a quota increase or remove "
    "unused resources; retrying will not help.",
    "ResourceQuotaExceededException": "The account reached a service quota. Ask for a quota increase or remove "
    "unused resources; retrying will not help.",
    "ThrottlingException": f"AWS asked the portal to slow down. {SAME_TOKEN}",
    "InternalServerException": f"AWS had an internal error. {SAME_TOKEN}",
    "InternalServiceError": f"AWS had an internal error. {SAME_TOKEN}",
    "ReadTimeoutError": "AWS did not answer in time. The call may still have worked: the retry uses the same "
    "client token, so it cannot create a second resource.",
    "ConnectTimeoutError": "The portal could not reach AWS in time. It retries by itself.",
    "EndpointConnectionError": "The portal could not reach the AWS endpoint. It retries by itself.",
    "ConnectionClosedError": "The connection to AWS closed before an answer came. The retry uses the same client "
    "token, so it cannot create a second resource.",
    "NoCredentials": "The worker has no AWS credentials. An administrator must configure them.",
    "MaxAttemptsExceeded": "Every allowed attempt failed; the last error is shown. The portal will not try again "
    "by itself.",
    "Rejected": "An approver rejected this request; the reason is shown. It will not run.",
    "Cancelled": "The request was cancelled before it ran (again); nothing will run it.",
}

# Codes a failed request can carry only because the portal gave up retrying them: said without
# the "retries by itself" of the explanation above, and with what a person can do now.
CHECK_BEFORE_RUNNING_AGAIN = (
    "Its last call may still have worked in AWS: look for the resource (the AWS console, or the Resources page) "
    "before running it again, since a new run has a new client token and could create a second one."
)
GAVE_UP: dict[str, str] = {
    "ThrottlingException": "AWS kept asking the portal to slow down, and the portal gave up after its last "
    "attempt. Run the request again later, when the account is less busy.",
    "InternalServerException": "AWS kept answering with an internal error, and the portal gave up after its "
    "last attempt. Run the request again later.",
    "InternalServiceError": "AWS kept answering with an internal error, and the portal gave up after its last "
    "attempt. Run the request again later.",
    "ReadTimeoutError": f"AWS did not answer in time, and the portal gave up after its last attempt. "
    f"{CHECK_BEFORE_RUNNING_AGAIN}",
    "ConnectionClosedError": f"The connection to AWS kept closing before an answer came, and the portal gave up "
    f"after its last attempt. {CHECK_BEFORE_RUNNING_AGAIN}",
    "ConnectTimeoutError": "The portal could not reach AWS in time, and gave up after its last attempt. Run the "
    "request again once AWS can be reached (an administrator can check the network).",
    "EndpointConnectionError": "The portal could not reach the AWS endpoint, and gave up after its last attempt. "
    "Run the request again once it can be reached (an administrator can check the network).",
    "SoftTimeLimitExceeded": f"The worker's time limit kept running out during the call, and the portal gave up "
    f"after its last attempt. {CHECK_BEFORE_RUNNING_AGAIN}",
}
GAVE_UP_OTHERWISE = "The portal gave up after its last attempt and will not try again by itself."

# How services say "a resource with this name exists already" (AppIntegrations has its own code).
ALREADY_EXISTS = frozenset({"ConflictException", "DuplicateResourceException", "ResourceAlreadyExistsException"})


def explain(code: str, operation: Operation | None = None, *, gave_up: bool = False) -> str:
    """What ``code`` means for a person, in ``operation`` if given; "" for codes nobody explained.

    ``gave_up``: the request failed after retrying this code, so the words must not promise a retry.
    """
    if gave_up:
        return GAVE_UP.get(code, GAVE_UP_OTHERWISE)
    specific = operation.error_help.get(code) if operation is not None else None
    return specific or EXPLANATIONS.get(code, "")


def unique_values(operation: Operation, parameters: object) -> dict[str, str]:
    """The operation's unique members and their values in ``parameters``; empty unless all are set."""
    found: dict[str, str] = {}
    for path in operation.unique_members:
        value: object = parameters
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value:
            return {}
        found[path] = value
    return found


def _label(operation: Operation, path: str) -> str:
    hint = operation.hints.get(path)
    return hint.label if hint is not None and hint.label else path


def conflict_words(operation: Operation, parameters: object) -> str:
    """An "already exists" refusal in words naming the unique members and their values; "" when the
    operation declares none (the general explanation then stands)."""
    values = unique_values(operation, parameters)
    if not values:
        return ""
    named = " and ".join(f"{_label(operation, path)} “{value}”" for path, value in values.items())
    labels = " and ".join(_label(operation, path) for path in values)
    return (
        f"AWS already has one with the {named} in this account and region, and the {labels} must be unique there. "
        f"Run the request again with another {labels} (Run again keeps everything else), or use the existing one."
    )


def created_by_portal(aws_request: AwsRequest, operation: Operation, viewer: User) -> AwsRequest | None:
    """The portal's request that created the resource ``aws_request`` conflicted with, if ``viewer``
    may see it: the same operation, account and region and unique values, succeeded; the newest.

    Read from the operation's index (service, operation, created_at) and only for a failed
    request's page: a handful of rows per operation in any real account.
    """
    values = unique_values(operation, aws_request.parameters)
    if not values:
        return None
    same_values = {f"parameters__{path.replace('.', '__')}": value for path, value in values.items()}
    return (
        AwsRequest.objects.visible_to(viewer)
        .filter(
            service=aws_request.service,
            operation=aws_request.operation,
            account_id=aws_request.account_id,
            region=aws_request.region,
            status=RequestStatus.SUCCEEDED,
            **same_values,
        )
        .exclude(pk=aws_request.pk)
        .only("pk", "created_at", "finished_at", "resource_id", "created_by_username")
        .order_by("-created_at", "-id")
        .first()
    )
