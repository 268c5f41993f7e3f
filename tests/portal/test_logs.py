"""Log lines: what is bound rides on every record, as JSON keys or at the end of a plain line;
every HTTP request gets an id; a worker's own lines come out as JSON when the settings say json."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import RequestFactory

from integrations import log_context
from portal.logs import ContextFilter, JsonFormatter, PlainFormatter, RequestIdMiddleware, logging_config
from tests import processes
from tests.integrations.conftest import wait_for


def record(message: str = "Called AWS", *args: object, exc_info=None, name: str = "integrations.pipeline"):
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args or None, exc_info)


def handled(record_: logging.LogRecord, formatter: logging.Formatter) -> str:
    """The line ``formatter`` writes for ``record_`` behind the configured filter, as the handler would."""
    assert ContextFilter().filter(record_)
    return formatter.format(record_)


def failure_info():
    try:
        raise ValueError("the call failed")
    except ValueError:
        return sys.exc_info()


# --- the context -------------------------------------------------------------------------------------


def test_bound_values_are_there_inside_the_block_and_gone_after_it():
    assert dict(log_context.current()) == {}
    with log_context.bound(request_id=12, attempt=2):
        assert dict(log_context.current()) == {"request_id": 12, "attempt": 2}
    assert dict(log_context.current()) == {}


def test_an_inner_block_adds_to_the_outer_one_and_the_outer_values_come_back():
    with log_context.bound(request_id=12, attempt=1):
        with log_context.bound(attempt=2, client_token="tok"):
            assert dict(log_context.current()) == {"request_id": 12, "attempt": 2, "client_token": "tok"}
        assert dict(log_context.current()) == {"request_id": 12, "attempt": 1}


def test_the_outer_values_come_back_when_the_block_raises():
    with log_context.bound(request_id=12), pytest.raises(RuntimeError), log_context.bound(request_id=13):
        raise RuntimeError
    assert dict(log_context.current()) == {}


def test_a_value_of_none_is_left_out():
    with log_context.bound(request_id=12, attempt=None):
        assert dict(log_context.current()) == {"request_id": 12}


def test_what_is_bound_cannot_be_changed_through_current():
    with log_context.bound(request_id=12), pytest.raises(TypeError):
        log_context.current()["request_id"] = 13  # type: ignore[index]


# --- JSON lines --------------------------------------------------------------------------------------


def test_a_json_line_has_the_time_level_logger_message_and_what_is_bound():
    with log_context.bound(request_id=12, attempt=2, client_token="5f0c"):
        line = handled(record(), JsonFormatter())
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "integrations.pipeline"
    assert entry["message"] == "Called AWS"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert (entry["request_id"], entry["attempt"], entry["client_token"]) == (12, 2, "5f0c")


def test_a_json_line_outside_any_block_has_no_context_keys():
    entry = json.loads(handled(record(), JsonFormatter()))
    assert set(entry) == {"time", "level", "logger", "message"}


def test_a_traceback_is_one_string_on_the_same_line():
    line = handled(record("Call failed", exc_info=failure_info()), JsonFormatter())
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].rstrip().endswith("ValueError: the call failed")


def test_a_bound_name_never_replaces_the_records_own_keys():
    with log_context.bound(message="forged", level="DEBUG", request_id=12):
        entry = json.loads(handled(record(), JsonFormatter()))
    assert (entry["message"], entry["level"], entry["request_id"]) == ("Called AWS", "INFO", 12)


def test_a_message_with_newlines_and_non_ascii_stays_one_valid_line():
    line = handled(record("Nom: %s\nforged line", "Zoë"), JsonFormatter())
    assert "\n" not in line
    assert line.isascii()
    assert json.loads(line)["message"] == "Nom: Zoë\nforged line"


def test_a_value_json_cannot_encode_is_written_as_text():
    with log_context.bound(request_id=12, target={"a"}):
        entry = json.loads(handled(record(), JsonFormatter()))
    assert entry["target"] == "{'a'}"


def test_the_record_keeps_what_was_bound_when_it_was_logged_not_when_it_is_written():
    with log_context.bound(request_id=12):
        record_ = record()
        assert ContextFilter().filter(record_)
    assert json.loads(JsonFormatter().format(record_))["request_id"] == 12


# --- plain lines -------------------------------------------------------------------------------------


def test_a_plain_line_ends_with_what_is_bound_in_short_names():
    with log_context.bound(request_id=12, attempt=2, client_token="5f0c"):
        line = handled(record(), PlainFormatter())
    assert line.endswith("INFO integrations.pipeline: Called AWS [request=12 attempt=2 token=5f0c]")


def test_a_plain_line_has_no_brackets_when_nothing_is_bound():
    line = handled(record(), PlainFormatter())
    assert line.endswith("INFO integrations.pipeline: Called AWS")
    assert "[" not in line


def test_a_plain_line_keeps_the_ids_on_its_first_line_and_the_traceback_after():
    with log_context.bound(request_id=12):
        lines = handled(record("Call failed", exc_info=failure_info()), PlainFormatter()).splitlines()
    assert lines[0].endswith("Call failed [request=12]")
    assert lines[1] == "Traceback (most recent call last):"


def test_the_http_request_id_shows_in_a_plain_line():
    with log_context.bound(http_request_id="abc-1"):
        assert handled(record(), PlainFormatter()).endswith("[http_request=abc-1]")


# --- the configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(("log_format", "formatter"), [("json", JsonFormatter), ("plain", PlainFormatter)])
def test_the_console_handler_formats_as_the_setting_says_behind_the_context_filter(log_format, formatter):
    config = logging_config(log_format, "INFO")
    console = config["handlers"]["console"]
    assert config["formatters"][console["formatter"]]["()"] is formatter
    assert [config["filters"][name]["()"] for name in console["filters"]] == [ContextFilter]
    assert config["root"] == {"handlers": ["console"], "level": "INFO"}


def test_djangos_own_loggers_go_through_the_root_handler():
    loggers = logging_config("json", "INFO")["loggers"]
    for name in ("django", "django.server"):
        assert loggers[name]["handlers"] == []
        assert loggers[name]["propagate"] is True


def test_libraries_that_log_bodies_never_log_below_info_even_at_debug():
    loggers = logging_config("plain", "DEBUG")["loggers"]
    for name in ("botocore", "boto3", "urllib3", "django.db.backends"):
        assert loggers[name]["level"] == "INFO"


# --- the HTTP request id -----------------------------------------------------------------------------


def through_middleware(**headers: str) -> tuple[HttpResponse, dict]:
    """A request through RequestIdMiddleware; its response and what the view saw bound."""
    seen: dict = {}

    def view(request):
        seen.update(log_context.current())
        return HttpResponse("ok")

    response = RequestIdMiddleware(view)(RequestFactory().get("/", headers=headers))
    return response, seen


def test_a_sane_request_id_from_the_proxy_is_bound_and_returned():
    response, seen = through_middleware(X_Request_ID="req-1.A_b")
    assert seen == {"http_request_id": "req-1.A_b"}
    assert response["X-Request-ID"] == "req-1.A_b"


def test_a_request_without_an_id_gets_a_new_one_each_time():
    first, seen = through_middleware()
    second, _ = through_middleware()
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert seen == {"http_request_id": first["X-Request-ID"]}
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("given", ["a" * 65, "id with spaces", "id\r\nX-Forged: 1", "ïd", "id;drop", ""])
def test_an_id_that_does_not_look_sane_is_replaced(given):
    response, seen = through_middleware(X_Request_ID=given)
    assert response["X-Request-ID"] != given
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert seen["http_request_id"] == response["X-Request-ID"]


def test_nothing_stays_bound_after_the_request():
    through_middleware(X_Request_ID="req-1")
    assert dict(log_context.current()) == {}


def test_every_response_of_the_portal_carries_a_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": "probe-7"})
    assert response["X-Request-ID"] == "probe-7"


# --- a real worker -----------------------------------------------------------------------------------

# Celery's own format and the plain one: neither may appear when the format is json.
NOT_JSON_LOG_LINE = re.compile(r"^(\[\d{4}-\d\d-\d\d [\d:,]+: [A-Z]+/|\d{4}-\d\d-\d\d [\d:,]+ [A-Z]+ )")


def json_entries(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


@pytest.fixture
def json_worker_env(django_db_setup, django_db_blocker, sandbox_server, tmp_path):
    """A worker's environment (the test database, the configured broker) with json logs."""
    with django_db_blocker.unblock():
        return processes.portal_env(
            sandbox_server.url, settings.CELERY_BROKER_URL, tmp_path / "broker", PORTAL_LOG_FORMAT="json"
        )


def test_a_workers_own_lines_are_json_when_the_format_is_json(json_worker_env, tmp_path):
    worker = processes.start_worker(json_worker_env, tmp_path, concurrency=1)
    try:
        # A pool process killed: the line that says so comes from billiard's logger, which
        # Celery gives a plain handler of its own.
        child = wait_for(worker.children, message="a pool process")[0]
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: "exited with" in worker.output, message="the pool process's death logged")
    finally:
        worker.stop()
    entries = json_entries(worker.output)
    ready = [e for e in entries if e["message"].endswith(" ready.")]
    assert [(e["logger"], e["level"]) for e in ready] == [("celery.apps.worker", "INFO")]
    death = [e for e in entries if "exited with" in e["message"]]
    assert [(e["logger"], e["level"]) for e in death] == [("multiprocessing", "ERROR")]
    assert "SIGKILL" in death[0]["message"]
    assert not [line for line in worker.output.splitlines() if NOT_JSON_LOG_LINE.match(line)]
