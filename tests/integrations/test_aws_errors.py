"""classify(): one place decides which AWS failures are tried again with the same client token."""

from __future__ import annotations

import botocore.parsers
import botocore.session
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)

from integrations.aws_errors import classify

ENDPOINT = "https://appfabric.us-east-1.amazonaws.com/appbundles/x/ingestions"

# botocore's standard retry mode treats these codes as throttling (PITFALLS.md).
THROTTLING_CODES = [
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
]


def client_error(code: str, status: int, message: str = "It went wrong", **extra) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "req-0001"},
        **extra,
    }
    return ClientError(response, "CreateIngestion")


def test_a_throttling_exception_is_retryable():
    failure = classify(client_error("ThrottlingException", 429))

    assert failure.retryable
    assert (failure.code, failure.http_status) == ("ThrottlingException", 429)


@pytest.mark.parametrize("code", THROTTLING_CODES)
def test_every_throttling_code_of_botocores_standard_mode_is_retryable(code):
    # 400 is what several services answer throttling with: the code alone decides.
    assert classify(client_error(code, 400)).retryable


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InternalServerException", 500),
        ("BadGateway", 502),
        ("ServiceUnavailable", 503),
        ("GatewayTimeout", 504),
        ("SomethingNobodyDocumented", 500),
        ("InternalServerException", None),
        ("RequestTimeout", 408),
        ("RequestTimeoutException", 408),
    ],
)
def test_server_errors_and_request_timeouts_are_retryable(code, status):
    assert classify(client_error(code, status)).retryable


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ValidationException", 400),
        ("AccessDeniedException", 403),
        ("ConflictException", 409),
        ("ResourceNotFoundException", 404),
        ("ServiceQuotaExceededException", 402),
        ("IdempotentParameterMismatch", 400),
    ],
)
def test_a_refusal_on_the_merits_is_final(code, status):
    failure = classify(client_error(code, status))

    assert not failure.retryable
    assert (failure.code, failure.http_status) == (code, status)


def test_a_quota_answered_with_http_429_is_final_and_not_taken_for_a_throttle():
    # appintegrations models ResourceQuotaExceededException with HTTP 429, but waiting does not help.
    model = botocore.session.get_session().get_service_model("appintegrations")
    assert model.shape_for_error_code("ResourceQuotaExceededException").metadata["error"]["httpStatusCode"] == 429

    failure = classify(client_error("ResourceQuotaExceededException", 429))

    assert not failure.retryable
    assert failure.http_status == 429


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url=ENDPOINT),
        ConnectTimeoutError(endpoint_url=ENDPOINT),
        EndpointConnectionError(endpoint_url=ENDPOINT),
        ConnectionClosedError(endpoint_url=ENDPOINT),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_timeouts_and_lost_connections_are_retryable(exc):
    failure = classify(exc)

    assert failure.retryable
    assert failure.code == type(exc).__name__
    assert failure.message == str(exc)
    assert failure.http_status is None


def test_parameters_botocore_refuses_are_final():
    failure = classify(ParamValidationError(report="Missing required parameter in input: 'app'"))

    assert not failure.retryable
    assert failure.code == "ParamValidationError"
    assert "app" in failure.message


def test_missing_credentials_are_final_and_say_so():
    failure = classify(NoCredentialsError())

    assert not failure.retryable
    assert failure.code == "NoCredentials"
    assert "credentials" in failure.message.lower()


def test_an_unexpected_exception_is_final_and_keeps_its_name_and_message():
    failure = classify(ValueError("bad number"))

    assert not failure.retryable
    assert (failure.code, failure.message) == ("ValueError", "bad number")


def test_an_unexpected_exception_without_a_message_is_described_by_its_name():
    assert classify(RuntimeError()).message == "RuntimeError"


def test_the_failure_carries_code_message_status_request_id_and_the_wait_asked_for():
    failure = classify(client_error("ThrottlingException", 429, "Rate exceeded", retryAfterSeconds=7))

    assert failure.code == "ThrottlingException"
    assert failure.message == "Rate exceeded"
    assert failure.http_status == 429
    assert failure.aws_request_id == "req-0001"
    assert failure.retry_after == 7.0


def test_no_retry_after_is_invented_when_the_service_asked_for_none():
    assert classify(client_error("ThrottlingException", 429)).retry_after is None


def test_a_client_error_without_details_still_gives_a_code_and_a_message():
    failure = classify(ClientError({}, "CreateIngestion"))

    assert failure.code == "UnknownError"
    assert failure.message
    assert failure.http_status is None
    assert failure.aws_request_id == ""
    assert not failure.retryable


def test_the_retry_after_header_as_botocore_parses_it_reaches_the_failure():
    # What botocore's endpoint does with an error answer: parse it, then add the modelled fields.
    model = botocore.session.get_session().get_service_model("appfabric")
    answer = {
        "status_code": 429,
        "headers": {"x-amzn-requestid": "req-42", "x-amzn-errortype": "ThrottlingException", "Retry-After": "12"},
        "body": b'{"message": "Rate exceeded"}',
    }
    parser = botocore.parsers.create_parser(model.protocol)
    parsed = parser.parse(answer, model.operation_model("CreateIngestion").output_shape)
    parsed.update(parser.parse(answer, model.shape_for_error_code("ThrottlingException")))

    failure = classify(ClientError(parsed, "CreateIngestion"))

    assert failure.retryable
    assert (failure.code, failure.message, failure.http_status) == ("ThrottlingException", "Rate exceeded", 429)
    assert failure.aws_request_id == "req-42"
    assert failure.retry_after == 12.0
