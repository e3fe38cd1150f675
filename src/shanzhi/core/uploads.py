"""Uploaded pictures made safe to keep and to show.

A photo is never stored as it came: :func:`image_clean` decodes it with
Pillow and writes the pixels out again. What is kept is a plain JPEG (or a PNG
when the picture has transparency), upright (the EXIF orientation applied), no
larger than :data:`MAX_SIDE` pixels a side, and holding nothing but pixels: no
EXIF (so no GPS position of the reporter's phone), no comments, no bytes after
the image (so a GIF that is also an HTML page loses its HTML). What does not
decode is refused, and so is a picture of more than :data:`MAX_PIXELS` pixels,
from its header, before a single pixel is decoded (a tiny PNG that claims
30000×30000 would take 3.6 GB of memory).
"""

from __future__ import annotations

import io
import warnings

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ValidationError

#: The formats taken in (what phones and browsers send).
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
#: The most pixels a picture may have (a 48-megapixel phone bins to 12).
MAX_PIXELS = 40_000_000
#: The longest side kept; a larger picture is scaled down to it.
MAX_SIDE = 4096
JPEG_QUALITY = 85

# Pillow's own guard, whoever opens an image: it warns above this many pixels
# and refuses above twice as many.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def image_clean(upload, *, field: str | None = None) -> tuple[ContentFile, str, str]:
    """``(file, content_type, ext)``: the picture ``upload`` (a file object)
    decoded and encoded again, or a :class:`ValidationError` on ``field``."""
    name = getattr(upload, "name", None) or _("the file")
    upload.seek(0)
    try:
        with warnings.catch_warnings():  # refused below, without a warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(upload, formats=FORMATS)
    except Image.DecompressionBombError:
        raise _too_many_pixels(name, field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _not_an_image(name, field) from None
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise _too_many_pixels(name, field)
        if getattr(image, "is_animated", False):
            raise ValidationError(_("%(name)s: an animation is not a photo: send a still "
                                    "picture") % {"name": name}, field=field)
        if image.format == "JPEG":  # decode a large JPEG at a reduced scale
            image.draft(None, (MAX_SIDE, MAX_SIDE))
        try:
            image.load()
            clean = ImageOps.exif_transpose(image)
        except Image.DecompressionBombError:
            raise _too_many_pixels(name, field) from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise _not_an_image(name, field) from None
    clean.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    if _has_alpha(clean):
        clean = clean.convert("LA" if clean.mode in ("L", "LA") else "RGBA")
        content_type, ext, options = "image/png", "png", {"format": "PNG"}
    else:
        clean = clean.convert("L" if clean.mode in ("1", "L", "LA", "I;16") else "RGB")
        content_type, ext = "image/jpeg", "jpg"
        options = {"format": "JPEG", "quality": JPEG_QUALITY}
    clean.info = {}  # Pillow would write the source's comment, EXIF, ICC profile … again
    out = io.BytesIO()
    clean.save(out, **options)
    return ContentFile(out.getvalue(), name=f"photo.{ext}"), content_type, ext


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        return image.getextrema()[-1][0] < 255  # an alpha channel that is used
    return image.mode == "P" and "transparency" in image.info


def _not_an_image(name: str, field: str | None) -> ValidationError:
    return ValidationError(_("%(name)s: not an image (JPEG, PNG, GIF or WebP)")
                           % {"name": name}, field=field)


def _too_many_pixels(name: str, field: str | None) -> ValidationError:
    return ValidationError(_("%(name)s: the picture has more than %(mp)d million pixels")
                           % {"name": name, "mp": MAX_PIXELS // 1_000_000}, field=field,
                           code="too_many_pixels")
