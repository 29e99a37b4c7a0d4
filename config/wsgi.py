"""WSGI entry point, for WSGI servers (gunicorn, granian)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Loading the settings from here keeps database connections from one request to the next
# by default (CONN_MAX_AGE, see config/settings.py): on SQLite a new connection per request
# was most of a feed request's cost (docs/deployment.md).
application = get_wsgi_application()
