"""The mediation agreement (人民调解协议书) PDF: rendered from plain data and read
back with poppler's pdftotext, so what is checked is what a reader sees."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from datetime import date

import pytest

from shanzhi.mediation.agreement import (
    JUDICIAL_CONFIRMATION,
    AgreementDoc,
    PartyLine,
    render_agreement,
)

INSTALL_HINT = "run scripts/install-browser.sh (it installs poppler-utils and poppler-data)"

APPLICANT = PartyLine(
    role="party_a",
    name="张秀英",
    kind="person",
    id_masked="320508********1234",
    phone_masked="138****5678",
    address="苏州市姑苏区平江路18号",
)
RESPONDENT = PartyLine(
    role="被申请人",
    name="苏州平江物业管理有限公司",
    kind="organisation",
    id_masked="91320508MA1W2X3Y4Q",
    phone_masked="0512-6***1234",
    address="苏州市姑苏区干将东路100号",
)
TERMS = (
    "被申请人于2026年12月10日前修复申请人住宅卫生间顶部渗漏。",
    "被申请人一次性补偿申请人装修损失人民币叁仟元整。",
    "申请人放弃其他请求，双方就本纠纷再无其他争议。",
)


def agreement(**changes) -> AgreementDoc:
    doc = AgreementDoc(
        number="TJ20261202000012",
        centre="姑苏区矛盾纠纷调处化解中心",
        parties=[APPLICANT, RESPONDENT],
        dispute_type="物业纠纷",
        facts="申请人住宅楼上管道渗漏，申请人多次要求物业维修未果。\n双方就维修期限和损失补偿发生争议。",
        terms=list(TERMS),
        performance="被申请人于2026年12月10日前以银行转账方式一次性支付。",
        signed_on=date(2026, 12, 2),
        place="平江街道人民调解室",
        mediators=["王建国", "李娟"],
    )
    return replace(doc, **changes)


def run_poppler(tool: str, *args: str, pdf: bytes) -> str:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is missing: {INSTALL_HINT}")
    result = subprocess.run([tool, *args], input=pdf, capture_output=True, check=True, timeout=60)
    if b"Missing language pack" in result.stderr:
        pytest.fail(f"poppler cannot read the Chinese font (no poppler-data): {INSTALL_HINT}")
    return result.stdout.decode()


def pdf_text(pdf: bytes) -> str:
    return run_poppler("pdftotext", "-layout", "-", "-", pdf=pdf)


def compact(text: str) -> str:
    """Without white space: wrapping must not decide whether a sentence is found."""
    return re.sub(r"\s+", "", text)


def pdf_info(pdf: bytes, tmp_path) -> str:
    path = tmp_path / "agreement.pdf"
    path.write_bytes(pdf)
    return run_poppler("pdfinfo", str(path), pdf=b"")


def test_it_prints_the_title_number_centre_and_dispute_type():
    text = compact(pdf_text(render_agreement(agreement())))

    assert "人民调解协议书" in text
    assert "编号：TJ20261202000012" in text
    assert "调解组织：姑苏区矛盾纠纷调处化解中心" in text
    assert "纠纷类型：物业纠纷" in text
    assert "调解地点：平江街道人民调解室" in text


def test_it_prints_every_party_with_the_role_in_words():
    text = compact(pdf_text(render_agreement(agreement())))

    assert "申请人：张秀英" in text
    assert "被申请人：苏州平江物业管理有限公司" in text
    assert "party_a" not in text
    assert "苏州市姑苏区平江路18号" in text


def test_it_numbers_every_clause_in_chinese_under_the_agreement_heading():
    text = compact(pdf_text(render_agreement(agreement())))

    heading = text.index("经调解，自愿达成如下协议：")
    for number, term in zip(("一", "二", "三"), TERMS, strict=True):
        assert text.index(f"{number}、{compact(term)}") > heading
    assert "纠纷主要事实、争议事项" in text
    assert "双方就维修期限和损失补偿发生争议。" in text
    assert "履行方式、时限" in text
    assert "以银行转账方式一次性支付" in text


def test_it_ends_with_the_signature_block_and_the_date_in_chinese_form():
    text = compact(pdf_text(render_agreement(agreement())))

    assert text.count("当事人（签名盖章或按指印）") == 2
    assert text.count("调解员（签名）") == 2
    assert "王建国" in text and "李娟" in text
    assert "人民调解委员会（印）" in text
    assert "2026年12月2日" in text
    assert text.index("人民调解委员会（印）") > text.index("当事人（签名盖章或按指印）")


def test_it_keeps_one_copy_for_each_party_and_one_for_the_committee():
    two = compact(pdf_text(render_agreement(agreement())))
    third = PartyLine(role="party_b", name="陈志强", kind="person", id_masked="3205**********0011")
    three_parties = agreement(parties=[APPLICANT, RESPONDENT, third])
    three = compact(pdf_text(render_agreement(three_parties)))

    assert "本协议一式三份，当事人、人民调解委员会各持一份" in two
    assert "本协议一式四份，当事人、人民调解委员会各持一份" in three
    assert three.count("当事人（签名盖章或按指印）") == 3


def test_it_states_the_judicial_confirmation_only_when_the_parties_ask_for_it():
    asked = compact(pdf_text(render_agreement(agreement(judicial_confirmation=True))))
    not_asked = compact(pdf_text(render_agreement(agreement(judicial_confirmation=False))))

    sentence = "双方当事人约定自本协议生效之日起三十日内共同向人民法院申请司法确认"
    assert sentence in JUDICIAL_CONFIRMATION
    assert sentence in asked
    assert "司法确认" not in not_asked


def test_it_says_so_when_only_part_of_the_dispute_was_agreed():
    partial = compact(pdf_text(render_agreement(agreement(outcome="partial"))))
    full = compact(pdf_text(render_agreement(agreement(outcome="agreement"))))

    assert "（部分达成协议）" in partial
    assert "经调解，当事人就部分争议事项自愿达成如下协议，其余争议事项未达成协议：" in partial
    assert "部分" not in full
    assert "经调解，自愿达成如下协议：" in full


def test_long_facts_run_onto_further_pages_and_nothing_is_lost():
    sentences = [
        f"第{i}项事实：申请人陈述双方自二〇二五年起因相邻通行发生多次争执。" for i in range(1, 101)
    ]
    facts = "\n".join(sentences) + "\n以上事实经双方当事人确认无误。"
    assert len(facts) > 3000

    raw = pdf_text(render_agreement(agreement(facts=facts)))

    pages = raw.count("\f")
    assert pages >= 2
    for page in range(1, pages + 1):
        assert re.search(rf"第\s*{page}\s*页\s*共\s*{pages}\s*页", raw), page
    # Without the page footers the facts read through from the first sentence
    # to the marker at the end, in order, none lost and none repeated.
    body = re.sub(r"第\d+页共\d+页", "", compact(raw))
    assert compact(facts) in body
    assert body.count("项事实：") == 100
    assert "以上事实经双方当事人确认无误。" in body


def test_a_one_page_agreement_carries_no_page_numbers():
    short = agreement(parties=[APPLICANT], mediators=["王建国"], place="", terms=TERMS[:1])

    raw = pdf_text(render_agreement(short))

    assert raw.count("\f") == 1
    assert not re.search(r"第\s*\d+\s*页", raw)


def test_masked_ids_and_phones_are_printed_exactly_as_given():
    text = compact(pdf_text(render_agreement(agreement())))

    assert "公民身份号码：320508********1234" in text
    assert "联系电话：138****5678" in text
    assert "统一社会信用代码：91320508MA1W2X3Y4Q" in text
    assert "联系电话：0512-6***1234" in text


def test_it_refuses_a_person_whose_identity_number_is_not_masked():
    with pytest.raises(ValueError, match="identity number of 张秀英 is not masked"):
        replace(APPLICANT, id_masked="320508199001011234")
    with pytest.raises(ValueError, match="phone number of 张秀英 is not masked"):
        replace(APPLICANT, phone_masked="13812345678")


def test_markup_characters_in_free_text_are_printed_literally():
    text = compact(pdf_text(render_agreement(agreement(facts="楼上<302室>漏水 & 物业未处理"))))

    assert "楼上<302室>漏水&物业未处理" in text


def test_the_pdf_is_a4_and_titled_with_the_agreement_number(tmp_path):
    info = pdf_info(render_agreement(agreement()), tmp_path)

    assert re.search(r"^Title:\s+人民调解协议书 TJ20261202000012$", info, re.MULTILINE)
    assert "(A4)" in info


def test_it_refuses_an_agreement_without_parties():
    with pytest.raises(ValueError, match="at least one party"):
        render_agreement(agreement(parties=[]))


def test_it_refuses_an_agreement_without_terms():
    with pytest.raises(ValueError, match="at least one term"):
        render_agreement(agreement(terms=[]))
    with pytest.raises(ValueError, match="term of the agreement is blank"):
        agreement(terms=["修复渗漏。", "  "])


def test_it_refuses_an_unknown_outcome_role_or_kind():
    with pytest.raises(ValueError, match="outcome must be one of"):
        agreement(outcome="failed")
    with pytest.raises(ValueError, match="party role must be one of"):
        replace(APPLICANT, role="witness")
    with pytest.raises(ValueError, match="party kind must be one of"):
        replace(APPLICANT, kind="company")
