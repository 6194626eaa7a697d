"""Tests of the Django adapter, `authhygiene.django.AuthHygieneMiddleware`.

They run a small but real Django project (`tests.django.project`) through
Django's own test clients and, once, behind a real server. Django is
configured lazily by a session fixture in this directory's conftest, so the
other test directories that share the pytest process never see it.
"""
