"""The API's routes. DRF authenticates these itself (tokens or the session), so the site-wide
login redirect does not apply to them: an unauthenticated call gets 401, not a login page."""

from django.contrib.auth.decorators import login_not_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from integrations.api import batches, cancel, choices, resources, views

urlpatterns = [
    path("operations/", login_not_required(views.OperationListView.as_view()), name="api-operations"),
    path(
        "operations/<str:service>/<str:name>/requests/",
        login_not_required(views.SubmitView.as_view()),
        name="api-submit",
    ),
    path(
        "operations/<str:service>/<str:name>/choices/<str:member>/",
        login_not_required(choices.ChoicesView.as_view()),
        name="api-choices",
    ),
    path(
        "operations/<str:service>/<str:name>/batches/",
        login_not_required(batches.BatchUploadView.as_view()),
        name="api-batch-upload",
    ),
    path("batches/", login_not_required(batches.BatchListView.as_view()), name="api-batches"),
    path("batches/<int:pk>/", login_not_required(batches.BatchDetailView.as_view()), name="api-batch-detail"),
    path("batches/<int:pk>/report/", login_not_required(batches.BatchReportView.as_view()), name="api-batch-report"),
    path(
        "batches/<int:pk>/failures/", login_not_required(batches.BatchFailuresView.as_view()), name="api-batch-failures"
    ),
    path(
        "batches/<int:pk>/<str:action>/", login_not_required(batches.BatchActionView.as_view()), name="api-batch-action"
    ),
    path(
        "requests/<int:pk>/group/<str:action>/",
        login_not_required(batches.RequestGroupActionView.as_view()),
        name="api-request-group-action",
    ),
    path("resources/", login_not_required(resources.ResourceListView.as_view()), name="api-resources"),
    path("requests/", login_not_required(views.RequestListView.as_view()), name="api-requests"),
    path("requests/<int:pk>/", login_not_required(views.RequestDetailView.as_view()), name="api-request-detail"),
    path("requests/<int:pk>/cancel/", login_not_required(cancel.CancelView.as_view()), name="api-request-cancel"),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="api-schema"),
]
