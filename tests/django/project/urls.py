"""URLs of the test project: one view per way an app answers."""

from django.urls import path

from tests.django.project import views

urlpatterns = [
    path("ok", views.ok),
    path("async-ok", views.async_ok),
    path("stream", views.stream),
    path("async-stream", views.async_stream),
    path("redirect", views.redirect),
    path("missing", views.missing),
    path("bad-request", views.bad_request),
    path("api/items", views.items),
    path("api/async-items", views.async_items),
    path("api/jwt-items", views.jwt_items),
    path("api/echo", views.echo),
    path("boom", views.boom),
    path("api/write", views.write),
    path("api/async-write", views.async_write),
    path("api/forbidden", views.forbidden),
    path("api/denied", views.denied),
    path("api/form", views.form),
]
