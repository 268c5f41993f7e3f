"""The audit record: one row per request a person made, one row per AWS call made for it.

A request row is both the history and the work queue: it is committed before anything is
handed to a worker, and its status (changed only by compare-and-set updates) says who may act
on it next. Attempt rows are appended before each call leaves the process and never deleted.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse

from integrations.permissions import may_see_every_request
from operations import operation_key

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class RequestStatus(models.TextChoices):
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    RETRYING = "retrying", "Retrying"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    # Taken back before any worker started it; never runs.
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (RequestStatus.SUCCEEDED, RequestStatus.FAILED, RequestStatus.REJECTED, RequestStatus.CANCELLED)


class AwsTarget(models.Model):
    """An AWS account and region the portal may act in, and who may use it.

    No credentials live here: the base identity comes from boto3's standard chain, and a target
    may name a role to assume from it (the session carries the portal user's name).
    """

    name = models.CharField(max_length=100, unique=True)
    account_id = models.CharField(
        max_length=12, validators=[RegexValidator(r"^\d{12}$", "An AWS account id is 12 digits.")]
    )
    region = models.CharField(
        max_length=32, validators=[RegexValidator(r"^[a-z]{2}(-[a-z]+)+-\d+$", "Enter a region such as eu-west-1.")]
    )
    role_arn = models.CharField(
        "IAM role ARN",
        max_length=2048,
        blank=True,
        validators=[RegexValidator(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$", "Enter an IAM role ARN.")],
        help_text="Assumed through STS for every call; empty to act as the portal's own identity.",
    )
    external_id = models.CharField(max_length=1224, blank=True, help_text="Sent with the role assumption.")
    endpoint_url = models.URLField(
        blank=True, help_text="Send this target's calls here instead of AWS (the local sandbox). Not in production."
    )
    is_active = models.BooleanField(default=True)
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="aws_targets")
    groups = models.ManyToManyField(Group, blank=True, related_name="aws_targets")

    class Meta:
        ordering = ("name",)
        verbose_name = "AWS target"

    def __str__(self) -> str:
        return f"{self.name} ({self.account_id}, {self.region})"

    def clean(self) -> None:
        if self.endpoint_url and settings.PRODUCTION:
            raise ValidationError({"endpoint_url": "Custom endpoints are for development and tests only."})

    @classmethod
    def usable_by(cls, user) -> models.QuerySet[AwsTarget]:
        """The active targets ``user`` may act in: granted to them or to one of their groups."""
        active = cls.objects.filter(is_active=True)
        if user.is_superuser:
            return active
        return active.filter(models.Q(users=user) | models.Q(groups__in=user.groups.all())).distinct()


class ApprovalRule(models.Model):
    """Four eyes: requests matching a rule wait for another person's approval before they run."""

    operation = models.CharField(
        max_length=200, blank=True, help_text="service/Operation, e.g. appfabric/CreateIngestion; empty for any."
    )
    target = models.ForeignKey(
        AwsTarget, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty for any target."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=("operation", "target"), name="unique_approval_rule")]

    def __str__(self) -> str:
        return f"approval for {self.operation or 'any operation'} on {self.target or 'any target'}"

    def clean(self) -> None:
        from operations import get_operation

        if not self.operation and self.target_id is None:
            raise ValidationError("Name an operation, a target, or both.")
        if self.operation:
            # A mistyped key would match no request: refused rather than saved to guard nothing.
            try:
                get_operation(self.operation)
            except LookupError:
                raise ValidationError(
                    {
                        "operation": f"{self.operation!r} is not a registered operation: choose one from the list "
                        "(service/Operation, e.g. appfabric/CreateIngestion), or leave it empty for any operation."
                    }
                ) from None

    @classmethod
    def applies(cls, operation_key: str, target: AwsTarget) -> bool:
        return cls.objects.filter(
            models.Q(operation="") | models.Q(operation=operation_key),
            models.Q(target__isnull=True) | models.Q(target=target),
        ).exists()


def new_client_token() -> str:
    # A UUID fits every operation's token constraints (AppFabric wants one; Supply Chain wants
    # 33–126 characters; AppFlow printable ASCII; Partner Central 1–255 characters).
    return str(uuid.uuid4())


class BatchStatus(models.TextChoices):
    # Uploaded; a worker is checking its lines against the operation's rules.
    CHECKING = "checking", "Checking lines"
    # Checked line by line; nothing recorded yet (the owner reads the report first).
    DRAFT = "draft", "Checked, not submitted"
    # Submitted: a worker is recording a request for each valid line.
    RECORDING = "recording", "Recording requests"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    FINISHED = "finished", "Finished"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    # A draft whose owner dropped it, or one left unsubmitted too long.
    DISCARDED = "discarded", "Discarded"


class Batch(models.Model):
    """A file of events uploaded as one: its report, one approval decision, and its requests.

    Each line becomes an ordinary ``AwsRequest`` (its own client token, attempts and audit) that
    names its batch and line; the batch adds what a person does to all of them at once (submit,
    approve, pause, resume, cancel the rest) and the counts its page shows. integrations/batches.py.
    """

    service = models.CharField(max_length=64)
    operation = models.CharField(max_length=128)
    target = models.ForeignKey(AwsTarget, on_delete=models.PROTECT, related_name="batches")
    account_id = models.CharField(max_length=12, blank=True)
    region = models.CharField(max_length=32)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batches")
    created_by_username = models.CharField("uploaded by", max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    file_name = models.CharField(max_length=255, blank=True)
    file_format = models.CharField(max_length=8)  # "csv" or "jsonl"
    status = models.CharField(max_length=32, choices=BatchStatus.choices, default=BatchStatus.CHECKING)
    # A CSV file's header (its members, in the file's order); None for JSON lines.
    columns = models.JSONField(null=True, blank=True)
    # The report: lines read, checked so far, and those that break the operation's rules (kept as
    # BatchLine rows).
    lines = models.PositiveIntegerField(default=0)
    checked_lines = models.PositiveIntegerField(default=0)
    invalid_lines = models.PositiveIntegerField(default=0)
    # Set when submitted: whether invalid lines were skipped, and how many requests were recorded.
    skip_invalid = models.BooleanField(default=False)
    requests_recorded = models.PositiveIntegerField(default=0)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # One decision for the whole batch, when an approval rule applies.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paused_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "batches"
        indexes = [models.Index(fields=("status", "created_at"), name="batch_status_created_idx")]

    def __str__(self) -> str:
        return f"Batch #{self.pk} {self.service} {self.operation} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("batch_detail", args=[self.pk])

    @property
    def operation_key(self) -> str:
        return operation_key(self.service, self.operation)


class BatchLine(models.Model):
    """One line of an uploaded file: as uploaded, then as checked (its parameters, what is wrong).

    Kept while the batch is a draft (the report, and what submitting records); once submitted the
    valid lines live on as requests and only the invalid ones stay, for the report.
    """

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="file_lines")
    # The line's number in the file (a CSV record's first line; the header is line 1).
    number = models.PositiveIntegerField()
    # As uploaded: a JSON line's text, or a CSV record's cells as a JSON list.
    raw = models.TextField()
    # Once checked: the parameters read from it (None when it could not be read at all).
    parameters = models.JSONField(null=True, blank=True)
    # [{"member": "eventGroupId", "message": "is required"}, ...]; empty for a valid line.
    errors = models.JSONField(default=list, blank=True)
    # None until checked.
    valid = models.BooleanField(null=True)

    class Meta:
        ordering = ("number",)
        constraints = [models.UniqueConstraint(fields=("batch", "number"), name="unique_batch_line")]
        indexes = [models.Index(fields=("batch", "valid", "number"), name="batchline_valid_idx")]

    def __str__(self) -> str:
        return f"Line {self.number} of batch #{self.batch_id}"


class RateBucket(models.Model):
    """A token bucket shared by every worker: calls to one service in one account and region.

    integrations/rate_limits.py takes a token with one compare-and-set UPDATE; ``rate`` is the
    bucket's current rate (lowered by a throttle from AWS, raised back to the configured one).
    """

    key = models.CharField(max_length=128, unique=True)
    tokens = models.FloatField()
    # Seconds since the epoch when ``tokens`` was last counted.
    stamp = models.FloatField()
    rate = models.FloatField()
    throttled_at = models.DateTimeField(null=True, blank=True)
    throttles = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.rate:g}/s"


class AwsRequestQuerySet(models.QuerySet):
    def visible_to(self, user: User) -> AwsRequestQuerySet:
        """The requests ``user`` may see: their own, or everybody's for auditors and approvers.

        One method, so that the home page, the history, a request's page, the exports and the
        API cannot disagree about what someone may see.
        """
        if may_see_every_request(user):
            return self
        return self.filter(created_by=user)


class AwsRequest(models.Model):
    """One request a person (or a script) made to run an AWS operation: history and work queue.

    Its status changes only through ``integrations.lifecycle``, each change a compare-and-set.
    """

    service = models.CharField(max_length=64)
    operation = models.CharField(max_length=128)
    parameters = models.JSONField(help_text="The API parameters as submitted, without the client token.")
    target = models.ForeignKey(AwsTarget, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")
    account_id = models.CharField(max_length=12, blank=True)
    region = models.CharField(max_length=32)
    # A caller-supplied key (the API's Idempotency-Key header): a retried POST finds its request.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True, editable=False)  # noqa: DJ001 - NULL: no key, not unique
    client_token = models.CharField(max_length=255, unique=True, default=new_client_token, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="aws_requests")
    # Who made the request, by the name they had then: pages, exports and the API show this, so
    # renaming an account does not rewrite the history (filters by person still use the key).
    created_by_username = models.CharField("requested by", max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    status = models.CharField(max_length=32, choices=RequestStatus.choices, default=RequestStatus.QUEUED)
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

    # How many times the sweeper handed this request to the broker again (a lost message, a broker
    # outage, a dead worker): part of the audit, and the sweeper hand-offs metric.
    handoffs = models.PositiveIntegerField(default=0, editable=False)
    # An operator's retry of a failed request (manage.py retry_request): with the same client
    # token the request itself is reopened and its attempt budget counts from ``attempt_base``
    # (the attempts made before); with a new token a new request names the old one here.
    attempt_base = models.PositiveIntegerField(default=0, editable=False)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retries", editable=False
    )
    # Who took the request back before it ran, and why (lifecycle.cancel, a compare-and-set).
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    cancel_reason = models.TextField(blank=True, editable=False)
    # A line of an uploaded batch (integrations/batches.py): its batch, and its line in the file.
    batch = models.ForeignKey(
        Batch,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="requests",
        editable=False,
        # Indexed by awsrequest_batch_status_idx (partial: most requests have no batch).
        db_index=False,
    )
    batch_line = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # Requests of one order key run one at a time, in the order recorded (Operation.ordered_by;
    # integrations/ordering.py): a digest of the target's account and region and the members' values.
    order_key = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001 - NULL: unordered
    # A failed request holds its group until its owner releases it (or it is retried and succeeds).
    order_released = models.BooleanField(default=False, editable=False)

    objects = AwsRequestQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "AWS request"
        permissions = [
            ("view_all_requests", "Can view every user's requests"),
            ("view_sensitive_parameters", "Can view sensitive parameters (payloads)"),
            ("export_requests", "Can export the request history"),
            ("approve_request", "Can approve or reject other users' requests"),
            ("view_configuration_history", "Can view and export the history of the portal's configuration"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("created_by", "idempotency_key"),
                condition=models.Q(idempotency_key__isnull=False),
                name="unique_idempotency_key_per_user",
            ),
            # A line of a batch is recorded once, however often its recording is resumed.
            models.UniqueConstraint(
                fields=("batch", "batch_line"),
                condition=models.Q(batch__isnull=False),
                name="unique_batch_request_line",
            ),
        ]
        # One index per history filter, each ending in created_at so that a page of the newest
        # matches is read from it in order; the search's exact lookups have theirs (the client
        # token's is its unique constraint). Added by 0009 without locking a large table.
        indexes = [
            models.Index(fields=("status", "created_at")),
            models.Index(fields=("service", "operation", "created_at")),
            models.Index(fields=("created_by", "created_at"), name="awsrequest_user_created_idx"),
            models.Index(fields=("target", "created_at"), name="awsrequest_target_created_idx"),
            models.Index(fields=("resource_id",), name="awsrequest_resource_id_idx"),
            # What /metrics reads: the requests finished since its last count (0010).
            models.Index(fields=("finished_at",), name="awsrequest_finished_idx"),
            # The search by a prefix (LIKE 'arn:aws:appfabric:…%'): a default B-tree answers LIKE only
            # in the "C" collation; the pattern operator class answers it in any (0013).
            models.Index(
                fields=("resource_id",), name="awsrequest_resource_id_like", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=("client_token",), name="awsrequest_client_token_like", opclasses=["varchar_pattern_ops"]
            ),
            # Ordering: "is an earlier request of this group unfinished?" and a batch's progress (0014).
            models.Index(
                fields=("order_key", "id"), name="awsrequest_order_idx", condition=models.Q(order_key__isnull=False)
            ),
            models.Index(
                fields=("batch", "status", "id"),
                name="awsrequest_batch_status_idx",
                condition=models.Q(batch__isnull=False),
            ),
            # The sweeper's work, read without the (maybe 100,000) queued requests of batches: single
            # requests waiting for a worker, and every request sent and not claimed since (0015).
            models.Index(
                fields=("created_at",),
                name="awsrequest_single_waiting_idx",
                condition=models.Q(batch__isnull=True, status__in=("queued", "retrying")),
            ),
            models.Index(
                fields=("enqueued_at",),
                name="awsrequest_sent_idx",
                condition=models.Q(enqueued_at__isnull=False, status__in=("queued", "running", "retrying")),
            ),
            # A batch's requests in the broker or running: how many more the feeder may send.
            models.Index(
                fields=("batch",),
                name="awsrequest_batch_sent_idx",
                condition=models.Q(
                    batch__isnull=False, enqueued_at__isnull=False, status__in=("queued", "running", "retrying")
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.service} {self.operation} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("request_detail", args=[self.pk])

    @property
    def operation_key(self) -> str:
        return operation_key(self.service, self.operation)

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


class AttemptKind(models.TextChoices):
    # The operation's own call, with the request's client token.
    CREATE = "create", "Create"
    # The created resource read back with the service's read call (no client token): its
    # confirmation in AWS. Never retried as a create, and never able to fail the request.
    READ_BACK = "read_back", "Read back"


class Attempt(models.Model):
    request = models.ForeignKey(AwsRequest, on_delete=models.PROTECT, related_name="attempts")
    number = models.PositiveIntegerField()
    kind = models.CharField(max_length=16, choices=AttemptKind.choices, default=AttemptKind.CREATE)
    # The read call of a read-back ("appfabric/GetIngestion"); empty for a create.
    read_call = models.CharField(max_length=128, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices, default=AttemptOutcome.IN_PROGRESS)
    http_status = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=255, blank=True)
    error_message = models.TextField(blank=True)
    aws_request_id = models.CharField(max_length=255, blank=True)
    # The client token sent, kept per attempt so the audit shows it never changed (none for a read back).
    client_token = models.CharField(max_length=255, blank=True)
    worker = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ("request", "number")
        constraints = [models.UniqueConstraint(fields=("request", "number"), name="unique_attempt_number")]
        # The history's search finds a request by an attempt's AWS request id (added by 0009).
        indexes = [
            models.Index(fields=("aws_request_id",), name="attempt_aws_request_id_idx"),
            # ... and by a prefix of one (0013, as AwsRequest's).
            models.Index(
                fields=("aws_request_id",), name="attempt_aws_request_id_like", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of request #{self.request_id}: {self.outcome}"


class ResourceStatus(models.TextChoices):
    # Created; not read back yet (the confirmation is on its way, or is being tried again).
    PENDING = "pending", "Not confirmed yet"
    CONFIRMED = "confirmed", "Confirmed in AWS"
    # The read back failed for good (refused, or still missing after every try): the reason is kept.
    UNCONFIRMED = "unconfirmed", "Could not be confirmed"
    # A later check found key fields different from the confirmed ones.
    CHANGED = "changed", "Changed outside the portal"
    # A later check was told the resource does not exist.
    GONE = "gone", "Gone"


class ResourceQuerySet(AwsRequestQuerySet):
    """A resource is seen by whoever may see the request that created it: the same ``visible_to``
    (both rows carry ``created_by``), so the Resources page cannot disagree with the history."""


class Resource(models.Model):
    """A resource created through the portal, and what AWS last said of it.

    Made in the transaction that marks its request succeeded, so that no created resource is
    missing from the list; then read back (``integrations.resources``): the confirmation, and the
    reconciliation's later checks, which mark it changed or gone when AWS disagrees.
    """

    request = models.OneToOneField(AwsRequest, on_delete=models.PROTECT, related_name="resource")
    service = models.CharField(max_length=64)
    operation = models.CharField(max_length=128)
    resource_id = models.CharField("ARN or id", max_length=2048)
    name = models.CharField(max_length=512, blank=True)
    target = models.ForeignKey(AwsTarget, null=True, blank=True, on_delete=models.PROTECT, related_name="resources")
    account_id = models.CharField(max_length=12, blank=True)
    region = models.CharField(max_length=32)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="aws_resources")
    created_by_username = models.CharField("created by", max_length=150, blank=True)
    created_at = models.DateTimeField()

    status = models.CharField(max_length=16, choices=ResourceStatus.choices, default=ResourceStatus.PENDING)
    # The resource's state as AWS reports it ("enabled", "Stopped"), where it has one.
    state = models.CharField(max_length=255, blank=True)
    # The key fields as first read back (what "changed" is measured against) and as last read.
    baseline = models.JSONField(null=True, blank=True)
    observed = models.JSONField(null=True, blank=True)
    # What differs from the baseline: [{"field", "was", "now"}], when changed.
    changes = models.JSONField(default=list, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    # Why the last check could not tell (refused, throttled, unreachable); empty when it could.
    check_error = models.TextField(blank=True)
    # Checks made, and the failed ones in a row (a read back tries a few times before giving up).
    checks = models.PositiveIntegerField(default=0)
    failed_checks = models.PositiveIntegerField(default=0)
    # When the next check is due (none: never), when a worker last started one (its claim, a
    # compare-and-set, also pushes next_check_at a lease ahead) and when the reconciliation last
    # handed it to the broker.
    next_check_at = models.DateTimeField(null=True, blank=True)
    check_started_at = models.DateTimeField(null=True, blank=True)
    check_sent_at = models.DateTimeField(null=True, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=("created_at",), name="resource_created_idx"),
            models.Index(fields=("status", "created_at"), name="resource_status_created_idx"),
            models.Index(fields=("service", "operation", "created_at"), name="resource_operation_created_idx"),
            models.Index(fields=("created_by", "created_at"), name="resource_user_created_idx"),
            models.Index(fields=("target", "created_at"), name="resource_target_created_idx"),
            models.Index(fields=("resource_id",), name="resource_resource_id_idx"),
            # The reconciliation: the due resources of one target, the longest-waiting first.
            models.Index(fields=("target", "next_check_at"), name="resource_target_next_check_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.resource_id} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("request_detail", args=[self.request_id])

    @property
    def operation_key(self) -> str:
        return operation_key(self.service, self.operation)


class ApprovalDecision(models.Model):
    """Who approved or rejected a request, when and why: part of the audit, never changed."""

    request = models.OneToOneField(AwsRequest, on_delete=models.PROTECT, related_name="decision")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField()
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        verdict = "approved" if self.approved else "rejected"
        return f"request #{self.request_id} {verdict} by {self.decided_by}"


class NotificationEvent(models.TextChoices):
    """What a person can be told about a request (integrations/notifications.py)."""

    # To approvers: a request waits for their decision.
    AWAITING_APPROVAL = "awaiting_approval", "A request waits for my approval"
    # To the requester: what became of their request.
    APPROVED = "approved", "My request was approved"
    REJECTED = "rejected", "My request was rejected"
    SUCCEEDED = "succeeded", "My request succeeded"
    FAILED = "failed", "My request failed"


def all_notification_events() -> list[str]:
    return [event.value for event in NotificationEvent]


class NotificationPreference(models.Model):
    """What one person wants to be told, and where: their e-mail address and/or a webhook."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    events = models.JSONField(default=all_notification_events, blank=True, help_text="NotificationEvent values.")
    by_email = models.BooleanField("by e-mail", default=True)
    webhook_url = models.URLField(
        "webhook URL", max_length=2048, blank=True, help_text="Slack-compatible: a JSON body with a 'text' member."
    )

    def __str__(self) -> str:
        return f"notifications of {self.user}"


class GroupWebhook(models.Model):
    """A group's shared channel (a team's Slack webhook): told the events chosen for the group."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField("webhook URL", max_length=2048)
    events = models.JSONField(default=all_notification_events, blank=True, help_text="NotificationEvent values.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=("group", "url"), name="unique_group_webhook")]

    def __str__(self) -> str:
        return f"webhook of {self.group}"


class Notification(models.Model):
    """One message to one address about one request: the outbox, delivered by a task after the
    commit of the status change it tells of, retried, and kept for the audit."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    request = models.ForeignKey(AwsRequest, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=32, choices=NotificationEvent.choices)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # An e-mail address or a webhook URL.
    address = models.CharField(max_length=2048)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            # One message per event, address and request: a redelivered or repeated hand-off sends nothing twice.
            models.UniqueConstraint(fields=("request", "event", "channel", "address"), name="unique_notification")
        ]
        indexes = [models.Index(fields=("status", "next_attempt_at"), name="notification_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} of request #{self.request_id} to {self.address} ({self.status})"


class Preset(models.Model):
    """A filled form saved under a name, to start a request from: private, or shared with a group.

    Never holds a sensitive member (``integrations.presets`` leaves them out when saving).
    """

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets")
    shared_with = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="presets",
        help_text="Empty: only you see it.",
    )  # fmt: skip
    service = models.CharField(max_length=64)
    operation = models.CharField(max_length=128)
    target = models.ForeignKey(AwsTarget, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The form's data (form names to values), without sensitive members and the client token.
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.UniqueConstraint(fields=("owner", "service", "operation", "name"), name="unique_preset_name")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.service} {self.operation})"

    @property
    def operation_key(self) -> str:
        return operation_key(self.service, self.operation)


class ProcessHeartbeat(models.Model):
    """The last time a worker or beat process said it was alive: what readiness and metrics read.

    One row per process name (a worker's Celery hostname, or beat's), written every few seconds
    by the process itself, so that the web servers, which share only the database with them,
    can tell whether anything is consuming the queue and scheduling the sweeps.
    """

    class Kind(models.TextChoices):
        WORKER = "worker", "Worker"
        BEAT = "beat", "Beat"

    name = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    seen_at = models.DateTimeField()
    started_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} {self.name} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


class MetricsRollup(models.Model):
    """What /metrics has already counted, so that a scrape reads only the rows added since.

    One row. Attempts up to ``attempts_through`` are counted in ``attempt_totals``, all but the
    ``attempts_pending`` ones, still in progress when the mark passed them and looked at again at
    every scrape. Requests that reached a final status up to ``finished_through`` are counted in
    ``request_totals`` (a request reaches one once; the others are counted live, through the
    status index). A scrape then reads only what changed since: milliseconds at a million requests
    and three million attempts instead of seconds (integrations/metrics.py). Reopening a failed
    request (the only move out of a final status) resets the request part.
    """

    attempts_through = models.BigIntegerField(default=0)
    # Attempts up to the mark that were still in progress when it passed them, looked at again.
    attempts_pending = models.JSONField(default=list)
    # Requests that reached their final status up to this time (none: not counted yet).
    finished_through = models.DateTimeField(null=True)
    attempt_totals = models.JSONField(default=dict)
    request_totals = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return (
            f"metrics counted through attempt {self.attempts_through} and requests finished by {self.finished_through}"
        )
