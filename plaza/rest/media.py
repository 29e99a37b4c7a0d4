"""Media uploads (upload first, then attach by id in a post's `media_ids`), and the files
themselves where Plaza serves them."""

import posixpath
import re
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.views.static import serve
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plaza.core.throttling import MediaUploadRateThrottle, throttles_with
from plaza.media import selectors, services
from plaza.media.models import DESCRIPTION_MAX_LENGTH, MediaAttachment, MediaKind, MediaState
from plaza.media.representations import media_data
from plaza.rest.common import error_responses, signed_in_user
from plaza.rest.permissions import VerifiedEmailToCreate

FOCUS_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


class FocusSerializer(serializers.Serializer):
    x = serializers.FloatField(min_value=-1, max_value=1)
    y = serializers.FloatField(min_value=-1, max_value=1)


class MediaAttachmentSerializer(serializers.ModelSerializer):
    """An uploaded image: the stored version (at most MEDIA_MAX_DIMENSION pixels on its long
    side) and a preview, both re-encoded without metadata, with a blurhash to show while they
    load. `focus` is the point to keep in view when a client crops it, from -1 to 1 (x left
    to right, y bottom to top, as on Mastodon). A large upload is `processing` at first: its
    URLs, sizes and blurhash are null until it is `ready`, and a `failed` one says why in
    `failure` (an error code, as an upload's 400 would give)."""

    id = serializers.CharField(read_only=True)
    type = serializers.ChoiceField(choices=MediaKind.choices, source="kind", read_only=True)
    state = serializers.ChoiceField(choices=MediaState.choices, read_only=True)
    url = serializers.FileField(source="file", read_only=True, use_url=True, allow_null=True)
    preview_url = serializers.FileField(
        source="preview", read_only=True, use_url=True, allow_null=True
    )
    blurhash = serializers.CharField(read_only=True, allow_null=True)
    focus = FocusSerializer(read_only=True)
    failure = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = MediaAttachment
        fields = [
            "id",
            "type",
            "state",
            "url",
            "preview_url",
            "width",
            "height",
            "preview_width",
            "preview_height",
            "blurhash",
            "description",
            "focus",
            "failure",
        ]
        read_only_fields = fields

    def to_representation(self, instance: MediaAttachment) -> dict[str, Any]:
        return media_data(instance, self.context.get("request"))


class FocusField(serializers.CharField):
    """ "x,y", each from -1 to 1."""

    default_error_messages = {"focus": 'Give the focus as "x,y", each from -1 to 1.'}

    def to_internal_value(self, data: Any) -> tuple[float, float]:  # type: ignore[override]
        text = super().to_internal_value(data)
        # The length validators run on what this returns, a pair: check the text here.
        if self.max_length is not None and len(text) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        match = FOCUS_PATTERN.match(text)
        if match is None:
            self.fail("focus")
        x, y = float(match.group(1)), float(match.group(2))
        if not (-1 <= x <= 1 and -1 <= y <= 1):
            self.fail("focus")
        return x, y


class MediaWriteSerializer(serializers.Serializer):
    description = serializers.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Alt text: what the image shows, for those who cannot see it.",
    )
    focus = FocusField(required=False, max_length=40, help_text='"x,y", each from -1 to 1.')


class MediaUploadSerializer(MediaWriteSerializer):
    file = serializers.FileField(
        help_text="JPEG, PNG, WebP, GIF (animated ones stay animated) or HEIC; the type is read "
        "from the bytes. At most MEDIA_MAX_UPLOAD_BYTES (16 MB) and MEDIA_MAX_PIXELS "
        "(40 million) pixels."
    )


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def within_upload_limit(upload: UploadedFile) -> UploadedFile:
    """The uploaded file, if it is within MEDIA_MAX_UPLOAD_BYTES (413 otherwise: the body
    limit below Django says so before reading, where an ASGI server runs Plaza)."""
    if upload.size is None or upload.size > settings.MEDIA_MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"The file is too large: at most {settings.MEDIA_MAX_UPLOAD_BYTES} bytes."
        )
    return upload


class ImageFileSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="JPEG, PNG, WebP, GIF (its first frame) or HEIC; the type is read from the "
        "bytes. At most MEDIA_MAX_UPLOAD_BYTES (16 MB) and MEDIA_MAX_PIXELS (40 million) "
        "pixels."
    )


class MediaUploadView(APIView):
    permission_classes = [IsAuthenticated, VerifiedEmailToCreate]
    throttle_classes = throttles_with(MediaUploadRateThrottle)
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="media_create",
        request={"multipart/form-data": MediaUploadSerializer},
        responses={
            201: MediaAttachmentSerializer,
            202: MediaAttachmentSerializer,
            **error_responses(400, 401, 413, 415),
        },
        description="Upload an image (multipart form), to attach to a post by its id within "
        "MEDIA_UNATTACHED_HOURS (24 hours); uploads never attached are deleted after that. "
        "201 when it is ready; 202 when it is large (more than MEDIA_BACKGROUND_PIXELS to "
        "decode) and is being processed in the background: ask for it until its `state` is "
        "`ready` (or `failed`), then attach it.",
    )
    def post(self, request: Request) -> Response:
        data = MediaUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        media = services.media_upload(
            owner=signed_in_user(request),
            upload=within_upload_limit(data.validated_data["file"]),
            description=data.validated_data.get("description", ""),
            focus=data.validated_data.get("focus", (0.0, 0.0)),
        )
        ready = media.state == MediaState.READY
        return Response(
            media_data(media, request),
            status=status.HTTP_201_CREATED if ready else status.HTTP_202_ACCEPTED,
        )


class MediaDetailView(APIView):
    permission_classes = [IsAuthenticated]

    def _media(self, request: Request, media_id: int) -> MediaAttachment:
        return selectors.media_of_owner(media_id, viewer=signed_in_user(request))

    @extend_schema(
        operation_id="media_retrieve",
        responses={200: MediaAttachmentSerializer, **error_responses(401, 404)},
        description="One of your uploads, attached or not.",
    )
    def get(self, request: Request, media_id: int) -> Response:
        return Response(media_data(self._media(request, media_id), request))

    @extend_schema(
        operation_id="media_update",
        request=MediaWriteSerializer,
        responses={200: MediaAttachmentSerializer, **error_responses(400, 401, 404)},
        description="Change the alt text or the focus, before or after attaching.",
    )
    def patch(self, request: Request, media_id: int) -> Response:
        media = self._media(request, media_id)
        data = MediaWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        media = services.media_update(
            media=media,
            description=data.validated_data.get("description"),
            focus=data.validated_data.get("focus"),
        )
        return Response(media_data(media, request))

    @extend_schema(
        operation_id="media_destroy",
        responses={204: None, **error_responses(400, 401, 404)},
        description="Delete an upload that is not attached (400 `media_attached` otherwise: "
        "edit or delete the post).",
    )
    def delete(self, request: Request, media_id: int) -> Response:
        services.media_delete(media=self._media(request, media_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# A year: a stored file's name is new whenever its content is (names are random, never
# reused), so a cached copy is never stale.
STORED_FILE_MAX_AGE = 365 * 24 * 3600


def serve_stored_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """A file under MEDIA_ROOT, where Plaza serves them itself (the embedded default), with
    the type its name gives (the server chose the name from the bytes it wrote), cached for
    good, and never run as a page: `nosniff` (SecurityMiddleware) and a sandboxing CSP.
    Only the folders of published files are served (services.SERVED_UNDER), named exactly:
    never the uploads waiting for the background, which still carry their metadata, on a
    case-insensitive file system too."""
    parts = posixpath.normpath(path).lstrip("/").split("/")
    if "\\" in path or len(parts) < 2 or parts[0] not in services.SERVED_UNDER:
        raise Http404("No such file.")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = f"public, max-age={STORED_FILE_MAX_AGE}, immutable"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
