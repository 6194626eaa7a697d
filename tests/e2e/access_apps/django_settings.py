"""The smallest Django project `runserver` serves: one view, the
middleware, and Django's default logging, whose `django.server` logger
prints every request line."""

SECRET_KEY = "access-log-tests-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "tests.e2e.access_apps.django_urls"
# runserver imports the app from here after Django configured logging.
WSGI_APPLICATION = "tests.e2e.access_apps.django_wsgi.application"
INSTALLED_APPS = ["authhygiene.django"]
MIDDLEWARE = ["authhygiene.django.AuthHygieneMiddleware"]
AUTHHYGIENE = {"realm": "api"}
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
