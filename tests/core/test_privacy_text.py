"""mask_text: the personal data inside free text (phones, identity numbers,
labelled names) is masked before Open311 publishes it; nothing else changes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shanzhi.core.privacy import mask_text

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(first17: str) -> str:
    """A GB 11643 number: 17 digits and the ISO 7064 MOD 11-2 check character."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


# ---------------------------------------------------------------- examples

@pytest.mark.parametrize(("text", "masked"), [
    ("联系电话13812345678，请尽快处理", "联系电话138****5678，请尽快处理"),
    ("手机 138-1234-5678", "手机 138****5678"),
    ("+86 138 1234 5678 打来", "+86 138****5678 打来"),
    ("座机0512-65123456", "座机0512-****3456"),
    ("(0512)65123456", "(0512)****3456"),
    ("电话：6512345", "电话：****2345"),
    ("身份证号32050819900101123X", "身份证号320508********123X"),
    ("身份证号320508900101123（旧证）", "身份证号320508*****1123（旧证）"),
    ("姓名：张三", "姓名：张*"),
    ("联系人:李四", "联系人:李*"),
    ("联系人 欧阳娜娜 反映", "联系人 欧*** 反映"),
    ("投诉人：王五、赵六", "投诉人：王*、赵*"),
    ("联系人张三电话13812345678", "联系人张*电话138****5678"),
    ("联系人: Zhang San", "联系人: Z********"),
])
def test_it_masks_the_personal_data_it_finds(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", [
    "狮山路88号东门口有暴露垃圾，约3平方米",
    "事件编号SJ2026112600000012已并入",   # an incident number is no identity number
    "坐标31.0151234567,120.0051234567",  # decimals are no phone number
    "2026年11月26日9时30分，约120米",
    "张先生反映路灯不亮",               # a name without a label is not found
    "",
])
def test_it_leaves_text_without_personal_data_unchanged(text):
    assert mask_text(text) == text


def test_masking_twice_is_masking_once():
    text = "姓名：张三，身份证32050819900101123X，手机13812345678，座机0512-65123456"
    assert mask_text(mask_text(text)) == mask_text(text)


# ---------------------------------------------------------------- properties

def mobile_spelling(number: str, style: str) -> str:
    return {"plain": number, "dashes": f"{number[:3]}-{number[3:7]}-{number[7:]}",
            "spaces": f"{number[:3]} {number[3:7]} {number[7:]}", "+86": f"+86 {number}"}[style]


mobiles = st.builds(lambda head, rest: f"1{head}{rest}", st.sampled_from("3456789"),
                    st.text("0123456789", min_size=9, max_size=9))
landlines = st.tuples(st.text("0123456789", min_size=2, max_size=3),
                      st.text("0123456789", min_size=7, max_size=8), st.booleans())
#: (as written, the digits that must not survive)
pii_numbers = st.one_of(
    st.builds(lambda number, style: (mobile_spelling(number, style), number), mobiles,
              st.sampled_from(["plain", "dashes", "spaces", "+86"])),
    landlines.map(lambda t: (f"0{t[0]}{'-' if t[2] else ''}{t[1]}", f"0{t[0]}{t[1]}")),
    st.text("0123456789", min_size=17, max_size=17).map(
        lambda first17: (with_check_digit(first17), first17)),
    st.text("0123456789", min_size=15, max_size=15).map(lambda old: (old, old)))
#: Words and short numbers: never a phone, an identity number or a label.
words = st.one_of(
    st.sampled_from(["路边", "有", "暴露垃圾", "井盖", "缺失", "狮山路", "号", "东门", "约",
                     "平方米", "Lane", "street", "张先生", "反映", "路灯", "不亮", "SJ",
                     "已处理", "😀", "&", "<b>", "\u3000"]),
    st.integers(0, 999_999).map(str))
joiners = st.sampled_from(["，", "。", "、", "：", "（", "）", "在", "!", "\n"])


def number_runs(text: str) -> list[str]:
    """Every run of digits, also with spaces, dashes, brackets or a + inside it."""
    return [re.sub(r"\D", "", run) for run in re.findall(r"\d(?:[-\s+()]*\d)*", text)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.one_of(words.map(lambda w: (w, None)), pii_numbers), joiners),
                min_size=1, max_size=12))
def test_no_phone_or_identity_number_of_the_input_survives(parts):
    text = "".join(written + joiner for (written, _secret), joiner in parts)
    masked = mask_text(text)
    for (_written, secret), _joiner in parts:
        if secret is not None:
            assert not any(secret in run for run in number_runs(masked)), (text, masked)
    assert mask_text(masked) == masked


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(words, joiners), max_size=15))
def test_text_without_personal_data_is_unchanged(parts):
    text = "".join(word + joiner for word, joiner in parts)
    assert mask_text(text) == text


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_masking_is_idempotent_on_any_text(text):
    once = mask_text(text)
    assert mask_text(once) == once


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["姓名：", "联系人:", "联系人", "投诉人 ", "当事人："]),
       st.text("张王李赵欧阳娜三四五明华", min_size=2, max_size=4),
       st.sampled_from(["，", "。", "、", "！", " ", "\n", ""]))
def test_a_labelled_name_keeps_only_its_first_character(label, name, end):
    masked = mask_text(f"{label}{name}{end}")
    assert masked == f"{label}{name[0]}{'*' * (len(name) - 1)}{end}"
