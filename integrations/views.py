"""The portal's pages: operations and their forms, the history, exports and approvals."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from integrations import (
    batches,
    committed,
    config_history,
    history,
    lifecycle,
    ordering,
    presets,
    preview,
    retry_policy,
)
from integrations.error_help import ALREADY_EXISTS, conflict_words, created_by_portal, explain
from integrations.forms import FIELD, ROWS_ACTION, OperationForm, edit_rows, params_to_data
from integrations.models import (
    ApprovalDecision,
    ApprovalRule,
    Attempt,
    AttemptKind,
    AttemptOutcome,
    AwsRequest,
    AwsTarget,
    Batch,
    BatchStatus,
    RequestStatus,
    Resource,
    ResourceStatus,
)
from integrations.permissions import (
    APPROVE,
    EXPORT,
    VIEW_ALL,
    VIEW_CONFIGURATION_HISTORY,
    VIEW_SENSITIVE,
    Call,
    approver_names,
    can_run,
    either_of,
    operation_or_404,
    runnable_operations,
    shown_parameters,
    withheld_parameters,
)
from operations import Operation, all_operations, operation_key


class PortalRequest(HttpRequest):
    """What every page receives: a signed-in user (LoginRequiredMiddleware lets nobody else in)
    and django-htmx's reading of the request."""

    user: User
    htmx: HtmxDetails


PAGE_SIZE = 25
CONFIGURATION_PAGE = 500
PREVIEW = "_preview"
EDIT = "_edit"
# The preview keeps sensitive values in the session, not in its page: HELD names them there.
HELD = "_held"
HELD_SESSION_KEY = "integrations.preview_held"
HELD_KEPT = 5  # previews whose Run (or Back) is still possible, per session


def may_upload_batches(user: User | AnonymousUser) -> bool:
    """Whether ``user`` may run any operation that takes uploaded files: who the Batches page is for."""
    return user.is_authenticated and any(op.bulk_upload and can_run(user, op) for op in all_operations())


def navigation(request: HttpRequest) -> dict[str, object]:
    """What the navigation of every page shows to whom (a context processor: portal/settings.py).

    Lazy, so that the htmx partials and pages without the navigation never ask.
    """
    return {"may_upload_batches": SimpleLazyObject(lambda: may_upload_batches(request.user))}


