"""The Chinese catalogue is complete and its compiled .mo matches the .po."""

import gettext
import re
from pathlib import Path

LOCALE = Path(__file__).resolve().parents[2] / "src/shanzhi/locale/zh_Hans/LC_MESSAGES"


def _join(chunk: str) -> str:
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', chunk)).replace('\\"', '"')


def po_entries() -> dict[tuple[str | None, str], str]:
    """(context, msgid) → msgstr; the context is None for most messages."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    entries = {}
    for block in text.split("\n\n"):
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        msgstr = re.search(r'^msgstr(?:\[0\])? ((?:".*"\n?)+)', block, re.M)
        if not msgid or not msgstr:
            continue
        context = re.search(r'^msgctxt ((?:".*"\n?)+)', block, re.M)
        key = (_join(context.group(1)) if context else None, _join(msgid.group(1)))
        entries[key] = _join(msgstr.group(1))
    entries.pop((None, ""), None)
    return entries


def test_every_message_has_a_chinese_translation():
    missing = [msgid for msgid, msgstr in po_entries().items() if not msgstr]
    assert missing == []


def test_no_translation_is_left_fuzzy():
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in text.split("\n\n", 1)[1]


def test_the_compiled_catalogue_matches_the_po_file():
    with open(LOCALE / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for (context, msgid), msgstr in po_entries().items():
        found = compiled.pgettext(context, msgid) if context else compiled.gettext(msgid)
        assert found == msgstr, (context, msgid)
