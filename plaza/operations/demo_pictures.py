"""Pictures for the demo network, drawn here rather than downloaded: a first look at Plaza
shows avatars and photos with nothing fetched from anywhere."""

import io
import random

from PIL import Image, ImageDraw


def landscape(seed: int, size: tuple[int, int] = (1600, 1000)) -> bytes:
    """A JPEG of a sky, a sun and hills in colours of its own."""
    rng = random.Random(seed)  # noqa: S311 - decoration, not secrets
    width, height = size
    top = (rng.randint(20, 90), rng.randint(80, 160), rng.randint(170, 255))
    bottom = (rng.randint(200, 255), rng.randint(140, 220), rng.randint(90, 170))
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        share = y / height
        draw.line(
            [(0, y), (width, y)],
            fill=tuple(round(a + (b - a) * share) for a, b in zip(top, bottom, strict=True)),
        )
    sun_x, sun_y, radius = rng.randint(200, width - 200), rng.randint(100, 400), 90
    draw.ellipse(
        [sun_x - radius, sun_y - radius, sun_x + radius, sun_y + radius], fill=(255, 236, 170)
    )
    for layer in range(3):
        shade = 60 + layer * 40
        base = height * (0.55 + layer * 0.15)
        points: list[tuple[float, float]] = [(0, height)]
        for step in range(9):
            points.append((width * step / 8, base - rng.randint(0, 180)))
        points.append((width, height))
        draw.polygon(points, fill=(shade // 2, shade, shade // 2 + 20))
    output = io.BytesIO()
    image.save(output, format="JPEG", quality=88)
    return output.getvalue()


def avatar(colour: tuple[int, int, int], size: int = 400) -> bytes:
    """A PNG of a head and shoulders on a background of `colour`."""
    image = Image.new("RGB", (size, size), colour)
    draw = ImageDraw.Draw(image)
    light = tuple(min(255, channel + 90) for channel in colour)
    draw.ellipse([size * 0.3, size * 0.18, size * 0.7, size * 0.58], fill=light)
    draw.ellipse([size * 0.12, size * 0.62, size * 0.88, size * 1.3], fill=light)
    output = io.BytesIO()
    image.save(output, format="PNG")
    return output.getvalue()
