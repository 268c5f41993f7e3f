"""Workers and beat write a heartbeat row every PORTAL_HEARTBEAT_SECONDS; a heartbeat the database
refuses is one log line and never stops the process."""

from __future__ import annotations

import json
import socket
import time

import pytest
from celery import Celery
from django.utils import timezone

from integrations import heartbeats
from integrations.models import ProcessHeartbeat
from tests import processes
from tests.integrations.conftest import wait_for
from tests.portal.test_health import unreachable_database


def test_a_heartbeat_records_the_process_its_kind_and_when_it_was_seen(db):
    started = timezone.now()
    assert heartbeats.write("w1@host", "worker", started) is True
    row = ProcessHeartbeat.objects.get(name="w1@host")
    assert (row.kind, row.started_at) == ("worker", started)
    assert row.seen_at >= started


def test_the_next_heartbeat_moves_the_same_row_forward(db):
    started = timezone.now()
    heartbeats.write("w1@host", "worker", started)
    first = ProcessHeartbeat.objects.get(name="w1@host").seen_at
    heartbeats.write("w1@host", "worker", started)
    assert ProcessHeartbeat.objects.filter(name="w1@host").count() == 1
    assert ProcessHeartbeat.objects.get(name="w1@host").seen_at > first


def test_a_heartbeat_the_database_refuses_is_one_line_and_no_exception(transactional_db, caplog):
    with unreachable_database(), caplog.at_level("WARNING", logger="integrations.heartbeats"):
        assert heartbeats.write("w1@host", "worker", timezone.now()) is False
    lines = [r for r in caplog.records if r.name == "integrations.heartbeats"]
    assert [r.getMessage() for r in lines] == [
        "Could not write the heartbeat of worker w1@host (OperationalError); trying again"
    ]
    assert lines[0].exc_info is None


def test_the_heartbeat_after_the_database_comes_back_is_written(transactional_db):
    with unreachable_database():
        heartbeats.write("w1@host", "worker", timezone.now())
    assert heartbeats.write("w1@host", "worker", timezone.now()) is True
    assert ProcessHeartbeat.objects.filter(name="w1@host").exists()


# --- beat's scheduler --------------------------------------------------------------------------------


@pytest.fixture
def scheduler(tmp_path, settings):
    """Beat's scheduler on an app with nothing scheduled, so that a tick publishes nothing."""
    settings.PORTAL_HEARTBEAT_SECONDS = 5
    app = Celery("heartbeat-test", set_as_current=False)
    app.conf.beat_schedule = {}
    return heartbeats.HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))


def beat_row() -> ProcessHeartbeat:
    return ProcessHeartbeat.objects.get(name=f"beat@{socket.gethostname()}")


def test_the_first_tick_writes_beats_heartbeat(db, scheduler):
    scheduler.tick()
    assert beat_row().kind == "beat"


def test_a_tick_sleeps_no_longer_than_the_time_left_to_the_next_heartbeat(db, scheduler):
    # Nothing is scheduled: without the heartbeat, beat would sleep its maximum (minutes).
    assert scheduler.max_interval > 5
    assert 0 <= scheduler.tick() <= 5


def test_ticks_between_heartbeats_do_not_write_one(db, scheduler):
    scheduler.tick()
    seen = beat_row().seen_at
    scheduler.tick()
    assert beat_row().seen_at == seen


def test_the_tick_once_the_heartbeat_is_due_writes_it_again(db, scheduler):
    scheduler.tick()
    seen = beat_row().seen_at
    scheduler.heartbeat_due = time.monotonic()  # as if PORTAL_HEARTBEAT_SECONDS had passed
    scheduler.tick()
    assert beat_row().seen_at > seen


def test_a_tick_with_the_database_down_still_schedules(transactional_db, scheduler):
    with unreachable_database():
        interval = scheduler.tick()
    assert 0 <= interval <= 5


# --- real processes ----------------------------------------------------------------------------------


def newest(kind: str) -> ProcessHeartbeat | None:
    return ProcessHeartbeat.objects.filter(kind=kind).order_by("-seen_at").first()


def test_a_real_worker_and_beat_keep_their_heartbeats_fresh_and_the_portal_ready(
    portal_env, logs, transactional_db, client
):
    env = {**portal_env, "PORTAL_HEARTBEAT_SECONDS": "0.5"}
    worker = processes.start_worker(env, logs, concurrency=1)
    beat = processes.start_beat(env, logs)
    try:
        for kind in ("worker", "beat"):
            first = wait_for(lambda kind=kind: newest(kind), message=f"the {kind}'s first heartbeat")
            wait_for(
                lambda kind=kind, first=first: newest(kind).seen_at > first.seen_at,
                message=f"the {kind}'s next heartbeat",
            )
        assert newest("worker").name.startswith("test-")
        response = client.get("/readyz")
    finally:
        beat.stop()
        worker.stop()
    assert response.status_code == 200, response.content
    assert json.loads(response.content)["status"] == "ready"
