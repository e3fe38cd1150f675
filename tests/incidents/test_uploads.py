"""Photos are decoded and written out again before they are kept: a GIF that is
also an HTML page loses its HTML, a phone's GPS position leaves with the EXIF,
a picture that claims a billion pixels is refused from its header, and a
request carrying more than the limits allow is 413 with nothing written."""

from __future__ import annotations

import io
import os
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from shanzhi.core.uploads import MAX_SIDE
from shanzhi.incidents.models import Attachment, Incident
from tests.incidents.conftest import WEST_POINT, counts

URL = "/api/v1/incidents"
SCRIPT = b"<html><script>alert(document.cookie)</script></html>"


# ---------------------------------------------------------------- pictures

def jpeg(size=(64, 48), color=(200, 80, 40), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="JPEG", **save)
    return out.getvalue()


def noisy_jpeg(min_bytes: int) -> bytes:
    """A photo-sized JPEG of noise, at least ``min_bytes`` long."""
    side = 1000
    while True:
        out = io.BytesIO()
        Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
            out, format="JPEG", quality=95)
        if out.tell() >= min_bytes:
            return out.getvalue()
        side += 200


def polyglot_gif() -> bytes:
    """A real GIF whose comment block holds an HTML page, and more HTML after its end."""
    out = io.BytesIO()
    Image.new("P", (16, 16), 1).save(out, format="GIF", comment=SCRIPT)
    return out.getvalue() + SCRIPT


def png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims ``width``×``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1) * 4)) + chunk(b"IEND", b""))


