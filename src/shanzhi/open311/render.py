"""The two formats of GeoReport v2: XML (mandatory, with its declaration)
and JSON (the XML without its root wrapper)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from django.http import HttpResponse

CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
#: The element of one item inside a list element.
ITEM_OF = {"services": "service", "service_requests": "request", "errors": "error",
           "attributes": "attribute", "values": "value", "endpoints": "endpoint",
           "formats": "format", "suggestions": "suggestion"}
#: What XML 1.0 does not allow in a document: the C0 controls but tab, line
#: feed and carriage return, lone surrogates, U+FFFE and U+FFFF.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids, so that whatever was
    stored, the document stays well-formed."""
    return NOT_XML.sub("", text)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_text(str(value))


def _append(parent: ET.Element, name: str, value: Any) -> None:
    element = ET.SubElement(parent, name)
    _fill(element, name, value)


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, list | tuple):
        child = ITEM_OF.get(name, "item")
        for item in value:
            _append(element, child, item)
    else:
        element.text = _text(value)


def to_xml(root: str, data: Any) -> str:
    element = ET.Element(root)
    _fill(element, root, data)
    return DECLARATION + ET.tostring(element, encoding="unicode")


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def respond(fmt: str, root: str, data: Any, *, status: int = 200) -> HttpResponse:
    """``data`` in ``fmt``: a list becomes ``<root><item/>…</root>`` in XML and
    a JSON array; a dict becomes ``<root>…</root>`` and a JSON object."""
    body = to_xml(root, data) if fmt == "xml" else to_json(data)
    # a lone surrogate (never valid UTF-8) becomes "?" rather than an error
    return HttpResponse(body.encode("utf-8", errors="replace"), status=status,
                        content_type=CONTENT_TYPES[fmt])


def errors(fmt: str, problems: list[tuple[int, str]], *, status: int) -> HttpResponse:
    return respond(fmt, "errors", [{"code": code, "description": description}
                                   for code, description in problems], status=status)
