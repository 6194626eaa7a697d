"""URLs of the enforce-mode project."""

from django.urls import path

from tests.verify.enforce_django_app import views

urlpatterns = [
    path("calls", views.calls),
    path("items/<str:item_id>", views.items),
    path("async-items/<str:item_id>", views.async_items),
    path("me", views.me),
    path("health", views.health),
    path("unruled", views.unruled),
    path("café/<str:number>", views.order),
    path("drf/reports", views.ReportsView.as_view()),
]