def jpeg_with_gps_turned_sideways() -> bytes:
    """A 60×40 phone photo held sideways (EXIF orientation 6) with a GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (31.0, 18.0, 30.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (120.0, 37.0, 12.25)
    return jpeg((60, 40), exif=exif)


# ---------------------------------------------------------------- helpers

def fields(**more):
    return {"channel": "grid_patrol", "description": "路边有暴露垃圾", "category": "SJ0102",
            "lng": str(WEST_POINT["lng"]), "lat": str(WEST_POINT["lat"]), **more}


def upload(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def send(api, cast, *photos, headers=None):
    return api.client.post(URL, fields(photos=list(photos)),
                           headers={**api.headers(cast.worker), **(headers or {})})


def stored(response) -> tuple[Attachment, bytes]:
    assert response.status_code == 201, response.content
    (attachment,) = Attachment.objects.all()
    with attachment.file.open("rb") as f:
        return attachment, f.read()


def nothing_written(settings) -> bool:
    media = settings.MEDIA_ROOT
    return Incident.objects.count() == 0 and (
        not media.exists() or not any(p.is_file() for p in media.rglob("*")))


# ---------------------------------------------------------------- what is kept

def test_a_gif_that_is_also_an_html_page_is_kept_without_its_html(api, cast):
    data = polyglot_gif()
    assert data.count(b"<script>") == 2 and Image.open(io.BytesIO(data)).format == "GIF"
    attachment, kept = stored(send(api, cast, upload("poly.gif", data, "image/gif")))
    assert b"<script" not in kept and b"<html" not in kept
    assert attachment.content_type in ("image/jpeg", "image/png")
    assert Image.open(io.BytesIO(kept)).size == (16, 16)


def test_a_phone_photo_loses_its_gps_position_and_stands_upright(api, cast):
    data = jpeg_with_gps_turned_sideways()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    attachment, kept = stored(send(api, cast, upload("phone.jpg", data)))
    picture = Image.open(io.BytesIO(kept))
    assert picture.format == "JPEG" and attachment.content_type == "image/jpeg"
    assert not picture.getexif() and b"Exif" not in kept and b"PhoneMaker" not in kept
    assert picture.size == (40, 60)  # turned as the phone was held


def test_the_stored_size_and_hash_are_those_of_the_kept_bytes(api, cast):
    import hashlib

    attachment, kept = stored(send(api, cast, upload("a.jpg", jpeg())))
    assert attachment.size == len(kept)
    assert attachment.sha256 == hashlib.sha256(kept).hexdigest()
    assert attachment.name == "a.jpg"


def test_a_picture_with_transparency_stays_a_png(api, cast):
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (0, 128, 0, 100)).save(out, format="PNG")
    attachment, kept = stored(send(api, cast, upload("sign.png", out.getvalue(), "image/png")))
    assert attachment.content_type == "image/png"
    assert Image.open(io.BytesIO(kept)).mode == "RGBA"


def test_a_webp_is_kept_as_a_jpeg(api, cast):
    out = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 20, 30)).save(out, format="WEBP")
    attachment, kept = stored(send(api, cast, upload("a.webp", out.getvalue(), "image/webp")))
    assert attachment.content_type == "image/jpeg" and kept.startswith(b"\xff\xd8\xff")


def test_a_very_wide_picture_is_scaled_down_to_the_longest_side_kept(api, cast):
    _attachment, kept = stored(send(api, cast, upload("wide.jpg", jpeg((2 * MAX_SIDE, 100)))))
    assert Image.open(io.BytesIO(kept)).size == (MAX_SIDE, 50)


def test_a_2_mb_photo_passes(api, cast):
    data = noisy_jpeg(2 * 1024 * 1024)
    attachment, kept = stored(send(api, cast, upload("big.jpg", data)))
    assert Image.open(io.BytesIO(kept)).size == Image.open(io.BytesIO(data)).size
    assert attachment.content_type == "image/jpeg"


def test_the_same_photo_sent_twice_with_one_key_is_one_incident(api, cast):
    data = jpeg_with_gps_turned_sideways()
    key = {"Idempotency-Key": "photo-retry-1"}
    first = send(api, cast, upload("p.jpg", data), headers=key)
    assert first.status_code == 201, first.content
    before = counts()
    again = send(api, cast, upload("p.jpg", data), headers=key)
    assert again.status_code == 200, again.content
    assert again.json()["number"] == first.json()["number"]
    assert counts() == before


# ---------------------------------------------------------------- what is refused

def test_a_png_claiming_30000_by_30000_pixels_is_400_and_nothing_is_written(api, cast,
                                                                             settings):
    response = send(api, cast, upload("bomb.png", png_claiming(30000, 30000), "image/png"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("too_many_pixels", "photos[0]")
    assert nothing_written(settings)


def test_a_picture_just_over_40_megapixels_is_refused_before_decoding(api, cast, settings):
    response = send(api, cast, upload("big.png", png_claiming(8000, 5001), "image/png"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_pixels"
    assert nothing_written(settings)


@pytest.mark.parametrize(("name", "data"), [
    ("fake.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 200),  # magic bytes only
    ("page.gif", b"GIF89a<html><script>alert(1)</script></html>"),
    ("cut.jpg", jpeg((200, 200))[:300]),
    ("a.bmp", b"BM" + b"\x00" * 100),
])
def test_what_does_not_decode_as_a_photo_is_400_on_its_field(api, cast, settings, name, data):
    response = send(api, cast, upload("ok.jpg", jpeg()), upload(name, data))
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == "photos[1]"
    assert nothing_written(settings)


def test_an_animation_is_not_a_photo(api, cast, settings):
    out = io.BytesIO()
    frames = [Image.new("RGB", (8, 8), color) for color in ("red", "green", "blue")]
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    response = send(api, cast, upload("anim.gif", out.getvalue(), "image/gif"))
    assert response.status_code == 400
    assert nothing_written(settings)


def test_photos_over_the_total_of_a_request_are_413_and_nothing_is_written(api, cast,
                                                                           settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    photo = noisy_jpeg(600 * 1024)
    response = send(api, cast, upload("1.jpg", photo), upload("2.jpg", photo))
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "too_large"
    assert nothing_written(settings)


def test_a_body_over_the_request_cap_is_413_before_it_is_read(api, cast, settings):
    settings.REQUEST_MAX_BYTES = 512 * 1024
    response = send(api, cast, upload("1.jpg", noisy_jpeg(600 * 1024)))
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "too_large"
    assert nothing_written(settings)


def test_more_photos_than_a_request_may_carry_are_413(api, cast, settings):
    settings.UPLOAD_MAX_FILES = 2
    response = send(api, cast, *[upload(f"{i}.jpg", jpeg()) for i in range(3)])
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert nothing_written(settings)


def test_a_photo_over_10_mb_is_400(api, cast, settings):
    response = send(api, cast, upload("huge.jpg", b"\xff\xd8\xff" + b"\x00" * (10 * 2**20)))
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "photos[0]"
    assert nothing_written(settings)


# ---------------------------------------------------------------- the intake page

def test_the_intake_page_says_in_chinese_when_the_photos_are_too_large(client, cast,
                                                                       settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    client.force_login(cast.town_operator)
    photo = noisy_jpeg(600 * 1024)
    response = client.post("/incidents/new/", {
        "channel": "hotline_12345", "description": "路边有暴露垃圾", "category": "SJ0102",
        "locate": "point", "lng": str(WEST_POINT["lng"]), "lat": str(WEST_POINT["lat"]),
        "photos": [upload("1.jpg", photo), upload("2.jpg", photo)]})
    assert response.status_code == 413
    html = response.content.decode()
    assert "请检查“照片”" in html and "照片总大小超过 1 MB" in html
    assert nothing_written(settings)


def test_a_page_request_over_the_cap_is_413_with_a_chinese_page(client, cast, settings):
    settings.REQUEST_MAX_BYTES = 512 * 1024
    client.force_login(cast.town_operator)
    response = client.post("/incidents/new/", {
        "channel": "hotline_12345", "description": "x", "photos": [
            upload("1.jpg", noisy_jpeg(600 * 1024))]})
    assert response.status_code == 413
    assert "上传的内容过大" in response.content.decode()
    assert Incident.objects.count() == 0
