import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.hostile.resource16b.djproj.settings")
from django.core.asgi import get_asgi_application

application = get_asgi_application()
