"""botocore's exceptions turned into one failure record that says whether to try again.

Decided in one place so every operation retries the same things: throttling, server errors
and lost connections are retried with the same client token; anything the service refused on
its merits (validation, access, conflict, quota, not found) is final.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore import exceptions as boto_exceptions

# botocore's standard retry mode treats these codes as throttling.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalServerException",
        "InternalServiceError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
    }
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


@dataclass(frozen=True)
class Failure:
    code: str
    message: str
    retryable: bool
    http_status: int | None = None
    aws_request_id: str = ""
    # A wait the service asked for (retryAfterSeconds), in seconds.
    retry_after: float | None = None


def classify(exc: BaseException) -> Failure:
    """What went wrong with one AWS call, and whether the same call may be sent again."""
    if isinstance(exc, boto_exceptions.ClientError):
        response = exc.response or {}
        error = response.get("Error", {})
        meta = response.get("ResponseMetadata", {})
        code = error.get("Code") or "UnknownError"
        status = meta.get("HTTPStatusCode")
        retry_after = response.get("retryAfterSeconds")
        return Failure(
            code=code,
            message=error.get("Message") or str(exc),
            retryable=code in THROTTLING_CODES or code in TRANSIENT_CODES or status in TRANSIENT_STATUSES,
            http_status=status,
            aws_request_id=meta.get("RequestId", ""),
            retry_after=float(retry_after) if isinstance(retry_after, (int, float)) else None,
        )
    if isinstance(exc, (boto_exceptions.HTTPClientError, boto_exceptions.ConnectionError)):
        # Timeouts and lost connections: a read timeout does not mean "not created", so the
        # retry carries the same client token and returns the resource if it was made.
        return Failure(type(exc).__name__, str(exc), retryable=True)
    if isinstance(exc, boto_exceptions.NoCredentialsError):
        return Failure("NoCredentials", "No AWS credentials were found for the worker.", retryable=False)
    if isinstance(exc, boto_exceptions.ParamValidationError):
        return Failure("ParamValidationError", str(exc), retryable=False)
    if isinstance(exc, boto_exceptions.BotoCoreError):
        return Failure(type(exc).__name__, str(exc), retryable=False)
    return Failure(type(exc).__name__, str(exc) or type(exc).__name__, retryable=False)
