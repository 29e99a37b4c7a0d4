"""ASGI entry point: `uvicorn config.asgi:application`.

HTTP goes to Django (the REST API, admin, docs); WebSockets at /ws/ to Channels
(plaza.realtime). One server process and port serve both.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models: the consumers do.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from plaza.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {"http": django_application, "websocket": URLRouter(websocket_urlpatterns)}
)
