"""WSGI entry point: serves the trigger API and admin under gunicorn in the scaled set-up."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heartbeat_site.settings")
django_application = get_wsgi_application()

from heartbeat_site.helpers.bodylimit import BodyLimitMiddleware  # noqa: E402  (reads settings)

# A body over the limit is refused from its Content-Length, before Django (or the key check) runs.
application = BodyLimitMiddleware(django_application)
