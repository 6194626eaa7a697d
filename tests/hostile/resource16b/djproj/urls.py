from django.urls import path

from tests.hostile.resource16b.djproj import views

urlpatterns = [
    path("mcp/", views.McpView.as_view()),
    path("mcp/plain", views.plain),
]
