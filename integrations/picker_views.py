"""A picker's choices as the form's htmx asks for them: a listbox of options and a status line.

The form's picker sends the chosen target (its primary key), what the person typed (``q``, the
filter) and the fields its choices depend on, by their form names. The answer is always the partial,
even when nothing could be listed (the status says why and the field stays a text box); only a
refusal is an error status: 404 for a member without a picker, 403 for an operation or target the
person may not use.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from integrations import choices as listing
from integrations import lifecycle
from integrations.forms import field_name
from integrations.models import AwsTarget
from integrations.permissions import operation_or_404
from integrations.views import PortalRequest
from operations import operation_key

# The options one listbox shows at most: enough to scroll through, few enough to render at once;
# typing narrows the rest.
SHOWN = 100


@require_GET
@never_cache
def choices(request: PortalRequest, service: str, name: str, member: str) -> HttpResponse:
    operation = operation_or_404(operation_key(service, name))
    try:
        picker = listing.picker_for(operation, member)
    except listing.UnknownMemberError:
        raise Http404(f"{operation.key} has no choices for this member") from None
    lifecycle.authorize(request.user, operation)
    own = field_name(tuple(member.split(".")))
    chosen = request.GET.get("target", "")
    if not chosen:
        result = listing.Choices(member=member, noun=picker.noun, error="Choose an AWS target first.")
    else:
        # ASCII digits only: "²" is a digit to str.isdigit() but not a primary key.
        usable = AwsTarget.usable_by(request.user)
        target = usable.filter(pk=chosen).first() if chosen.isascii() and chosen.isdigit() else None
        if target is None:
            raise lifecycle.TargetNotPermitted("You may not use this AWS target.")
        values = {dep: request.GET.get(field_name(tuple(dep.split("."))), "") for dep in picker.depends_on}
        result = listing.choices_for(operation, member, target, request.user, values, request.GET.get("q", ""))
    context = {
        "result": result,
        "shown": result.choices[:SHOWN],
        "hidden_count": max(0, len(result.choices) - SHOWN),
        "input_id": f"id_{own}",
        "label": listing.member_label(operation, member),
    }
    return render(request, "integrations/_choices.html", context)
