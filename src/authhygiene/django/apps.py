from __future__ import annotations

from django.apps import AppConfig

__all__ = ["AuthHygieneConfig"]


class AuthHygieneConfig(AppConfig):
    name = "authhygiene.django"
    label = "authhygiene"
    verbose_name = "authhygiene"

    def ready(self) -> None:
        from authhygiene.django import checks  # noqa: F401  (registers the checks)
