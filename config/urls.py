from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from plaza.rest.media import serve_stored_file

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/", include("plaza.rest.urls")),
]
if settings.MEDIA_SERVED_BY_PLAZA:
    # Uploads, from MEDIA_ROOT: the embedded default has no other server for them.
    prefix = settings.MEDIA_URL.strip("/")
    urlpatterns.append(re_path(rf"^{prefix}/(?P<path>.+)$", serve_stored_file, name="media-file"))

handler400 = "plaza.core.errors.bad_request"
handler403 = "plaza.core.errors.permission_denied"
handler404 = "plaza.core.errors.not_found"
handler500 = "plaza.core.errors.server_error"
