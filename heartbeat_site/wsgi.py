"""WSGI entry point: serves the trigger API and admin under gunicorn in the scaled set-up."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heartbeat_site.settings")
application = get_wsgi_application()
