"""The Chinese catalogue is complete and its compiled .mo matches the .po."""

import gettext
import re
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[2] / "src/shanzhi/locale/zh_Hans/LC_MESSAGES"


def po_entries() -> dict[str, str]:
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = {}
    for block in text.split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if not msgid or not msgstr:
            continue

        def join(chunk: str) -> str:
            return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', chunk)).replace('\\"', '"')

        entries[join(msgid.group(1))] = join(msgstr.group(1))
    entries.pop("", None)
    return entries


def test_every_message_has_a_chinese_translation():
    missing = [msgid for msgid, msgstr in po_entries().items() if not msgstr]
    assert missing == []


def test_the_compiled_catalogue_matches_the_po_file():
    with open(LOCALE / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for msgid, msgstr in po_entries().items():
        assert compiled.gettext(msgid) == msgstr, msgid
