from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/", include("plaza.rest.urls")),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "plaza.core.errors.bad_request"
handler403 = "plaza.core.errors.permission_denied"
handler404 = "plaza.core.errors.not_found"
handler500 = "plaza.core.errors.server_error"
