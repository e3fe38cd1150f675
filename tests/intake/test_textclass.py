"""The category classifier: training with its cross-validated report, the
versioned store, suggestions with probabilities, and its clear refusals.
Every model lives in the test's own INTAKE_MODEL_DIR (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shanzhi.core import memo
from shanzhi.core.errors import ValidationError
from shanzhi.intake import textclass

NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)

#: hand-written reports of three categories, six each
CORPUS = {
    "garbage": ["路边垃圾桶满溢，垃圾散落一地", "有人乱倒生活垃圾，气味很大", "绿化带内堆有垃圾袋",
                "小区门口的垃圾好几天没人清运", "垃圾房周围垃圾堆积发臭", "河边有人倾倒建筑垃圾"],
    "parking": ["机动车长期占用人行道停放", "车辆堵住小区消防通道", "路口违停影响通行",
                "货车停在盲道上不走", "汽车乱停把公交站台堵了", "夜里有车停在消防通道上"],
    "noise": ["广场舞音响声音过大", "商铺外放音乐扰民", "夜间KTV噪声扰民",
              "楼上装修电钻声音太吵", "酒吧半夜音乐声很大", "工地夜间施工噪声扰民"],
}


def corpus() -> tuple[list[str], list[str]]:
    texts = [t for rows in CORPUS.values() for t in rows]
    labels = [label for label, rows in CORPUS.items() for _ in rows]
    return texts, labels


@pytest.fixture
def trained():
    texts, labels = corpus()
    return textclass.train(texts, labels, model="test", source="hand-written", now=NOW)


def test_it_reports_cross_validated_figures_per_class(trained):
    assert trained["name"] == "test" and trained["version"] == 1
    assert trained["rows"] == 18
    assert trained["classes"] == {"garbage": 6, "noise": 6, "parking": 6}
    assert trained["folds"] == 5 and trained["seed"] == textclass.SEED
    assert trained["trained_at"] == NOW.isoformat()
    assert trained["source"] == "hand-written"
    for figure in ("accuracy", "macro_f1", "top3_accuracy"):
        assert 0.0 <= trained[figure] <= 1.0
    assert trained["top3_accuracy"] == 1.0  # three classes: the truth is always among them
    assert set(trained["per_class"]) == {"garbage", "noise", "parking"}
    assert sum(row["support"] for row in trained["per_class"].values()) == 18
    assert {"scikit-learn", "jieba", "python"} <= set(trained["libraries"])
    assert "chars" in trained["features"] and "words" in trained["features"]
    assert trained["duration_s"] >= 0


def test_it_suggests_the_right_category_first_with_probabilities(trained):
    suggestions = textclass.suggest("小区门口违停车辆占用消防通道", model="test")
    assert suggestions[0].label == "parking"
    assert len(suggestions) == 3
    assert {s.label for s in suggestions} == {"garbage", "noise", "parking"}
    assert suggestions[0].confidence >= suggestions[1].confidence >= suggestions[2].confidence
    assert sum(s.confidence for s in suggestions) == pytest.approx(1.0, abs=1e-3)
    assert textclass.suggest("楼下饭店深夜放音乐，噪声扰民", model="test")[0].label == "noise"


def test_it_gives_k_suggestions(trained):
    assert len(textclass.suggest("垃圾没人清运", model="test", k=1)) == 1
    assert textclass.suggest("垃圾没人清运", model="test", k=1)[0].label == "garbage"


def test_it_suggests_nothing_for_a_blank_text_or_an_untrained_model(trained):
    assert textclass.suggest("   ", model="test") == []
    assert textclass.suggest("路边垃圾", model="never-trained") == []
    assert textclass.model_info("never-trained") is None


def test_classify_answers_each_text_and_nothing_for_a_blank_one(trained):
    answers = textclass.classify(["河边垃圾堆积", "", "半夜唱歌太吵"], model="test", k=2)
    assert [len(a) for a in answers] == [2, 0, 2]
    assert answers[0][0].label == "garbage" and answers[2][0].label == "noise"


def test_preload_loads_the_model_in_the_background(trained, monkeypatch):
    monkeypatch.setattr(memo, "clock", lambda: 1000.0)  # no recheck in between
    textclass.preload("test").join(timeout=60)

    def not_again(model):
        raise AssertionError("the model was loaded again")

    monkeypatch.setattr(textclass, "_load", not_again)
    assert textclass.suggest("路边垃圾", model="test")[0].label == "garbage"


def test_classify_refuses_a_model_never_trained():
    with pytest.raises(ValidationError, match="no model named ghost"):
        textclass.classify(["x"], model="ghost")


def test_each_training_stores_a_new_version_with_its_report(trained, settings):
    texts, labels = corpus()
    second = textclass.train(texts, labels, model="test", now=NOW + dt.timedelta(days=1))
    assert second["version"] == 2
    folder = settings.INTAKE_MODEL_DIR / "test"
    assert (folder / "current").read_text().strip() == "2"
    assert sorted(p.name for p in folder.glob("v*")) == [
        "v0001.joblib", "v0001.json", "v0002.joblib", "v0002.json"]
    assert json.loads((folder / "v0001.json").read_text("utf-8"))["trained_at"] == NOW.isoformat()
    assert textclass.model_info("test")["version"] == 2
    assert not list(folder.glob(".v*")), "no temporary file is left behind"


def test_a_version_trained_by_another_process_is_picked_up(trained, monkeypatch):
    """The web processes learn of the worker's new version within RECHECK_S."""
    clock = [1000.0]
    monkeypatch.setattr(memo, "clock", lambda: clock[0])
    assert textclass.suggest("路边垃圾", model="test")[0].label == "garbage"
    # another process trains a model that calls everything about rubbish "noise"
    monkeypatch.setattr(textclass, "_forget", lambda model: None)
    texts, labels = corpus()
    flipped = ["noise" if label == "garbage" else "garbage" if label == "noise" else label
               for label in labels]
    textclass.train(texts, flipped, model="test")
    assert textclass.suggest("路边垃圾", model="test")[0].label == "garbage"  # still loaded
    clock[0] += textclass.RECHECK_S + 1
    assert textclass.suggest("路边垃圾", model="test")[0].label == "noise"