def _render(request: PortalRequest, full: str, partial: str, context: dict, status: int = 200) -> HttpResponse:
    """The whole page, or only its changing part when htmx asks for it."""
    response = render(request, partial if request.htmx else full, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


class TargetForm(forms.Form):
    """Where the request runs: one of the AWS targets granted to the user."""

    target = forms.ModelChoiceField(queryset=AwsTarget.objects.none(), empty_label=None, label="AWS target")

    def __init__(self, targets, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = targets
        self.fields["target"].help_text = "The account and region the call is made in."


@require_GET
def home(request: PortalRequest) -> HttpResponse:
    """What a person wants first: their recent requests, the last day at a glance, what failed."""
    visible = history.operation_titles(
        AwsRequest.objects.select_related("created_by", "target")
        .defer("parameters", "response")
        .visible_to(request.user)
    )
    since = timezone.now() - dt.timedelta(days=1)
    counts = dict(
        visible.filter(created_at__gte=since).values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    context = {
        "recent": visible.filter(created_by=request.user)[:10],
        "counts": [(value, label, counts.get(value, 0)) for value, label in RequestStatus.choices],
        "failures": visible.filter(status=RequestStatus.FAILED, created_at__gte=timezone.now() - dt.timedelta(days=7))[
            :10
        ],
        # A batch's requests are approved with their batch, on its page (the approval queue lists it).
        "waiting": visible.filter(status=RequestStatus.AWAITING_APPROVAL, batch__isnull=True).exclude(
            created_by=request.user
        )[:10]
        if request.user.has_perm(APPROVE)
        else [],
        "operations": runnable_operations(request.user),
    }
    return render(request, "integrations/home.html", context)


@require_GET
def operation_list(request: PortalRequest) -> HttpResponse:
    return render(request, "integrations/operation_list.html", {"operations": runnable_operations(request.user)})


def _allowed_targets(request: PortalRequest, operation: Operation):
    """The targets to offer, after refusing (403) a user who may not run the operation at all.

    A POST naming a target the user may not use is refused here too, before the form is even
    validated, so it learns nothing; ``lifecycle.submit`` decides again when it records.
    """
    lifecycle.authorize(request.user, operation)
    targets = AwsTarget.usable_by(request.user)
    chosen = request.POST.get("target", "")
    # ASCII digits only: "²" is a digit to str.isdigit() but not a primary key.
    known = chosen.isascii() and chosen.isdigit() and targets.filter(pk=chosen).exists()
    if request.method == "POST" and (not targets.exists() or (chosen and not known)):
        raise lifecycle.TargetNotPermitted("You may not use this AWS target.")
    return targets


def _form_page(request: PortalRequest, operation: Operation, form, target_form, targets) -> HttpResponse:
    """The form page (or the form alone, for htmx), with an error summary once a submit was refused."""
    summary = [("id_target", f"AWS target: {e}") for e in target_form.errors.get("target", ())]
    summary += [(item.anchor, item.text) for item in form.error_summary]
    context = {
        "operation": operation,
        "form": form,
        "target_form": target_form,
        "has_targets": targets.exists(),
        "error_summary": summary,
    }
    return _render(request, "integrations/operation_form.html", "integrations/_operation_form.html", context)


def _preset_form_data(request: PortalRequest, operation: Operation, targets) -> tuple[dict[str, str], AwsTarget | None]:
    """The form data and target of ``?preset=<id>``: a preset of this operation the user sees (404
    otherwise, like any missing one); its target only if the user may still use it."""
    raw = request.GET.get("preset", "")
    pk = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None
    preset = get_object_or_404(
        presets.visible(request.user).filter(service=operation.service, operation=operation.name), pk=pk
    )
    data = presets.form_data(preset)
    chosen = data.pop(presets.TARGET_FIELD, None)
    target = targets.filter(pk=chosen).first() if chosen else None
    return data, target


@require_http_methods(["GET", "POST"])
def operation_form(request: PortalRequest, service: str, name: str) -> HttpResponse:
    """The form; its Preview button shows the exact call, whose Run button records the request.

    A POST without PREVIEW (the preview's Run, or a script) records it at once.
    """
    operation = operation_or_404(operation_key(service, name))
    targets = _allowed_targets(request, operation)
    if request.method == "GET":
        if "preset" in request.GET:
            data, target = _preset_form_data(request, operation, targets)
            form = OperationForm(operation, initial=data)
            return _form_page(request, operation, form, TargetForm(targets, initial={"target": target}), targets)
        return _form_page(request, operation, OperationForm(operation), TargetForm(targets), targets)
    posted = _with_held_values(request)
    if posted.get(ROWS_ACTION) or posted.get(EDIT):
        # Adding or removing a row, or back from the preview: the form again with what was typed.
        action = posted.get(ROWS_ACTION, "")
        data = edit_rows(posted, action)
        data = {k: v for k, v in data.items() if k not in (EDIT, PREVIEW)}
        # The group whose rows changed stays open, even while its new row is empty.
        form = OperationForm(operation, initial=data, unfold=action.partition(":")[2])
        return _form_page(
            request, operation, form, TargetForm(targets, initial={"target": data.get("target")}), targets
        )
    form = OperationForm(operation, posted)
    target_form = TargetForm(targets, posted)
    if not (target_form.is_valid() & form.is_valid()):
        return _form_page(request, operation, form, target_form, targets)
    target = target_form.cleaned_data["target"]
    if posted.get(PREVIEW):
        # The preview shows sensitive values as their size and digest (``preview``), and carries
        # the rest of the form for its Run and Back buttons; sensitive values wait in the session.
        held = _hold_sensitive_values(request, operation, form.params, posted)
        carried = [(k, v) for k, v in posted.items() if k not in ("csrfmiddlewaretoken", PREVIEW, *held)]
        if held:
            carried.append((HELD, held[HELD]))
        needs_approval = ApprovalRule.applies(operation.key, target)
        approvers = approver_names(request.user.pk, APPROVERS_NAMED) if needs_approval else []
        context = {
            "operation": operation,
            "target": target,
            "carried": carried,
            "review": preview.review_rows(operation, form.params),
            "approval": preview.approval_words(needs_approval, approvers, APPROVERS_NAMED),
            "boto3_code": preview.boto3_code(operation, form.params, target.region),
            "cli_command": preview.cli_command(operation, form.params, target.region),
        }
        return _render(request, "integrations/preview.html", "integrations/_preview.html", context)
    # The form checked these parameters by the same rules, so submit raises no InvalidParametersError;
    # its PermissionDenied is a 403 like the checks above.
    aws_request = lifecycle.submit(operation, form.params, request.user, target).aws_request
    # Recorded: from here on the answer is its page, whatever fails later (integrations/committed.py).
    if request.htmx:
        return committed.answer(request, HttpResponseClientRedirect(aws_request.get_absolute_url()), aws_request.pk)
    return committed.answer(request, redirect(aws_request), aws_request.pk)


def _hold_sensitive_values(
    request: PortalRequest, operation: Operation, params: dict, posted: QueryDict
) -> dict[str, str]:
    """Keep the form's sensitive values in the session for the preview's Run and Back buttons.

    Returns the names of the fields held (with ``HELD``: the reference the preview carries), or
    nothing when the call has no sensitive value. The page then never holds the payload, not even
    in a hidden field.
    """
    _, withheld = withheld_parameters(Call(operation.key, params), may_see_sensitive=False)
    names = [name for name in params_to_data(operation, withheld) if name in posted]
    if not names:
        return {}
    reference = uuid.uuid4().hex
    kept = dict(list(request.session.get(HELD_SESSION_KEY, {}).items())[-(HELD_KEPT - 1) :])
    kept[reference] = {name: posted[name] for name in names}
    request.session[HELD_SESSION_KEY] = kept
    return {**dict.fromkeys(names, ""), HELD: reference}


def _with_held_values(request: PortalRequest) -> QueryDict:
    """The POST, with the sensitive values its preview held in the session put back (once)."""
    reference = request.POST.get(HELD)
    if not reference:
        return request.POST
    kept = request.session.get(HELD_SESSION_KEY, {})
    values = kept.pop(reference, None)
    request.session[HELD_SESSION_KEY] = kept
    posted = request.POST.copy()
    del posted[HELD]
    # Gone (used already, or the session ended): the field is empty and the form says so.
    for name, value in (values or {}).items():
        posted[name] = value
    return posted


@require_POST
def operation_validate(request: PortalRequest, service: str, name: str) -> HttpResponse:
    """One field checked as the person leaves it, by the same rules as on submit."""
    operation = operation_or_404(operation_key(service, name))
    _allowed_targets(request, operation)
    # Only this field is judged: a rule's error is not put on fields the person has not reached yet.
    form = OperationForm(operation, request.POST, mirror_rules=False)
    node = form.find(request.POST.get(FIELD, ""))
    if node is None:
        return HttpResponse(status=204)
    return render(request, "integrations/_node.html", {"node": node, "operation": operation})


@require_GET
def request_again(request: PortalRequest, pk: int) -> HttpResponse:
    """Run again: the request's form filled with its parameters; a new client token when run."""
    aws_request = _visible_request_or_404(request, pk)
    operation = operation_or_404(aws_request.operation_key)
    targets = _allowed_targets(request, operation)
    # Sensitive values come back only to those who may see them (``shown_parameters`` decides);
    # for anyone else their fields are left empty, with a note, and the value is never on the page.
    kept, withheld = withheld_parameters(aws_request, request.user.has_perm(VIEW_SENSITIVE))
    data = params_to_data(operation, kept)
    emptied = [name for name in params_to_data(operation, withheld) if name not in data]
    form = OperationForm(operation, initial={**data, **dict.fromkeys(emptied, "")})
    labels = []
    for name in emptied:
        field = form.fields.get(name)
        if field is not None:
            labels.append(str(field.label or name))
            field.help_text = (
                f"Not copied from request #{aws_request.pk}: this value is sensitive, so it must be entered again. "
                f"{field.help_text}"
            ).strip()
    target_form = TargetForm(targets, initial={"target": aws_request.target_id})
    messages.info(request, f"A copy of request #{aws_request.pk}: check it, then preview and run.")
    if labels:
        messages.warning(request, f"Enter {', '.join(labels)} again: sensitive values are not copied.")
    return _form_page(request, operation, form, target_form, targets)


@require_GET
def request_list(request: PortalRequest) -> HttpResponse:
    """The history, newest first, a keyset page at a time ("newer"/"older" links carry a cursor).

    No exact count and no OFFSET, so that the thousandth page costs what the first does.
    """
    filters, requests = history.history(request.user, request.GET)
    # The columns the table shows; the stored parameters and response stay in the database.
    page = history.keyset_page(
        requests.defer("parameters", "response"), history.Cursor.parse(request.GET.get("cursor")), PAGE_SIZE
    )
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "page": page,
        "count": history.capped_count(requests),
        "filters": filters,
        # Only people who may see others' requests may pick them by name.
        "users": history.users_with_requests() if request.user.has_perm(VIEW_ALL) else [],
        "filter_query": query.urlencode(),
        "can_export": request.user.has_perm(EXPORT),
    }
    return _render(request, "integrations/request_list.html", "integrations/_request_table.html", context)


@require_GET
def request_export(request: PortalRequest, fmt: str) -> StreamingHttpResponse:
    if not request.user.has_perm(EXPORT):
        raise PermissionDenied("You may not export the history.")
    _, requests = history.history(request.user, request.GET)
    if fmt == "csv":
        lines, content_type = history.csv_lines(request.user, requests), "text/csv; charset=utf-8"
    else:
        lines, content_type = history.json_lines(request.user, requests), "application/x-ndjson"
    response = StreamingHttpResponse(lines, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{history.export_filename(fmt)}"'
    return response


def _visible_request_or_404(request: PortalRequest, pk: int) -> AwsRequest:
    return get_object_or_404(AwsRequest.objects.select_related("created_by", "target").visible_to(request.user), pk=pk)


@require_GET
def request_detail(request: PortalRequest, pk: int) -> HttpResponse:
    """A request's page; its status section alone when htmx polls it.

    The poll shows the status in words, the result, the attempts and the Cancel button while one
    may cancel: it neither loads the parameters (up to a MiB, except to explain a conflict) nor
    redacts them (a digest of every sensitive value), nor reads anything else only the whole page
    shows. Every viewer of a running request asks this every second, and of a waiting one every
    few seconds, so that the requester sees it approved, running and done without reloading.
    """
    visible = AwsRequest.objects.select_related(
        "created_by", "target", "resource", "decision__decided_by", "cancelled_by", "batch__decided_by"
    ).visible_to(request.user)
    if request.htmx:
        visible = visible.defer("parameters")
    aws_request = get_object_or_404(visible, pk=pk)
    operation = operation_or_404(aws_request.operation_key)
    resource = getattr(aws_request, "resource", None)
    decision = getattr(aws_request, "decision", None)
    attempts = list(aws_request.attempts.all())
    now = timezone.now()
    words, warning = _status_words(aws_request, attempts, decision, request.user, now)
    gave_up = _gave_up(aws_request)
    context = {
        "aws_request": aws_request,
        "operation": operation,
        "resource": resource,
        "decision": decision,
        "status_words": words,
        "status_warning": warning,
        # The page keeps asking while the request may still change by itself: while it waits for a
        # decision (every few seconds), runs, and after its success until AWS confirmed it.
        "poll_every": _poll_every(aws_request, resource),
        "console_url": operation.console_link(aws_request.region, aws_request.resource_id),
        "error_help": explain(aws_request.error_code, operation, gave_up=gave_up),
        "attempts": attempts,
        "response_json": None
        if aws_request.response is None
        else json.dumps(aws_request.response, indent=2, ensure_ascii=False),
        "can_cancel": aws_request.status in lifecycle.CANCELLABLE and lifecycle.can_cancel(request.user, aws_request),
        "reason_limit": lifecycle.REASON_LIMIT,
        "batch": aws_request.batch,
        **_group_state(aws_request, request.user),
    }
    if context["poll_every"] and _held_up(aws_request, context.get("group_holder")):
        # Held up by a person's decision (a failed event of its group, its batch paused): that
        # takes minutes or days, as an approval does.
        context["poll_every"] = AWAITING_POLL_SECONDS
    if aws_request.status == RequestStatus.FAILED and aws_request.error_code in ALREADY_EXISTS:
        context["conflict_words"] = conflict_words(operation, aws_request.parameters)
        context["conflict_with"] = created_by_portal(aws_request, operation, request.user)
    if not request.htmx:
        parameters = shown_parameters(aws_request, request.user.has_perm(VIEW_SENSITIVE))
        context |= {
            "parameters": json.dumps(parameters, indent=2, ensure_ascii=False),
            # An operator's retry with a new client token (manage.py retry_request), if the viewer may see it.
            "retried_as": aws_request.retries.visible_to(request.user).order_by("pk"),
            # A batch's requests are decided all at once, on the batch's page (``batches.decide``).
            "can_decide": aws_request.status == RequestStatus.AWAITING_APPROVAL
            and aws_request.batch_id is None
            and lifecycle.can_decide(request.user, aws_request),
            "can_decide_batch": aws_request.batch is not None
            and aws_request.batch.status == BatchStatus.AWAITING_APPROVAL
            and batches.can_decide(request.user, aws_request.batch),
            "batch_decision": _batch_decision(aws_request.batch),
        }
    response = _render(request, "integrations/request_detail.html", "integrations/_request_status.html", context)
    if request.htmx and not context["poll_every"]:
        # 286 stops htmx polling; its body (the final state) is still swapped in.
        response.status_code = HTMX_STOP_POLLING
    return response


# Statuses in which a request of an ordered group may be kept waiting by an earlier one.
GROUP_WAITS = (RequestStatus.AWAITING_APPROVAL, RequestStatus.QUEUED, RequestStatus.RETRYING)


def may_steer_group(user: User, aws_request: AwsRequest) -> bool:
    """Who may release a failed request's group or retry it: for a batch's request its owner and the
    approvers (``batches.can_steer``), for a single one its author (as ``batches.release`` decides)."""
    if aws_request.batch is not None:
        return batches.can_steer(user, aws_request.batch)
    return aws_request.created_by_id == user.pk


def _group_state(aws_request: AwsRequest, user: User) -> dict[str, object]:
    """What the page says of the request's event group (integrations/ordering.py): the earlier request
    it waits for, or that later ones wait for it (a failed request holds its group until released).

    One indexed query (on order_key, id) while it waits; nothing for a request outside any group.
    """
    if not aws_request.order_key:
        return {}
    if aws_request.status in GROUP_WAITS:
        holder = ordering.holder(aws_request)
        if holder is None:
            return {}
        # Another person's request may hold the group: its number and status are said, its link
        # only given to those who may open it.
        visible = AwsRequest.objects.visible_to(user).filter(pk=holder.pk).exists()
        return {"group_holder": holder, "group_holder_visible": visible}
    if aws_request.status == RequestStatus.FAILED:
        if aws_request.order_released:
            return {"group_released": True}
        return {"holds_group": True, "may_steer_group": may_steer_group(user, aws_request)}
    return {}


def _held_up(aws_request: AwsRequest, holder: object) -> bool:
    """Whether the request waits for a person rather than a worker: a failed request holds its group,
    or its batch is paused."""
    if isinstance(holder, AwsRequest) and holder.status == RequestStatus.FAILED:
        return True
    return aws_request.batch is not None and aws_request.batch.status == BatchStatus.PAUSED


def _batch_decision(batch: Batch | None) -> dict[str, object] | None:
    """The one decision on a batch's requests is the batch's (``batches.decide``): who, when, why."""
    if batch is None or batch.decided_at is None or batch.decided_by is None:
        return None
    return {
        "approved": batch.status != BatchStatus.REJECTED,
        "by": batch.decided_by.get_username(),
        "at": batch.decided_at,
        "reason": batch.decision_reason,
    }


POLL_SECONDS = 1
# A decision takes minutes or days, not seconds: the requester's page asks less often meanwhile.
AWAITING_POLL_SECONDS = 3


def _poll_every(aws_request: AwsRequest, resource: Resource | None) -> int:
    """Seconds between the status section's polls; 0 once nothing can change it by itself."""
    if aws_request.status == RequestStatus.AWAITING_APPROVAL:
        return AWAITING_POLL_SECONDS
    if not aws_request.is_finished:
        return POLL_SECONDS
    return POLL_SECONDS if resource is not None and resource.status == ResourceStatus.PENDING else 0


def _gave_up(aws_request: AwsRequest) -> bool:
    """Whether the request failed because the portal ran out of attempts (not because AWS refused it)."""
    return aws_request.status == RequestStatus.FAILED and (
        aws_request.error_code == "MaxAttemptsExceeded" or aws_request.error_message.startswith("Gave up after ")
    )


def _duration(seconds: float) -> str:
    """A duration as people read it on a status line: "12 s", "3 min 5 s", "2 h 4 min", "3 days 2 h"."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(h, 24)
    return f"{d} days {h} h" if h else f"{d} days"


def _at(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _clock(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M:%S")


def _sentence(text: str) -> str:
    """``text`` ending as a sentence: a reason typed with its own full stop keeps just that one."""
    return text if text.endswith((".", "!", "?", "…")) else f"{text}."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _status_words(
    aws_request: AwsRequest, attempts: list[Attempt], decision: ApprovalDecision | None, viewer: User, now: dt.datetime
) -> tuple[str, str]:
    """The request's status in a sentence (who, why, since when, what next), and a warning when it
    cannot move on by itself (nobody but its author may approve it); server-rendered, so that the
    poll refreshes the elapsed time with the rest."""
    s = RequestStatus
    status = aws_request.status
    creates = [a for a in attempts if a.kind == AttemptKind.CREATE]
    # An operator's reopen starts a new budget: "gave up after N" counts the attempts since.
    made = len([a for a in creates if a.number > aws_request.attempt_base and a.outcome != AttemptOutcome.IN_PROGRESS])
    last = creates[-1] if creates else None
    if status == s.AWAITING_APPROVAL:
        return _awaiting_words(aws_request, viewer, now)
    if status == s.QUEUED:
        since = aws_request.created_at
        if decision is not None and decision.approved:
            since = decision.decided_at
        if last is not None and last.finished_at is not None:
            since = max(since, last.finished_at)
        return f"Queued for {_duration((now - since).total_seconds())}: waiting for a worker to take it.", ""
    if status == s.RUNNING:
        since = last.started_at if last is not None else aws_request.updated_at
        number = f"attempt {last.number}" if last is not None else "its attempt"
        return f"Running for {_duration((now - since).total_seconds())}: {number} is calling AWS.", ""
    if status == s.RETRYING:
        failed = f"Attempt {last.number} failed" if last is not None else "The last attempt failed"
        if aws_request.error_code:
            failed = f"{failed} ({aws_request.error_code})"
        left = retry_policy.max_attempts() - made
        then = f"{_plural(left, 'attempt')} left" if left > 0 else "no attempt left after the next"
        at = aws_request.next_attempt_at
        if at is None or at <= now:
            return f"{failed}; the next attempt is due now and waits for a worker ({then}).", ""
        wait = _duration((at - now).total_seconds() + 0.999)
        return f"{failed}; the next attempt is at {_clock(at)} (in {wait}; {then}).", ""
    if status == s.SUCCEEDED:
        took = ""
        if aws_request.finished_at is not None:
            took = f" at {_at(aws_request.finished_at)}"
        return f"Succeeded{took}, after {_plural(len(creates), 'attempt')}.", ""
    if status == s.FAILED:
        if _gave_up(aws_request):
            return (
                f"Failed: the portal gave up after {_plural(made, 'attempt')}, the most it makes. "
                "It will not try again by itself.",
                "",
            )
        refused = f" ({aws_request.error_code})" if aws_request.error_code else ""
        return (
            f"Failed: AWS refused the call{refused}. It is not retried, since the same call would be refused again.",
            "",
        )
    if status == s.REJECTED:
        if decision is None:
            return f"Rejected: {_sentence(aws_request.error_message)} It will not run.", ""
        said = _sentence(f"Rejected by {decision.decided_by.get_username()} at {_at(decision.decided_at)}"
                         + (f": {decision.reason}" if decision.reason else ""))  # fmt: skip
        return f"{said} It will not run.", ""
    if status == s.CANCELLED:
        if aws_request.cancelled_by is None:  # cancelled before who and why had fields of their own
            return f"Cancelled. {aws_request.error_message}", ""
        when = f" at {_at(aws_request.finished_at)}" if aws_request.finished_at else ""
        reason = f": {aws_request.cancel_reason}" if aws_request.cancel_reason else " (no reason given)"
        after = "No AWS call was made." if not creates else "No further AWS call will be made."
        return f"{_sentence(f'Cancelled by {aws_request.cancelled_by.get_username()}{when}{reason}')} {after}", ""
    return aws_request.get_status_display(), ""


APPROVERS_NAMED = 5


def _awaiting_words(aws_request: AwsRequest, viewer: User, now: dt.datetime) -> tuple[str, str]:
    waited = f"Waiting {_duration((now - aws_request.created_at).total_seconds())} for approval"
    if aws_request.batch_id is not None:
        waited = f"{waited} of its batch #{aws_request.batch_id}"
    others = approver_names(aws_request.created_by_id, APPROVERS_NAMED)
    if others:
        who = either_of(others, APPROVERS_NAMED)
        if aws_request.batch_id is not None:
            return f"{waited} by {who}: it runs, with the rest of its batch, once one of them approves the batch.", ""
        return f"{waited} by {who}: it runs as soon as one of them approves it.", ""
    author_approves = aws_request.created_by.has_perm(APPROVE) and aws_request.created_by.is_active
    ask = "ask an administrator to give the approve permission (the Approvers group) to someone else"
    if author_approves and viewer.pk == aws_request.created_by_id:
        warning = f"Nobody but you may approve it, and nobody approves their own request: {ask}, or cancel it."
    elif author_approves:
        warning = f"Nobody but its requester may approve it, and nobody approves their own request: {ask}."
    else:
        withdraw = ", or cancel it" if viewer.pk == aws_request.created_by_id else ""
        warning = (
            "Nobody may approve it: no active account holds the approve permission. Ask an administrator to add "
            f"someone to the Approvers group{withdraw}."
        )
    return f"{waited}.", warning


APPROVAL_QUEUE_PAGE = 100


@require_GET
def approval_queue(request: PortalRequest) -> HttpResponse:
    if not request.user.has_perm(APPROVE):
        raise PermissionDenied("You may not approve requests.")
    # A batch's requests are decided with their batch (one row below each), not one by one: a
    # batch of 100,000 events would flood the queue.
    waiting = AwsRequest.objects.filter(status=RequestStatus.AWAITING_APPROVAL, batch__isnull=True).exclude(
        created_by=request.user
    )
    # The oldest first, a page of them: a queue of thousands (a long weekend) must not be a page of
    # thousands of rows, nor an exact count of them (the index on status and created_at serves both).
    rows = list(
        waiting.select_related("created_by", "target")
        .defer("parameters", "response")
        .order_by("created_at", "id")[:APPROVAL_QUEUE_PAGE]
    )
    waiting_batches = Batch.objects.filter(status=BatchStatus.AWAITING_APPROVAL).exclude(created_by=request.user)
    batch_rows = list(waiting_batches.select_related("target").order_by("created_at", "id")[:APPROVAL_QUEUE_PAGE])
    titles = {op.key: op.title for op in all_operations()}
    context = {
        "waiting": [(r, titles.get(r.operation_key, r.operation_key)) for r in rows],
        "batches": [(b, titles.get(b.operation_key, b.operation_key)) for b in batch_rows],
        "count": history.capped_count(waiting),
        "page_size": APPROVAL_QUEUE_PAGE,
    }
    return render(request, "integrations/approval_queue.html", context)


@require_POST
def request_decide(request: PortalRequest, pk: int) -> HttpResponse:
    aws_request = _visible_request_or_404(request, pk)
    approve = request.POST.get("decision") == "approve"
    if aws_request.batch_id is not None:
        # One decision for the whole batch, on its page: not a request of it approved on its own.
        messages.error(
            request,
            f"Request #{aws_request.pk} is decided with its batch #{aws_request.batch_id}: "
            "approve or reject the batch on its page.",
        )
        return redirect(aws_request)
    try:
        lifecycle.decide(aws_request, request.user, approve=approve, reason=request.POST.get("reason", ""))
    except lifecycle.DecisionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Request #{aws_request.pk} {'approved' if approve else 'rejected'}.")
    return redirect(aws_request)


@require_POST
def request_cancel(request: PortalRequest, pk: int) -> HttpResponse:
    """Cancel (withdraw) a request no worker is running, from its page: a plain form POST.

    Someone who may see the request but not cancel it gets a 403 (``lifecycle.cancel`` decides);
    a request a worker took meanwhile is left alone and the page says so.
    """
    aws_request = _visible_request_or_404(request, pk)
    try:
        lifecycle.cancel(aws_request, request.user, request.POST.get("reason", ""))
    except lifecycle.InvalidReasonError as exc:
        messages.error(request, f"Not cancelled. {exc}")
    except lifecycle.CancelError as exc:
        messages.error(request, f"Request #{aws_request.pk} was not cancelled. {exc}")
    else:
        messages.success(request, f"Request #{aws_request.pk} cancelled: nothing will run it.")
    return redirect(aws_request)


@require_GET
def configuration_history(request: PortalRequest, fmt: str = "") -> HttpResponse | StreamingHttpResponse:
    """Who changed targets, approval rules, users, groups, grants and API tokens: for auditors.

    The page shows the newest CONFIGURATION_PAGE changes of the chosen kind; the CSV export
    streams all of them, cells neutralised against formulas like the request history's.
    """
    if not request.user.has_perm(VIEW_CONFIGURATION_HISTORY):
        raise PermissionDenied("You may not read the configuration history.")
    what = request.GET.get("what", "")
    if what not in config_history.TRACKED:
        what = ""
    changes = config_history.configuration_changes(what)
    if fmt == "csv":
        columns = ("at", "by", "kind", "what", "object", "changes")
        rows = ((c.at.isoformat(), c.by, c.kind, c.what, c.object, c.summary) for c in changes)
        response = StreamingHttpResponse(history.csv_rows(columns, rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="configuration-{history.export_filename("csv")}"'
        return response
    context = {"changes": changes[:CONFIGURATION_PAGE], "total": len(changes), "what": what,
               "kinds": list(config_history.TRACKED)}  # fmt: skip
    return render(request, "integrations/configuration_history.html", context)
