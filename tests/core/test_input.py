"""Hostile input is refused at the door (core/input.py): a NUL, an unpaired
surrogate or a control character anywhere in the path, the query, a form
field or a decoded JSON body, a number in the path written in other digits
or beyond a database id, a JSON body nested too deep, a broken multipart
body — each a 400 (or 404, 405, 413) in the format of the part of the site
asked, with nothing written. Under /api/ an unknown address and a method
the operation does not take answer in the one JSON error format too."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shanzhi.cases.models import IdempotencyKey
from shanzhi.core.input import FORBIDDEN, MAX_ID, is_id
from shanzhi.incidents.models import Incident
from shanzhi.open311.services import key_create

URL = "/api/v1/incidents"
WEST_POINT = {"lng": 120.005, "lat": 31.015}


def _jpeg() -> bytes:
    """A real one-pixel JPEG (its bytes hold NULs)."""
    out = io.BytesIO()
    Image.new("RGB", (1, 1)).save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg()


def report_json(description: str) -> str:
    """A report body written by hand, so that JSON escapes reach the server as sent."""
    return ('{"channel": "grid_patrol", "category": "SJ0102", "lng": 120.005, "lat": 31.015, '
            f'"description": "{description}"}}')


@pytest.fixture
def worker_headers(personas, bearer):
    return bearer(personas.worker)


@pytest.fixture
def operator_headers(personas, bearer):
    return bearer(personas.west_operator)


def assert_refused(response, status=400, code="invalid_text"):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert set(response.json()["error"]) >= {"code", "message", "field"}


# ---------------------------------------------------------------- texts in the API

@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\udc00x", "\\u0007", "\\u001b",
                                    "\\ufffe"],
                         ids=["nul", "high-surrogate", "low-surrogate", "bell", "escape",
                              "non-character"])
def test_a_json_escape_of_a_forbidden_character_is_refused_and_nothing_written(
        client, worker_headers, escape):
    response = client.post(URL, report_json(f"路边{escape}垃圾"), content_type="application/json",
                           headers=worker_headers)
    assert_refused(response)
    assert response.json()["error"]["field"] == "description"
    assert not Incident.objects.exists()


def test_tab_line_feed_and_carriage_return_are_kept(client, worker_headers):
    response = client.post(URL, report_json("路边\\t垃圾\\r\\n第二行"),
                           content_type="application/json", headers=worker_headers)
    assert response.status_code == 201, response.content
    assert Incident.objects.get().description == "路边\t垃圾\r\n第二行"


def test_a_forbidden_character_in_a_nested_key_or_value_is_refused(client, worker_headers):
    body = ('{"channel": "grid_patrol", "description": "x", "category": "SJ0102", '
            '"lng": 120.005, "lat": 31.015, "extra": {"a\\u0000": ["\\u0001"]}}')
    assert_refused(client.post(URL, body, content_type="application/json",
                               headers=worker_headers))
    assert not Incident.objects.exists()


@pytest.mark.parametrize("query", ["q=%00", "q=a%01b", "state=%00", "%00=1", "limit=1%00"])
def test_a_forbidden_character_in_the_query_string_is_refused(client, operator_headers, query):
    assert_refused(client.get(f"{URL}?{query}", headers=operator_headers))


def test_a_forbidden_character_in_a_form_field_is_refused_but_a_photos_bytes_are_not_read(
        client, worker_headers):
    fields = {"channel": "grid_patrol", "category": "SJ0102", **WEST_POINT}
    photo = SimpleUploadedFile("a.jpg", JPEG, content_type="image/jpeg")
    response = client.post(URL, {**fields, "description": "路边\x00垃圾", "photos": [photo]},
                           headers=worker_headers)
    assert_refused(response)
    assert not Incident.objects.exists()
    assert b"\x00" in JPEG
    photo = SimpleUploadedFile("a.jpg", JPEG, content_type="image/jpeg")
    response = client.post(URL, {**fields, "description": "路边垃圾", "photos": [photo]},
                           headers=worker_headers)
    assert response.status_code == 201, response.content


def test_an_idempotency_key_with_a_control_character_is_refused(client, worker_headers):
    response = client.post(URL, report_json("路边垃圾"), content_type="application/json",
                           headers={**worker_headers, "Idempotency-Key": "k\x01"})
    assert_refused(response)
    assert not IdempotencyKey.objects.exists()


# ---------------------------------------------------------------- numbers and depth

@pytest.mark.parametrize("number", ["²", "١٢٣", "１２３", "12%00"],
                         ids=["superscript", "arabic-indic", "full-width", "nul"])
def test_an_incident_id_in_other_digits_is_a_400_not_another_incident(
        client, operator_headers, number):
    response = client.get(f"{URL}/{number}", headers=operator_headers)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("invalid_number", "invalid_text")


def test_an_id_beyond_a_database_id_is_a_404(client, operator_headers):
    response = client.get(f"{URL}/{MAX_ID + 1}", headers=operator_headers)
    assert_refused(response, status=404, code="not_found")
    assert client.get(f"{URL}/{MAX_ID}", headers=operator_headers).status_code == 404


def test_ids_are_ascii_digits_within_a_bigint():
    assert is_id("1") and is_id(str(MAX_ID))
    assert not any(is_id(t) for t in ("0", str(MAX_ID + 1), "١٢٣", "+1", "1_0", " 1", ""))
    assert FORBIDDEN.search("\x00") and not FORBIDDEN.search("\t\n\r普通")


def test_a_json_body_nested_too_deep_is_refused(client, worker_headers):
    for depth in (40, 100_000):
        body = '{"extra": ' + "[" * depth + "]" * depth + "}"
        response = client.post(URL, body, content_type="application/json",
                               headers=worker_headers)
        assert_refused(response, code="too_deep")
    assert not Incident.objects.exists()


def test_a_broken_multipart_body_is_a_400_in_the_error_format(client, worker_headers):
    response = client.generic("POST", URL, b"--x\r\nContent-Disposition: form-data\r\n\r\n",
                              content_type="multipart/form-data", headers=worker_headers)
    assert_refused(response, code="malformed_body")
    assert not Incident.objects.exists()


# ---------------------------------------------------------------- the API's other answers

def test_a_method_the_api_does_not_take_is_a_405_in_the_error_format(client, operator_headers):
    response = client.delete(URL, headers=operator_headers)
    assert_refused(response, status=405, code="method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_an_unknown_api_address_is_a_404_in_the_error_format(client, operator_headers):
    assert_refused(client.get("/api/v1/nowhere", headers=operator_headers), status=404,
                   code="not_found")
    assert_refused(client.get("/api/v2/incidents"), status=404, code="not_found")


# ---------------------------------------------------------------- Open311 and pages

@pytest.fixture
def open311_key(personas):
    _key, secret = key_create(name="随手拍 app")
    return secret


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_refuses_a_control_character_in_its_own_format(client, open311_key, fmt):
    response = client.post(f"/open311/v2/requests.{fmt}", {
        "api_key": open311_key, "service_code": "SJ0102", "lat": "31.015", "long": "120.005",
        "description": "小区门口\x0b有垃圾"})
    assert response.status_code == 400
    if fmt == "json":
        assert response.json()[0]["code"] == 400
    else:
        assert response["Content-Type"].startswith("text/xml")
        assert b"<errors><error><code>400</code>" in response.content
    assert not Incident.objects.exists()


def test_open311_refuses_a_nul_in_the_query(client, personas):
    response = client.get("/open311/v2/requests.json?service_code=%00")
    assert response.status_code == 400
    assert response.json()[0]["code"] == 400


@pytest.mark.parametrize("url", ["/incidents/SJ%00/", "/incidents/١٢٣/", "/incidents/?q=%00"])
def test_a_page_with_a_forbidden_character_or_digit_is_the_400_page(client, personas, url):
    client.force_login(personas.west_operator)
    response = client.get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_a_form_with_too_many_files_is_a_400_in_the_error_format(client, worker_headers,
                                                                settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 2
    photos = [SimpleUploadedFile(f"{i}.jpg", JPEG, content_type="image/jpeg") for i in range(3)]
    response = client.post(URL, {"channel": "grid_patrol", "description": "x", **WEST_POINT,
                                 "photos": photos}, headers=worker_headers)
    assert_refused(response, code="too_many_files")
    assert not Incident.objects.exists()
