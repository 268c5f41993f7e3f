from django.urls import path

from integrations import views

urlpatterns = [
    path("", views.home, name="home"),
    path("operations/", views.operation_list, name="operation_list"),
    path("operations/<str:service>/<str:name>/", views.operation_form, name="operation_form"),
    path("requests/", views.request_list, name="request_list"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
]
