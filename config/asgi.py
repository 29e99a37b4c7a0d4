"""ASGI entry point: `python -m config.serve` (what `make run` runs) serves it with uvicorn.

HTTP goes to Django (the REST API, admin, docs), behind the request body limit
(plaza.core.asgi); WebSockets at /ws/ to Channels (plaza.realtime), behind the Host and
Origin check. One server process and port serve both.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models: the consumers do.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from plaza.core.asgi import RequestBodyLimit  # noqa: E402
from plaza.realtime.origins import SameSiteWebSocketGuard  # noqa: E402
from plaza.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(
            django_application,
            default_limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
            limits_by_prefix=settings.REQUEST_BODY_LIMITS,
        ),
        "websocket": SameSiteWebSocketGuard(URLRouter(websocket_urlpatterns)),
    }
)
