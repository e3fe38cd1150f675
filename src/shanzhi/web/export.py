"""The rows of the Excel export, and streaming them from either server.
Each row names the incident's district and town beside its region (community
names repeat across districts), from the spatial index's memory.

Every word is translated when the export starts (in the request), never
while the rows stream. Contacts are masked, as in the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Generator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.utils.translation import gettext as _

from shanzhi.core.privacy import mask_name, mask_phone
from shanzhi.core.xlsx import Cell, Column
from shanzhi.geo.index import get_index
from shanzhi.geo.models import Level
from shanzhi.incidents import selectors
from shanzhi.incidents.models import Channel, Incident, State

from .actions import SATISFACTION_SCORES, URGENCIES


def export_columns() -> list[Column]:
    return [Column(_("Number"), 20), Column(_("State"), 12), Column(_("Light"), 8),
            Column(_("Channel"), 12), Column(_("Category code"), 10),
            Column(_("Category"), 14), Column(_("Urgency"), 8),
            Column(_("Description"), 50), Column(_("Address"), 30),
            Column(_("District"), 12), Column(_("Town/street"), 14),
            Column(_("Region"), 16), Column(_("Region code"), 14), Column(_("Grid code"), 18),
            Column(_("Linkage centre"), 14), Column(_("Department"), 20),
            Column(_("Reported at"), 17), Column(_("Deadline"), 17),
            Column(_("Closed at"), 17), Column(_("Is overdue"), 8), Column(_("Contact"), 10),
            Column(_("Contact phone"), 14), Column(_("Returns"), 8), Column(_("Reworks"), 8),
            Column(_("Supervisions"), 8), Column(_("Extensions"), 8),
            Column(_("Satisfaction"), 10)]


def _words() -> dict[str, dict]:
    """Every label the rows use, translated now."""
    return {
        "state": {k: str(v) for k, v in State.choices},
        "channel": {k: str(v) for k, v in Channel.choices},
        "light": {"green": _("Green"), "yellow": _("Yellow"), "red": _("Red"), "": ""},
        "urgency": {k: str(v) for k, v in URGENCIES.items()},
        "satisfaction": {k: str(v) for k, v in SATISFACTION_SCORES.items()},
        "yes": {True: _("Yes"), False: _("No")},
    }


def export_rows(incidents: Iterable[Incident], now: dt.datetime) -> Iterator[list[Cell]]:
    words = _words()
    index = get_index()
    for i in incidents:
        above = {n.level: n.name for n in index.place(i.region_id)}
        yield [
            i.number, words["state"].get(i.state, i.state),
            words["light"][selectors.light(i, now)], words["channel"].get(i.channel, i.channel),
            i.category.code if i.category else None, i.category.name if i.category else None,
            words["urgency"].get(i.urgency, i.urgency), i.description, i.address,
            above.get(Level.DISTRICT), above.get(Level.TOWN), i.region.name, i.region.code,
            i.grid.code if i.grid else None, i.holder.name,
            i.department.name if i.department else None, i.reported_at, i.due_at,
            i.closed_at, words["yes"][i.overdue], mask_name(i.contact_name),
            mask_phone(i.contact_phone), i.return_count, i.rework_count, i.supervise_count,
            i.extension_count, words["satisfaction"].get(i.satisfaction),
        ]


def server_stream(chunks: Generator[bytes, None, None], *, asynchronous: bool):
    """The chunks as the server wants them: an ASGI server consumes a plain
    iterator whole before sending it (Django's fallback), so it gets an async
    one that pulls each chunk in the request's thread (where its database
    cursor lives)."""
    return _pull(chunks) if asynchronous else chunks


async def _pull(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    take = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await take(chunks, None)) is not None:
            yield chunk
    finally:
        await sync_to_async(chunks.close, thread_sensitive=True)()
