"""core.memo: a per-process memo rebuilt when its revision moves on — at once
in the process that bumps it, within ``ttl`` in every other process."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import F

from shanzhi.core import memo as memo_module
from shanzhi.core.memo import Memo, bump, reset_all, revision_stamp
from shanzhi.core.models import Revision

pytestmark = pytest.mark.django_db


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.seconds = 100.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def counting(clock):
    built = []

    def build():
        built.append(len(built) + 1)
        return {"build": len(built)}

    memo = Memo(build, stamp=revision_stamp("test-memo"), ttl=5, revision="test-memo",
                clock=clock)
    yield memo, built
    memo.reset()


def test_the_value_is_built_once_and_kept(counting):
    memo, built = counting
    assert memo.get() is memo.get()
    assert built == [1]


def test_a_bump_in_this_process_rebuilds_at_once(counting):
    memo, _built = counting
    memo.get()
    bump("test-memo")
    assert memo.get() == {"build": 2}
    assert Revision.objects.get(name="test-memo").number == 1


def test_another_process_bump_is_seen_once_the_ttl_has_passed(counting, clock):
    memo, _built = counting
    memo.get()
    # another process: the row moves on, this process's memos are not told
    Revision.objects.create(name="test-memo", number=7)
    clock.seconds += 4.9
    assert memo.get() == {"build": 1}  # within the ttl: what it has
    clock.seconds += 0.1
    assert memo.get() == {"build": 2}
    clock.seconds += 60
    assert memo.get() == {"build": 2}  # same stamp: not built again


def test_within_the_ttl_the_stamp_is_not_even_looked_at(counting, clock,
                                                        django_assert_num_queries):
    memo, _built = counting
    memo.get()
    with django_assert_num_queries(0):
        clock.seconds += 4.9
        memo.get()
    with django_assert_num_queries(1):  # the stamp
        clock.seconds += 0.1
        memo.get()


def test_memos_read_the_module_clock_unless_given_their_own(monkeypatch):
    stamps = []
    memo = Memo(dict, stamp=lambda: stamps.append(1), ttl=5)
    monkeypatch.setattr(memo_module, "clock", lambda: 7.0)
    memo.get()
    memo.get()
    assert len(stamps) == 1  # a stopped clock: however slow the caller, never looked again
    monkeypatch.setattr(memo_module, "clock", lambda: 12.0)
    memo.get()
    assert len(stamps) == 2
    memo_module._memos.remove(memo)


def test_a_bump_other_than_the_memos_revision_leaves_it_alone(counting):
    memo, built = counting
    memo.get()
    bump("something-else")
    memo.get()
    assert built == [1]


@pytest.mark.django_db(transaction=True)
def test_a_bump_rolled_back_is_undone_for_others_at_the_next_look(counting, clock):
    memo, _built = counting
    memo.get()
    with pytest.raises(RuntimeError), transaction.atomic():
        bump("test-memo")
        memo.get()  # rebuilt inside the transaction: it sees its own change
        raise RuntimeError
    clock.seconds += 5
    assert memo.get() == {"build": 3}  # the stamp went back: built again
    Revision.objects.filter(name="test-memo").update(number=F("number"))
    reset_all("test-memo")
    assert memo.get() == {"build": 4}
