"""Untrusted image bytes in, re-encoded images out.

The format comes from the bytes (Pillow tries only the accepted formats' decoders, whatever
the file's name or declared type). Sizes are checked from the header before anything is
decoded; every decoding error of the untrusted bytes is a refusal, never an exception that
escapes. What is stored is a new encoding of the decoded pixels, with orientation applied
and no metadata but the colour profile: EXIF (GPS, camera), XMP, comments and anything
appended to the file are gone.
"""

import io
from dataclasses import dataclass
from typing import IO

import blurhash
import pillow_heif
from PIL import Image, ImageOps, ImageSequence

# HEIC and HEIF (what iPhones take), decoded by libheif, which applies the picture's rotation
# itself; stored as JPEG, which every browser shows.
pillow_heif.register_heif_opener()

# The formats images are stored in (Pillow's names) -> the file's extension, its content type.
STORED_FORMATS = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
    "GIF": ("gif", "image/gif"),
}
# Accepted formats stored as another: a JPEG with more pictures after the first (MPO, as many
# cameras and phones write) as a JPEG of its first; HEIF as JPEG (as PNG with transparency).
STORED_AS = {"MPO": "JPEG", "HEIF": "JPEG"}
# The decoders Pillow may try, whatever the file claims (MPO comes out of the JPEG one).
DECODERS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF")
# Modes with transparency ("RGBa": premultiplied, as libheif may give it) and 16-bit grey
# (PNG's, a monochrome HEIF's).
ALPHA_MODES = ("RGBA", "RGBa", "LA", "PA")
SIXTEEN_BIT_GREY = ("I;16", "I;16B", "I;16L", "I")
# A HEIF file's major brands (its `ftyp` box): HEIC stills and sequences, and plain HEIF.
HEIF_BRANDS = (
    *(b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"),
    *(b"mif1", b"msf1"),
)
JPEG_QUALITY = 85
WEBP_QUALITY = 85
PREVIEW_QUALITY = 80
DEFAULT_FRAME_MILLISECONDS = 100
BLURHASH_COMPONENTS = (4, 4)  # as Mastodon computes them
BLURHASH_SOURCE_SIZE = 32  # pixels on the long side: enough for 4x4 components
MAX_ICC_PROFILE_BYTES = 64 * 1024  # sRGB's is 3 KB; a larger one is dropped


class ImageRejected(Exception):
    """Bytes that are not an acceptable image. `code` is the API's error code."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class Rendition:
    """One encoded image, ready to store."""

    content: bytes
    extension: str
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    image: Rendition  # at most `max_dimension` pixels on its long side
    preview: Rendition  # a still, at most `preview_dimension` on its long side
    blurhash: str


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int  # width x height x frames, as decoded
    max_frames: int
    max_dimension: int
    preview_dimension: int


def open_image(upload: IO[bytes], limits: ImageLimits) -> Image.Image:
    """The uploaded image, opened from its header (nothing decoded yet) and within the
    limits; ImageRejected says why one is refused."""
    try:
        image = Image.open(upload, formats=list(DECODERS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(limits) from exc
    except Image.UnidentifiedImageError as exc:
        if _signed_as_accepted(upload):  # an accepted format whose header is cut or broken
            raise _corrupt() from exc
        raise ImageRejected(
            "Not an image Plaza accepts: send JPEG, PNG, WebP, GIF or HEIC.",
            code="unsupported_image_type",
        ) from exc
    except MemoryError:
        raise
    except Exception as exc:  # a header Pillow recognised but could not read
        raise _corrupt() from exc
    try:
        frames = getattr(image, "n_frames", 1)
    except MemoryError:
        raise
    except Exception as exc:  # counting a GIF's frames reads through them
        raise _corrupt() from exc
    if frames > limits.max_frames:
        raise ImageRejected(
            f"An animation may have at most {limits.max_frames} frames; this one has {frames}.",
            code="too_many_frames",
        )
    width, height = image.size
    if width < 1 or height < 1 or decoded_pixels(image) > limits.max_pixels:
        raise _too_large(limits)
    return image


def _signed_as_accepted(upload: IO[bytes]) -> bool:
    """Whether the bytes start as an accepted format's file does (its magic number)."""
    upload.seek(0)
    start = upload.read(16)
    return (
        start.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a"))
        or (start[:4] == b"RIFF" and start[8:12] == b"WEBP")
        or (start[4:8] == b"ftyp" and start[8:12] in HEIF_BRANDS)
    )


def decoded_pixels(image: Image.Image) -> int:
    """What decoding an opened image costs: width x height, times the frames."""
    width, height = image.size
    return width * height * getattr(image, "n_frames", 1)


def process_image(image: Image.Image, limits: ImageLimits) -> ProcessedImage:
    """Decode and re-encode an image that open_image accepted; ImageRejected says why the
    pixels behind a good header are refused (truncated, corrupt, an animation that outgrows
    its header)."""
    try:
        return _reencode(image, limits)
    except MemoryError:
        raise
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(limits) from exc  # a frame that grows the canvas past the limit
    except Exception as exc:  # any decoding failure of untrusted bytes: truncated, corrupt
        raise _corrupt() from exc


def process_profile_image(
    upload: IO[bytes], limits: ImageLimits, size: tuple[int, int]
) -> Rendition:
    """An avatar or a header: the upload (its first frame, if animated) upright, cropped from
    the centre to fill `size` exactly and re-encoded (a GIF becomes a PNG)."""
    image = open_image(upload, limits)
    try:
        source_format = _stored_format(image)
        icc_profile = _kept_profile(image)
        if image.format in ("JPEG", "MPO"):
            image.draft("RGB", size)
        image.load()
        _within_pixels_as_decoded(image, limits)
        still = _displayable(image, source_format)
        ImageOps.exif_transpose(still, in_place=True)
        fitted = ImageOps.fit(still, size, Image.Resampling.LANCZOS)
        stored_format = "PNG" if source_format == "GIF" else source_format
        extension, content_type = STORED_FORMATS[stored_format]
        return _encode(fitted, stored_format, extension, content_type, icc_profile)
    except (MemoryError, ImageRejected):
        raise
    except Exception as exc:  # any decoding failure of untrusted bytes: truncated, corrupt
        raise _corrupt() from exc


def _within_pixels_as_decoded(image: Image.Image, limits: ImageLimits) -> None:
    """The header's size was checked; a decoder that sizes the image from what it decoded
    (libheif's) is held to the same limit."""
    if image.width * image.height > limits.max_pixels:
        raise _too_large(limits)


def _corrupt() -> ImageRejected:
    return ImageRejected("The image is truncated or corrupt.", code="corrupt_image")


def _too_large(limits: ImageLimits) -> ImageRejected:
    return ImageRejected(
        f"The image is too large: at most {limits.max_pixels:,} pixels (width x height, "
        "times the frames of an animation).",
        code="image_too_large",
    )


def _reencode(image: Image.Image, limits: ImageLimits) -> ProcessedImage:
    source_format = _stored_format(image)
    extension, content_type = STORED_FORMATS[source_format]
    icc_profile = _kept_profile(image)
    animated = source_format in ("GIF", "WEBP") and getattr(image, "is_animated", False)
    if animated:
        stored, first_frame = _reencode_animation(image, source_format, limits)
    else:
        if image.format in ("JPEG", "MPO"):
            # Decode at the smallest of JPEG's built-in scales that still covers the stored
            # size: a 40 MP photo is decoded at a quarter of its pixels, or less.
            image.draft("RGB", (limits.max_dimension, limits.max_dimension))
        image.load()
        _within_pixels_as_decoded(image, limits)
        # Memory: the decoded image is the one large copy. Scaled down in place first (a
        # palette image in full colour before, or it would be scaled pixel by pixel), then
        # turned upright in place.
        still = _displayable(image, source_format)
        still.thumbnail((limits.max_dimension, limits.max_dimension), Image.Resampling.LANCZOS)
        ImageOps.exif_transpose(still, in_place=True)
        stored = _encode(still, source_format, extension, content_type, icc_profile)
        first_frame = still
    preview = _preview(first_frame, limits.preview_dimension, icc_profile)
    return ProcessedImage(image=stored, preview=preview, blurhash=_blurhash(first_frame))


def _stored_format(image: Image.Image) -> str:
    """The format an opened image is stored in: its own, or STORED_AS's."""
    if image.format == "HEIF" and image.mode in ALPHA_MODES:
        return "PNG"
    return STORED_AS.get(image.format or "", image.format or "")


def _kept_profile(image: Image.Image) -> bytes | None:
    """The colour profile to keep: one that describes the RGB or grey pixels stored, of a
    reasonable size (a CMYK profile would mislabel the converted pixels)."""
    profile = image.info.get("icc_profile")
    if not profile or len(profile) > MAX_ICC_PROFILE_BYTES:
        return None
    if image.mode not in ("RGB", "RGBA", "L", "LA", "P", "PA"):
        return None
    return bytes(profile)


def _displayable(image: Image.Image, source_format: str) -> Image.Image:
    """The image in a mode its format stores and that resizes smoothly."""
    if image.mode in SIXTEEN_BIT_GREY:
        # Converted straight to 8 bits, Pillow would clip every value above 255 (a white
        # picture): scaled down first.
        image = image.convert("I").point(lambda value: value / 256).convert("L")
    has_alpha = image.mode in ALPHA_MODES or "transparency" in image.info
    if source_format == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        return image
    return image.convert("RGBA" if has_alpha else "RGB")


def _reencode_animation(
    image: Image.Image, source_format: str, limits: ImageLimits
) -> tuple[Rendition, Image.Image]:
    frames: list[Image.Image] = []
    durations: list[int] = []
    decoded = 0
    for frame in ImageSequence.Iterator(image):
        frame.load()  # WebP tells a frame's duration once it is decoded
        # A later frame may grow the canvas (GIF), which the header did not say: the pixels
        # are counted frame by frame as they are decoded, against the same limit (Pillow's
        # guard, set to it, bounds each frame on its own).
        decoded += frame.width * frame.height
        if decoded > limits.max_pixels:
            raise _too_large(limits)
        durations.append(int(frame.info.get("duration") or DEFAULT_FRAME_MILLISECONDS))
        still = frame.convert("RGBA")
        still.info = {}  # comments and extensions do not ride along
        still.thumbnail((limits.max_dimension, limits.max_dimension), Image.Resampling.LANCZOS)
        frames.append(still)
    loop = int(image.info.get("loop", 0))
    extension, content_type = STORED_FORMATS[source_format]
    output = io.BytesIO()
    first, rest = frames[0], frames[1:]
    options: dict[str, object] = {"save_all": True, "append_images": rest, "duration": durations}
    options["loop"] = loop
    if source_format == "GIF":
        options["disposal"] = 2
    else:
        options["quality"] = WEBP_QUALITY
    first.save(output, format=source_format, **options)
    stored = Rendition(output.getvalue(), extension, content_type, first.width, first.height)
    return stored, first


def _encode(
    image: Image.Image,
    source_format: str,
    extension: str,
    content_type: str,
    icc_profile: bytes | None,
) -> Rendition:
    output = io.BytesIO()
    # A fresh `info`: nothing of the upload's metadata rides along into the new file.
    image.info = {}
    options: dict[str, object] = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if source_format == "JPEG":
        options["quality"] = JPEG_QUALITY
    elif source_format == "WEBP":
        options["quality"] = WEBP_QUALITY
    image.save(output, format=source_format, **options)
    return Rendition(output.getvalue(), extension, content_type, image.width, image.height)


def _preview(image: Image.Image, dimension: int, icc_profile: bytes | None) -> Rendition:
    """A small still: JPEG, or WebP where the image has transparency."""
    preview = image.copy()
    preview.thumbnail((dimension, dimension), Image.Resampling.LANCZOS)
    if preview.mode in ("RGBA", "LA"):
        preview = preview.convert("RGBA")
        rendition_format, extension, content_type = "WEBP", "webp", "image/webp"
    else:
        preview = preview.convert("RGB")
        rendition_format, extension, content_type = "JPEG", "jpg", "image/jpeg"
    output = io.BytesIO()
    options: dict[str, object] = {"quality": PREVIEW_QUALITY}
    if icc_profile:
        options["icc_profile"] = icc_profile
    preview.info = {}
    preview.save(output, format=rendition_format, **options)
    return Rendition(output.getvalue(), extension, content_type, preview.width, preview.height)


def _blurhash(image: Image.Image) -> str:
    small = image.convert("RGB")
    small.thumbnail((BLURHASH_SOURCE_SIZE, BLURHASH_SOURCE_SIZE), Image.Resampling.BILINEAR)
    width, height = small.size
    data = small.tobytes()  # RGB, row after row
    rows = [
        [list(data[(y * width + x) * 3 : (y * width + x) * 3 + 3]) for x in range(width)]
        for y in range(height)
    ]
    components_x, components_y = BLURHASH_COMPONENTS
    encoded: str = blurhash.encode(rows, components_x, components_y)
    return encoded
