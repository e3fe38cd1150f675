"""The mediation agreement (人民调解协议书) as a PDF.

A pure renderer: it takes plain data (``AgreementDoc``), never a model, and
returns the bytes of an A4 PDF laid out in the usual Chinese form. The caller
masks personal identity numbers and phone numbers before they get here; the
renderer refuses an unmasked one rather than print it.

The document is a Chinese legal form, so its fixed wording is Chinese and is
not run through gettext (a translated agreement would not be the agreement).
Font, styles, title and page numbers are ``core.pdf``'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import KeepTogether, Paragraph, Spacer, Table, TableStyle

from shanzhi.core import pdf

TITLE = "人民调解协议书"

APPLICANT = "申请人"
RESPONDENT = "被申请人"
#: Role codes a caller may pass instead of the Chinese words.
ROLE_WORDS = {"party_a": APPLICANT, "party_b": RESPONDENT, APPLICANT: APPLICANT,
              RESPONDENT: RESPONDENT}

PERSON = "person"
ORGANISATION = "organisation"
KINDS = (PERSON, ORGANISATION)

AGREEMENT = "agreement"  # 达成协议
PARTIAL = "partial"  # 部分达成协议
OUTCOMES = (AGREEMENT, PARTIAL)

JUDICIAL_CONFIRMATION = ("双方当事人约定自本协议生效之日起三十日内共同向人民法院申请司法确认。")

# An identity number (18 or 15 characters) or a mainland mobile number with
# nothing masked: the caller forgot to mask it.
_FULL_ID = re.compile(r"\d{17}[\dXx]|\d{15}")
_FULL_MOBILE = re.compile(r"(?:\+?86[- ]?)?1\d{10}")

@dataclass(frozen=True)
class PartyLine:
    """One party to the dispute, as printed: ``id_masked`` is the credit code
    (统一社会信用代码) of an organisation, shown as is, or a person's identity
    number already masked by the caller."""

    role: str  # 申请人 / 被申请人, or the codes party_a / party_b
    name: str
    kind: str = PERSON  # person / organisation
    id_masked: str = ""
    phone_masked: str = ""
    address: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLE_WORDS:
            raise ValueError(f"party role must be one of {sorted(ROLE_WORDS)}, not {self.role!r}")
        if self.kind not in KINDS:
            raise ValueError(f"party kind must be one of {KINDS}, not {self.kind!r}")
        if not self.name.strip():
            raise ValueError("every party needs a name")
        if self.kind == PERSON and _FULL_ID.fullmatch(self.id_masked.strip()):
            raise ValueError(f"the identity number of {self.name} is not masked")
        if _FULL_MOBILE.fullmatch(self.phone_masked.strip()):
            raise ValueError(f"the phone number of {self.name} is not masked")

    @property
    def role_word(self) -> str:
        return ROLE_WORDS[self.role]


@dataclass(frozen=True)
class AgreementDoc:
    """Everything printed on one mediation agreement."""

    number: str  # 协议编号, e.g. TJ20261202000012
    centre: str  # 调解组织, e.g. 姑苏区矛盾纠纷调处化解中心
    parties: Sequence[PartyLine]
    dispute_type: str  # the dispute type's Chinese label
    facts: str  # 纠纷主要事实、争议事项 (paragraphs separated by newlines)
    terms: Sequence[str]  # the clauses, in order, without their numbers
    performance: str  # 履行方式、时限
    signed_on: date
    place: str = ""
    mediators: Sequence[str] = field(default_factory=tuple)
    outcome: str = AGREEMENT  # agreement / partial
    judicial_confirmation: bool = False

    def __post_init__(self) -> None:
        # Freeze the sequences too, so a document cannot change after the check.
        object.__setattr__(self, "parties", tuple(self.parties))
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "mediators", tuple(self.mediators))
        if not self.number.strip():
            raise ValueError("the agreement needs a number (协议编号)")
        if not self.parties:
            raise ValueError("the agreement needs at least one party (当事人)")
        if not self.terms:
            raise ValueError("the agreement needs at least one term (协议条款)")
        if any(not term.strip() for term in self.terms):
            raise ValueError("a term of the agreement is blank")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")

    @property
    def copies(self) -> int:
        """One copy for each party and one for the mediation committee."""
        return len(self.parties) + 1


def render_agreement(doc: AgreementDoc) -> bytes:
    """The agreement as the bytes of an A4 PDF."""
    return pdf.render(_story(doc), title=f"{TITLE} {doc.number}", author=doc.centre,
                      subject=TITLE)


def _party_markup(party: PartyLine) -> str:
    parts = [f"{party.role_word}：{escape(party.name)}"]
    if party.id_masked.strip():
        label = "统一社会信用代码" if party.kind == ORGANISATION else "公民身份号码"
        parts.append(f"{label}：{escape(party.id_masked.strip())}")
    if party.phone_masked.strip():
        parts.append(f"联系电话：{escape(party.phone_masked.strip())}")
    if party.address.strip():
        label = "住所" if party.kind == ORGANISATION else "住址"
        parts.append(f"{label}：{escape(party.address.strip())}")
    return "，".join(parts) + "。"


def _story(doc: AgreementDoc) -> list[Any]:
    s = pdf.styles()
    partial = doc.outcome == PARTIAL
    story: list[Any] = [
        Paragraph(f"编号：{escape(doc.number)}", s["number"]),
        Spacer(1, 6),
        pdf.Title(TITLE, size=22),
    ]
    if partial:
        story.append(Paragraph("（部分达成协议）", s["subtitle"]))
    story += [
        Spacer(1, 10),
        Paragraph(f"调解组织：{escape(doc.centre)}", s["body"]),
        Paragraph(f"纠纷类型：{escape(doc.dispute_type)}", s["body"]),
    ]
    if doc.place.strip():
        story.append(Paragraph(f"调解地点：{escape(doc.place)}", s["body"]))
    if doc.mediators:
        story.append(Paragraph(f"调解员：{escape('、'.join(doc.mediators))}", s["body"]))

    story.append(Paragraph("当事人", s["heading"]))
    story += [Paragraph(_party_markup(party), s["text"]) for party in doc.parties]

    story.append(Paragraph("纠纷主要事实、争议事项", s["heading"]))
    story += pdf.paragraphs(doc.facts, s["text"])

    if partial:
        story.append(Paragraph("经调解，当事人就部分争议事项自愿达成如下协议，"
                               "其余争议事项未达成协议：", s["heading"]))
    else:
        story.append(Paragraph("经调解，自愿达成如下协议：", s["heading"]))
    story += [
        Paragraph(f"{pdf.chinese_number(i)}、{pdf.markup(term)}", s["clause"])
        for i, term in enumerate(doc.terms, start=1)
    ]

    story.append(Paragraph("履行方式、时限", s["heading"]))
    story += pdf.paragraphs(doc.performance, s["text"])

    story.append(Spacer(1, 8))
    if doc.judicial_confirmation:
        story.append(Paragraph(JUDICIAL_CONFIRMATION, s["text"]))
    story += [
        Paragraph("本协议自各方当事人签名盖章或按指印，人民调解员签名并加盖人民调解委员会印章之日起"
                  "生效。", s["text"]),
        Paragraph(f"本协议一式{pdf.chinese_number(doc.copies)}份，当事人、人民调解委员会各持一份。",
                  s["text"]),
        Spacer(1, 10),
        KeepTogether(_signatures(doc, s)),
    ]
    return story


def _signatures(doc: AgreementDoc, s: dict[str, ParagraphStyle]) -> list[Any]:
    """The signature block: a signing line per party and per mediator, the
    committee's seal and the date, kept together on one page."""
    rows: list[list[Any]] = []
    for party in doc.parties:
        rows.append([
            Paragraph(f"当事人（签名盖章或按指印）：<br/><font size=10>{party.role_word}"
                      f" {escape(party.name)}</font>", s["body"]),
            "",
        ])
    for name in doc.mediators or ("",):
        caption = f"<br/><font size=10>{escape(name)}</font>" if name else ""
        rows.append([Paragraph(f"调解员（签名）：{caption}", s["body"]), ""])
    table = Table(rows, colWidths=[6.4 * cm, min(6 * cm, pdf.WIDTH - 6.4 * cm)], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
        ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
        ("TOPPADDING", (0, 0), (-1, -1), 10),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return [
        table,
        Spacer(1, 16),
        Paragraph("人民调解委员会（印）", s["right"]),
        Paragraph(escape(doc.centre), s["right"]),
        Spacer(1, 8),
        Paragraph(pdf.chinese_date(doc.signed_on), s["right"]),
    ]
