"""Who works where — the active operators of each linkage centre and the
active members of each department — kept in memory per process
(``core.memo``): every action notifies them. Any save or delete of a user
through the ORM moves the ``staff`` revision on, except a log-in's
``last_login``; a bulk write must call :func:`changed` itself."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save

from shanzhi.core.memo import Memo, bump, revision_stamp

from .models import Role, User

REVISION = "staff"
#: Other processes see a change within this many seconds.
TTL = 5.0


@dataclass(frozen=True)
class Staff:
    operators: dict[int, tuple[int, ...]]  # region id → operator ids
    members: dict[int, tuple[int, ...]]    # department id → member ids


def _build() -> Staff:
    operators, members = defaultdict(list), defaultdict(list)
    for pk, role, region_id, department_id in User.objects.filter(is_active=True).values_list(
            "pk", "role", "region_id", "department_id").order_by("pk"):
        if role == Role.OPERATOR and region_id:
            operators[region_id].append(pk)
        if department_id:
            members[department_id].append(pk)
    return Staff({k: tuple(v) for k, v in operators.items()},
                 {k: tuple(v) for k, v in members.items()})


_memo = Memo(_build, stamp=revision_stamp(REVISION), ttl=TTL, revision=REVISION)


def centre_operators(region_ids: Iterable[int]) -> list[int]:
    """The active operators of these linkage centres."""
    operators = _memo.get().operators
    return [pk for region_id in region_ids for pk in operators.get(region_id, ())]


def department_members(department_id: int | None) -> list[int]:
    if department_id is None:
        return []
    return list(_memo.get().members.get(department_id, ()))


def changed() -> None:
    bump(REVISION)


def _user_saved(sender, update_fields=None, **kwargs) -> None:
    if update_fields is None or set(update_fields) != {"last_login"}:
        changed()


def _user_deleted(sender, **kwargs) -> None:
    changed()


def connect() -> None:
    """Called once from the app's ``ready()``."""
    post_save.connect(_user_saved, sender=User, dispatch_uid="staff-save")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid="staff-delete")
