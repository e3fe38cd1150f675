"""Who works where — the active operators of each linkage centre, the active
members of each department and the grids of each grid worker — kept in
memory per process (``core.memo``): every action notifies them, every grid
worker's request is scoped by their grids. Any save or delete of a user or a
grid worker, or a change of a worker's grids, through the ORM moves the
``staff`` revision on, except a log-in's ``last_login``; a bulk write must
call :func:`changed` itself."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models.signals import m2m_changed, post_delete, post_save

from shanzhi.core.memo import Memo, bump, revision_stamp

from .models import GridWorker, Role, User

REVISION = "staff"
#: Other processes see a change within this many seconds.
TTL = 5.0


@dataclass(frozen=True)
class Staff:
    operators: dict[int, tuple[int, ...]]  # region id → operator ids
    members: dict[int, tuple[int, ...]]    # department id → member ids
    grids: dict[int, frozenset[int]]       # grid worker's user id → grid ids (any period)


def _build() -> Staff:
    operators, members, grids = defaultdict(list), defaultdict(list), defaultdict(set)
    for pk, role, region_id, department_id, password in User.objects.filter(
            is_active=True).values_list("pk", "role", "region_id", "department_id",
                                        "password").order_by("pk"):
        # an account that can never log in (an Open311 key's) has no inbox to read
        can_log_in = not password.startswith(UNUSABLE_PASSWORD_PREFIX)
        if role == Role.OPERATOR and region_id and can_log_in:
            operators[region_id].append(pk)
        if department_id:
            members[department_id].append(pk)
    for user_id, grid_id in GridWorker.grids.through.objects.values_list(
            "gridworker__user_id", "grid_id"):
        grids[user_id].add(grid_id)
    return Staff({k: tuple(v) for k, v in operators.items()},
                 {k: tuple(v) for k, v in members.items()},
                 {k: frozenset(v) for k, v in grids.items()})


_memo = Memo(_build, stamp=revision_stamp(REVISION), ttl=TTL, revision=REVISION)


def centre_operators(region_ids: Iterable[int]) -> list[int]:
    """The active operators of these linkage centres."""
    operators = _memo.get().operators
    return [pk for region_id in region_ids for pk in operators.get(region_id, ())]


def department_members(department_id: int | None) -> list[int]:
    if department_id is None:
        return []
    return list(_memo.get().members.get(department_id, ()))


def worker_grids(user_id: int) -> frozenset[int]:
    """The grids a grid worker is assigned to (current or not)."""
    return _memo.get().grids.get(user_id, frozenset())


def grid_workers(grid_id: int) -> list[int]:
    """The grid workers assigned to a grid, by id."""
    return sorted(pk for pk, grids in _memo.get().grids.items() if grid_id in grids)


def changed() -> None:
    bump(REVISION)


def _user_saved(sender, update_fields=None, **kwargs) -> None:
    if update_fields is None or set(update_fields) != {"last_login"}:
        changed()


def _any_change(sender, **kwargs) -> None:
    changed()


def connect() -> None:
    """Called once from the app's ``ready()``."""
    post_save.connect(_user_saved, sender=User, dispatch_uid="staff-save")
    post_delete.connect(_any_change, sender=User, dispatch_uid="staff-delete")
    post_save.connect(_any_change, sender=GridWorker, dispatch_uid="staff-worker-save")
    post_delete.connect(_any_change, sender=GridWorker, dispatch_uid="staff-worker-delete")
    m2m_changed.connect(_any_change, sender=GridWorker.grids.through,
                        dispatch_uid="staff-worker-grids")
