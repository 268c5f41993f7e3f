from django.urls import path

from integrations import batch_views, notification_views, picker_views, preset_views, resource_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("operations/", views.operation_list, name="operation_list"),
    path("operations/<str:service>/<str:name>/", views.operation_form, name="operation_form"),
    path("operations/<str:service>/<str:name>/validate/", views.operation_validate, name="operation_validate"),
    # A picker's choices, as the form's htmx asks for them (integrations/picker_views.py).
    path("operations/<str:service>/<str:name>/choices/<str:member>/", picker_views.choices, name="operation_choices"),
    # Batches: a file of events uploaded as one (integrations/batch_views.py).
    path("operations/<str:service>/<str:name>/batches/new/", batch_views.batch_upload, name="batch_upload"),
    path("batches/", batch_views.batch_list, name="batch_list"),
    path("batches/<int:pk>/", batch_views.batch_detail, name="batch_detail"),
    path("batches/<int:pk>/progress/", batch_views.batch_progress, name="batch_progress"),
    path("batches/<int:pk>/report.csv", batch_views.batch_report_export, name="batch_report_export"),
    path("batches/<int:pk>/<str:action>/", batch_views.batch_action, name="batch_action"),
    path("requests/<int:pk>/group/<str:action>/", batch_views.request_group_action, name="request_group_action"),
    path("requests/", views.request_list, name="request_list"),
    path("requests/export.csv", views.request_export, {"fmt": "csv"}, name="request_export_csv"),
    path("requests/export.jsonl", views.request_export, {"fmt": "jsonl"}, name="request_export_jsonl"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/decide/", views.request_decide, name="request_decide"),
    path("requests/<int:pk>/cancel/", views.request_cancel, name="request_cancel"),
    path("requests/<int:pk>/again/", views.request_again, name="request_again"),
    # What a person is told, and where (integrations/notification_views.py).
    path("notifications/", notification_views.notification_settings, name="notification_settings"),
    # Presets: saved forms, private or shared with a group (integrations/preset_views.py).
    path("presets/", preset_views.preset_list, name="preset_list"),
    path("presets/save/<str:service>/<str:name>/", preset_views.preset_save, name="preset_save"),
    path("presets/<int:pk>/delete/", preset_views.preset_delete, name="preset_delete"),
    path("resources/", resource_views.resource_list, name="resource_list"),
    path("resources/export.csv", resource_views.resource_export, {"fmt": "csv"}, name="resource_export_csv"),
    path("resources/export.jsonl", resource_views.resource_export, {"fmt": "jsonl"}, name="resource_export_jsonl"),
    path("resources/<int:pk>/recheck/", resource_views.resource_recheck, name="resource_recheck"),
    path("approvals/", views.approval_queue, name="approval_queue"),
    path("audit/configuration/", views.configuration_history, name="configuration_history"),
    path(
        "audit/configuration/export.csv",
        views.configuration_history,
        {"fmt": "csv"},
        name="configuration_history_csv",
    ),
]
