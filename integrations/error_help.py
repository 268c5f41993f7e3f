"""AWS error codes explained in plain words, shown beside the code on a request's page.

The codes every operation may meet are here; a code only one operation answers with is explained
in that operation's declaration (``Operation.error_help``) and wins over these.
"""

from __future__ import annotations

from operations import Operation

EXPLANATIONS: dict[str, str] = {
    "ValidationException": "AWS refused a parameter value. The message names the parameter; run the request "
    "again with a corrected value.",
    "InvalidRequestException": "AWS refused a parameter value. The message names the parameter; run the request "
    "again with a corrected value.",
    "AccessDeniedException": "The AWS identity the portal used (or the target's role) is not allowed to do this. "
    "An administrator must grant the permission in IAM.",
    "ConflictException": "The resource conflicts with one that exists (same name or label), or the client token "
    "was used with other parameters. Choose another name, or check the existing resource.",
    "ResourceNotFoundException": "Something the request refers to does not exist (an instance, app bundle or "
    "engagement). Check the identifiers and the target's account and region.",
    "ServiceQuotaExceededException": "The account reached a service quota. Ask for a quota increase or remove "
    "unused resources; retrying will not help.",
    "ResourceQuotaExceededException": "The account reached a service quota. Ask for a quota increase or remove "
    "unused resources; retrying will not help.",
    "ThrottlingException": "AWS asked the portal to slow down. The portal retries by itself with the same client "
    "token.",
    "InternalServerException": "AWS had an internal error. The portal retries by itself with the same client token.",
    "InternalServiceError": "AWS had an internal error. The portal retries by itself with the same client token.",
    "ReadTimeoutError": "AWS did not answer in time. The call may still have worked: the retry uses the same "
    "client token, so it cannot create a second resource.",
    "ConnectTimeoutError": "The portal could not reach AWS in time. It retries by itself.",
    "EndpointConnectionError": "The portal could not reach the AWS endpoint. It retries by itself.",
    "ConnectionClosedError": "The connection to AWS closed before an answer came. The retry uses the same client "
    "token, so it cannot create a second resource.",
    "NoCredentials": "The worker has no AWS credentials. An administrator must configure them.",
    "MaxAttemptsExceeded": "Every allowed attempt failed; the last error is shown.",
    "Rejected": "An approver rejected this request; the reason is shown. It will not run.",
}


def explain(code: str, operation: Operation | None = None) -> str:
    """What ``code`` means for a person, in ``operation`` if given; "" for codes nobody explained."""
    specific = operation.error_help.get(code) if operation is not None else None
    return specific or EXPLANATIONS.get(code, "")
