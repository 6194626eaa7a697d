from django.urls import path

from example_api import views

urlpatterns = [
    path("", views.index),
    path("users/me", views.users_me),
    path("users/me/items", views.users_me_items),
    path("admin", views.admin),
]
