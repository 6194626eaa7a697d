"""A Django project in enforce mode, served by gunicorn (WSGI) and uvicorn
(ASGI) as subprocesses for tests/verify/test_enforce_django.py; never
loaded into the pytest process (tests/django configures Django there)."""