def test_two_classes_and_a_class_of_two_rows_train(settings):
    """The smallest case allowed: cross-validation uses as many folds as the
    smallest class has rows, and probabilities still sum to one."""
    report = textclass.train(["垃圾满了", "垃圾没清", "违停车辆", "车辆乱停", "车堵住路口"],
                             ["g", "g", "p", "p", "p"], model="tiny")
    assert report["folds"] == 2
    answer = textclass.suggest("垃圾", model="tiny", k=5)
    assert len(answer) == 2
    assert sum(s.confidence for s in answer) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(("texts", "labels", "message"), [
    ([], [], "no rows to learn from"),
    (["a", "b"], ["x"], "2 texts but 1 labels"),
    (["垃圾", "垃圾多", "噪声"], ["g", "g", "g"], "same label"),
    (["垃圾", "垃圾多", "噪声"], ["g", "g", "n"], "only one row has the label n"),
])
def test_it_refuses_rows_it_cannot_learn_from(texts, labels, message):
    with pytest.raises(ValidationError, match=message):
        textclass.train(texts, labels, model="bad")
    assert textclass.model_info("bad") is None


def test_it_names_the_blank_rows():
    with pytest.raises(textclass.RowProblems) as caught:
        textclass.train(["垃圾", " ", "噪声", "噪声大"], ["g", "g", "", "n"], model="bad")
    assert caught.value.lines() == ["row 2: the text is blank", "row 3: the label is blank"]


@pytest.mark.parametrize("name", ["", "Incidents", "a/b", "../x", "x" * 41, "名字"])
def test_it_refuses_bad_model_names(name):
    with pytest.raises(ValidationError, match="model name"):
        textclass.model_info(name)


def test_age_is_measured_from_the_training_time(trained):
    assert textclass.age("test", now=NOW + dt.timedelta(hours=5)) == dt.timedelta(hours=5)
    assert textclass.age("never-trained", now=NOW) is None


def test_the_training_lock_lets_one_trainer_in():
    with textclass.training("test") as first, textclass.training("test") as second:
        assert first and not second
    with textclass.training("test") as again:
        assert again


# ---------------------------------------------------------------- the text as read

def test_normalise_folds_full_width_case_and_numbers():
    assert textclass.normalise("人民路１２３号  ABC\t门口") == "人民路0号 abc 门口"


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalise_is_stable_and_leaves_no_digit_but_zero(text):
    once = textclass.normalise(text)
    assert textclass.normalise(once) == once
    assert not any(c.isdigit() and c != "0" for c in once if c.isascii())
    assert once == once.strip()


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_every_text_prepares_into_grams_and_words(text):
    prepared = textclass.prepare(text)
    grams, words = textclass.char_grams(prepared), textclass.words(prepared)
    assert all(g and " " not in g and len(g) <= 2 for g in grams)
    assert all(w and not any(c.isspace() for c in w) for w in words)
    assert "".join(words) == textclass.normalise(text).replace(" ", "")
