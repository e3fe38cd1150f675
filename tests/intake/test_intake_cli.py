"""``shanzhi intake train|classify|info``: what an operator sees, and the
one clear line (exit code 1, nothing written) for each kind of bad file."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shanzhi.intake import textclass
from tests.intake.test_textclass import CORPUS


def write_csv(path, rows, header=("subject", "detail", "label"), encoding="utf-8"):
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def labelled(tmp_path):
    rows = [(text[:4], text[4:], label) for label, texts in CORPUS.items() for text in texts]
    return write_csv(tmp_path / "labelled.csv", rows)


def run(*args) -> str:
    out = io.StringIO()
    call_command("intake", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def fails(*args) -> str:
    with pytest.raises(CommandError) as caught:
        run(*args)
    assert caught.value.returncode == 1
    return str(caught.value)


def train_args(path, *more):
    return ("train", "--csv", str(path), "--text-col", "subject", "--text-col", "detail",
            "--label-col", "label", *more)


def test_train_prints_the_cross_validated_figures_per_class(labelled, settings):
    out = run(*train_args(labelled, "--model", "city"))
    assert "model city v1" in out and "18 rows, 3 classes" in out
    assert "5-fold stratified cross-validation" in out
    assert "accuracy" in out and "macro-F1" in out
    for label in CORPUS:
        assert label in out
    assert (settings.INTAKE_MODEL_DIR / "city" / "v0001.joblib").exists()
    assert "labelled.csv: text subject+detail, label label" in \
        textclass.model_info("city")["source"]


def test_train_defaults_to_the_city_incident_model(labelled):
    run(*train_args(labelled))
    assert textclass.model_info(textclass.DEFAULT_MODEL)["version"] == 1


def test_classify_appends_the_prediction_and_two_candidates(labelled, tmp_path):
    run(*train_args(labelled, "--model", "city"))
    source = write_csv(tmp_path / "new.csv", header=("id", "text"),
                       rows=[("3", "小区门口垃圾堆积发臭"), ("4", "半夜KTV唱歌太吵")])
    out = run("classify", "--csv", str(source), "--text-col", "text", "--model", "city",
              "--out", str(tmp_path / "out.csv"))
    assert "2 rows classified by city v1" in out
    with (tmp_path / "out.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "text", *textclass.APPENDED]
    assert [r["predicted"] for r in rows] == ["garbage", "noise"]
    assert rows[0]["id"] == "3"
    for row in rows:
        assert 0 < float(row["confidence"]) <= 1
        assert float(row["confidence"]) >= float(row["confidence_2"]) >= float(row["confidence_3"])
        assert {row["predicted"], row["candidate_2"], row["candidate_3"]} == set(CORPUS)


def test_info_shows_the_current_report(labelled):
    run(*train_args(labelled, "--model", "city"))
    run(*train_args(labelled, "--model", "city"))
    assert "model city v2" in run("info", "--model", "city")
    assert "no model named other" in fails("info", "--model", "other")


# ---------------------------------------------------------------- bad files: one clear line

def test_an_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "the file is empty" in fails(*train_args(tmp_path / "empty.csv"))


def test_a_header_only(tmp_path):
    path = write_csv(tmp_path / "header.csv", [])
    assert "there are no rows under the header" in fails(*train_args(path))


def test_an_unknown_column_names_the_columns_there_are(labelled):
    message = fails("train", "--csv", str(labelled), "--text-col", "body", "--label-col", "label")
    assert "no column 'body' for --text-col; the columns are subject, detail, label" in message


def test_one_class_only(tmp_path):
    path = write_csv(tmp_path / "one.csv", [("垃圾", "满了", "g"), ("垃圾", "没清", "g")])
    assert "same label (g)" in fails(*train_args(path))


def test_a_class_with_one_row(tmp_path):
    path = write_csv(tmp_path / "lonely.csv", [("垃圾", "满了", "g"), ("垃圾", "没清", "g"),
                                               ("噪声", "很大", "n")])
    assert "only one row has the label n" in fails(*train_args(path))


def test_blank_rows_are_named_by_line_and_column(tmp_path, capsys):
    path = write_csv(tmp_path / "blank.csv", [("垃圾", "满了", "g"), ("", " ", "g"),
                                              ("噪声", "很大", ""), ("噪声", "大", "n")])
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 bad row"):
        call_command("intake", *train_args(path), stdout=io.StringIO(), stderr=err)
    assert f"{path}: line 3, column subject+detail: the text is blank" in err.getvalue()
    assert f"{path}: line 4, column label: the label is blank" in err.getvalue()
    assert textclass.model_info() is None


def test_a_file_not_in_utf8_says_where_and_offers_gb18030(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("subject,detail,label\n垃圾,满了,g\n".encode("gb18030"))
    message = fails(*train_args(path))
    assert "not UTF-8 at byte 21 (line 2)" in message and "--encoding (e.g. gb18030)" in message


def test_gb18030_is_read_when_named(tmp_path):
    rows = [(text[:4], text[4:], label) for label, texts in CORPUS.items() for text in texts]
    path = write_csv(tmp_path / "gbk.csv", rows, encoding="gb18030")
    assert "model incidents v1" in run(*train_args(path, "--encoding", "gb18030"))


def test_a_missing_file(tmp_path):
    assert "no such file" in fails(*train_args(tmp_path / "nowhere.csv"))


def test_train_needs_a_source(labelled):
    assert "--csv is required (or --from-incidents)" in fails("train", "--text-col", "x",
                                                             "--label-col", "y")
    assert "--from-incidents takes no --csv" in fails(*train_args(labelled), "--from-incidents")


def test_classify_an_unknown_model_writes_nothing(labelled, tmp_path):
    out = tmp_path / "out.csv"
    message = fails("classify", "--csv", str(labelled), "--text-col", "subject",
                    "--model", "ghost", "--out", str(out))
    assert "no model named ghost" in message
    assert not out.exists()


def test_classify_a_missing_column_or_a_blank_text_writes_nothing(labelled, tmp_path):
    run(*train_args(labelled, "--model", "city"))
    out = tmp_path / "out.csv"
    assert "no column 'body'" in fails("classify", "--csv", str(labelled), "--text-col", "body",
                                       "--model", "city", "--out", str(out))
    source = write_csv(tmp_path / "blank.csv", [("1", "垃圾"), ("2", "  ")], header=("id", "text"))
    assert "1 bad row" in fails("classify", "--csv", str(source), "--text-col", "text",
                                "--model", "city", "--out", str(out))
    assert not out.exists()


# ---------------------------------------------------------------- the reader, any text

cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
               max_size=30)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=8))
def test_the_reader_gives_back_what_was_written_or_names_the_blank_rows(tmp_path, rows):
    path = write_csv(tmp_path / "any.csv", rows)
    kept = [r for r in rows if any(c.strip() for c in r)]
    try:
        texts, labels = textclass.read_labelled_csv(path, text_cols=["subject", "detail"],
                                                    label_col="label")
    except textclass.RowProblems as exc:
        assert any(not (s.strip() or d.strip()) or not label.strip() for s, d, label in kept)
        assert all("line " in line for line in exc.lines())
        return
    except textclass.ValidationError as exc:
        assert not kept and "no rows under the header" in exc.message
        return
    assert labels == [label.strip() for _s, _d, label in kept]
    assert texts == ["\n".join(c.strip() for c in (s, d) if c.strip()) for s, d, _l in kept]
