import warnings

from django.apps import AppConfig
from django.conf import settings


class MediaConfig(AppConfig):
    name = "plaza.media"
    label = "media"

    def ready(self) -> None:
        from PIL import Image

        # Pillow's decompression-bomb guard, at Plaza's own limit; its warning (between one
        # and two times the limit; above, it raises) is an error too, so that no image over
        # the limit is ever decoded (plaza.media.images refuses both).
        Image.MAX_IMAGE_PIXELS = settings.MEDIA_MAX_PIXELS
        warnings.simplefilter("error", Image.DecompressionBombWarning)
