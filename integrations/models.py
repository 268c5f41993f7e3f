"""The audit record: one row per request a person made, one row per AWS call made for it.

A request row is both the history and the work queue: it is committed before anything is
handed to a worker, and its status (changed only by compare-and-set updates) says who may act
on it next. Attempt rows are appended before each call leaves the process and never deleted.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse


class RequestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED_STATUSES = (RequestStatus.SUCCEEDED, RequestStatus.FAILED)


def new_client_token() -> str:
    # A UUID fits every operation's token constraints (AppFabric wants one; Supply Chain wants
    # 33–126 characters; AppFlow printable ASCII; Partner Central 1–255 characters).
    return str(uuid.uuid4())


class Request(models.Model):
    service = models.CharField(max_length=64)
    operation = models.CharField(max_length=128)
    parameters = models.JSONField(help_text="The API parameters as submitted, without the client token.")
    region = models.CharField(max_length=32)
    client_token = models.CharField(max_length=255, unique=True, default=new_client_token, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="aws_requests")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.QUEUED)
    # When the request was last handed to the broker (null: never, e.g. the broker was down).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # When a retrying request may run again.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The worker holding a running request, and until when; another worker may take over after.
    claim_id = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    resource_id = models.CharField("ARN or id", max_length=2048, blank=True)
    response = models.JSONField(null=True, blank=True)
    error_code = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("status", "created_at")),
            models.Index(fields=("service", "operation", "created_at")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.service} {self.operation} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("request_detail", args=[self.pk])

    @property
    def operation_key(self) -> str:
        return f"{self.service}/{self.operation}"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


class AttemptOutcome(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYABLE_ERROR = "retryable_error", "Failed, will retry"
    FAILED = "failed", "Failed"
    # The worker stopped (crash, kill) during the call: AWS may or may not have acted on it.
    INTERRUPTED = "interrupted", "Interrupted"


class Attempt(models.Model):
    request = models.ForeignKey(Request, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_PROGRESS)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    aws_request_id = models.CharField(max_length=255, blank=True)
    # The client token sent, kept per attempt so the audit shows it never changed.
    client_token = models.CharField(max_length=255)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("request", "number")
        constraints = [models.UniqueConstraint(fields=("request", "number"), name="unique_attempt_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of request #{self.request_id}: {self.outcome}"
