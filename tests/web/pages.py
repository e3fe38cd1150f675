"""Reading the pages in tests: the forms a page offers (to post them as a
browser would), and the numbers listed on a desk."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    id: str
    action: str
    multipart: bool
    values: dict[str, str] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    options: dict[str, list[str]] = field(default_factory=dict)
    files: set[str] = field(default_factory=set)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, Form] = {}
        self.form: Form | None = None
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        key = a.get("data-action") or a.get("id")
        if tag == "form" and key:
            self.form = Form(key, a.get("action", ""), a.get("enctype") == "multipart/form-data")
            self.forms[key] = self.form
        if self.form is None or not a.get("name"):
            if tag == "option" and self.form is not None and self.select:
                self._option(a)
            return
        name = a["name"]
        if "required" in a:
            self.form.required.add(name)
        if tag == "input" and a.get("type") == "file":
            self.form.files.add(name)
        elif tag == "input":
            self.form.values[name] = a.get("value", "")
        elif tag == "select":
            self.select = name
            self.form.options[name] = []
            self.form.values.setdefault(name, "")
        elif tag == "textarea":
            self.textarea = name
            self.form.values[name] = ""

    def _option(self, a):
        value = a.get("value", "")
        self.form.options[self.select].append(value)
        if "selected" in a:
            self.form.values[self.select] = value

    def handle_data(self, data):
        if self.textarea and self.form is not None:
            self.form.values[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def forms(html: str) -> dict[str, Form]:
    """The page's forms by id, and the action forms by their action."""
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def listed_numbers(html: str) -> list[str]:
    """The incident numbers a desk lists, in order."""
    return re.findall(r'<td class="col-number"><a href="[^"]+">([^<]+)</a>', html)
