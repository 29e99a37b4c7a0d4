"""The Celery application: `celery -A config worker --pool solo` runs Plaza's background work
(scale with more processes; docs/deployment.md says why solo)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("plaza")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
