"""``shanzhi geo locate --csv`` on a file that is not UTF-8: one clear line
naming the byte and the line, exit code 1, nothing written; ``--encoding``
reads a file saved as GB18030 by older Chinese Excel."""

from __future__ import annotations

import csv

import pytest
from django.core.management import CommandError, call_command

ROWS = "编号,地址,lng,lat\n1,西街1号,120.005,31.015\n2,东街2号,120.035,31.005\n"


def locate(source, target, *options):
    call_command("geo", "locate", "--csv", str(source), "--out", str(target), *options)
    with target.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_gb18030_file_is_one_clear_line_and_nothing_is_written(territory, tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(ROWS.encode("gb18030"))
    with pytest.raises(CommandError) as failure:
        locate(source, target)
    message = str(failure.value)
    assert message == (f"{source}: not UTF-8 at byte 0 (line 1); save the file as UTF-8, or "
                       "name its encoding with --encoding (e.g. gb18030)")
    assert failure.value.returncode == 1
    assert not target.exists()


def test_the_byte_and_line_of_the_first_bad_byte_are_named(territory, tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    good = "编号,lng,lat\n1,120.005,31.015\n"
    source.write_bytes(good.encode() + "2,西街".encode("gb18030") + b",120.005,31.015\n")
    with pytest.raises(CommandError, match=rf"at byte {len(good.encode()) + 2} \(line 3\)"):
        locate(source, target)


def test_encoding_gb18030_reads_the_file(territory, tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(ROWS.encode("gb18030"))
    rows = locate(source, target, "--encoding", "gb18030")
    assert [(r["地址"], r["grid_code"]) for r in rows] == [
        ("西街1号", "320505001001001"), ("东街2号", "320506001001004")]


def test_an_unknown_encoding_is_one_clear_line(territory, tmp_path):
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(ROWS, encoding="utf-8")
    with pytest.raises(CommandError, match="unknown encoding 'klingon'"):
        locate(source, target, "--encoding", "klingon")

