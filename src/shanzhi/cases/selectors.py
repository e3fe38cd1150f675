"""Reads every case type shares: the timeline, the inbox."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Notification
from .registry import CaseType


def timeline(kind: CaseType, case) -> QuerySet:
    return (kind.entry_model.objects.filter(**{kind.parent: case}).select_related("actor")
            .prefetch_related("attachments").order_by("at", "id"))


def notifications(*, user, unread_only: bool = False) -> QuerySet[Notification]:
    qs = Notification.objects.filter(user=user)
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    return qs


def links(kind: CaseType, case) -> list[dict]:
    """The cases linked to this one, from either side: their type, number,
    page and the relation, as this case sees it ("became" / "came from")."""
    from .models import CaseLink
    from .registry import case_types

    out = []
    for row in CaseLink.objects.filter(from_type=kind.name, from_id=case.pk):
        other = case_types().get(row.to_type)
        out.append({"type": row.to_type, "number": row.to_number, "relation": row.relation,
                    "direction": "to", "url": other.page_url(row.to_number) if other else ""})
    for row in CaseLink.objects.filter(to_type=kind.name, to_id=case.pk):
        other = case_types().get(row.from_type)
        out.append({"type": row.from_type, "number": row.from_number, "relation": row.relation,
                    "direction": "from",
                    "url": other.page_url(row.from_number) if other else ""})
    return out
