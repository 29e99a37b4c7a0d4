"""Media attachments as JSON, for the upload's own answers and inside the posts they are on
(REST answers and live events alike); the REST face declares the fields
(plaza.rest.media.MediaAttachmentSerializer)."""

from typing import Any

from django.http import HttpRequest

from plaza.core.representations import file_url
from plaza.media.models import MediaAttachment


def media_data(media: MediaAttachment, request: HttpRequest | None = None) -> dict[str, Any]:
    return {
        "id": str(media.pk),
        "type": media.kind,
        "state": media.state,
        "url": file_url(media.file, request),
        "preview_url": file_url(media.preview, request),
        "width": media.width,
        "height": media.height,
        "preview_width": media.preview_width,
        "preview_height": media.preview_height,
        "blurhash": media.blurhash,
        "description": media.description,
        "focus": media.focus,
        "failure": media.failure,
    }
