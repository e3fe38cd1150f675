"""The incident's timeline as the page shows it: each entry's action in the
user's language, who took it, and what it carried (codes turned into names,
with one query per kind of code for the whole timeline)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.accounts.models import Department
from shanzhi.geo.models import Region
from shanzhi.incidents import notices, selectors
from shanzhi.incidents.case import INCIDENT_CASE
from shanzhi.incidents.models import (
    Category,
    Channel,
    Incident,
    TimelineEntry,
)

from .actions import FIELD_LABELS, LEVELS, SATISFACTION, UNITS
from .case import TimelineItem, when
from .case import timeline_items as case_timeline

STAGES = notices.STAGE_LABELS
OVERDUE_RULES = {"notify": gettext_lazy("the responsible were told"),
                 "supervise": gettext_lazy("supervised automatically"),
                 "escalate": gettext_lazy("escalated automatically")}
#: Text fields shown as they are, in this order.
TEXTS = ("result", "reason", "note")


@dataclass
class _Names:
    """Names of the codes the timeline mentions, looked up once."""

    departments: dict[str, str]
    regions: dict[str, str]
    categories: dict[str, str]

    @classmethod
    def of(cls, entries: list[TimelineEntry]) -> _Names:
        wanted: dict[str, set[str]] = {"department": set(), "region": set(), "category": set()}
        for e in entries:
            data = e.data or {}
            for key in ("suggested", "route"):
                if isinstance(data.get(key), dict) and data[key].get("department"):
                    wanted["department"].add(data[key]["department"])
            if data.get("department"):
                wanted["department"].add(data["department"])
            for key in ("region", "to", "escalated_to", "holder"):
                if data.get(key):
                    wanted["region"].add(data[key])
            if data.get("category"):
                wanted["category"].add(data["category"])
            wanted["category"].update(_suggested_codes(data))
        return cls(
            departments=dict(Department.objects.filter(code__in=wanted["department"])
                             .values_list("code", "name")),
            regions=dict(Region.objects.current().filter(code__in=wanted["region"])
                         .values_list("code", "name")),
            categories=dict(Category.objects.filter(code__in=wanted["category"])
                            .values_list("code", "name")))


def _details(entry: TimelineEntry, names: _Names) -> list[tuple[str, str]]:
    data = entry.data or {}
    out: list[tuple[str, str]] = []
    if entry.action == "report":
        out.append((_("Channel"), str(Channel(data["channel"]).label)
                    if data.get("channel") in Channel.values else data.get("channel", "")))
    if data.get("category"):
        out.append((_("Category"), names.categories.get(data["category"], data["category"])))
    if data.get("department"):
        out.append((_("Department"), names.departments.get(data["department"],
                                                           data["department"])))
    out += _suggestion(data, names)
    out += _intake(data, names)
    for key, label in (("region", _("Lower linkage centre")), ("to", _("To")),
                       ("escalated_to", _("Escalated to")), ("holder", _("Linkage centre"))):
        if data.get(key):
            out.append((label, names.regions.get(data[key], data[key])))
    if data.get("original"):
        out.append((str(FIELD_LABELS["original"]), data["original"]))
    if data.get("amount"):
        unit = dict(UNITS).get(data.get("unit"), data.get("unit", ""))
        out.append((_("Extra time"), f"{data['amount']:g} {unit}"))
    if data.get("level") and entry.action == "supervise":
        out.append((str(FIELD_LABELS["level"]), str(dict(LEVELS).get(data["level"],
                                                                     data["level"]))))
    if data.get("satisfaction"):
        out.append((str(FIELD_LABELS["satisfaction"]),
                    str(dict(SATISFACTION).get(data["satisfaction"], data["satisfaction"]))))
    out += _deadline(entry, data)
    out += [(str(FIELD_LABELS[key]), data[key]) for key in TEXTS if data.get(key)]
    return out


def _suggestion(data: dict, names: _Names) -> list[tuple[str, str]]:
    route = data.get("suggested") or data.get("route")
    if not isinstance(route, dict):
        return []
    code = route.get("department")
    text = names.departments.get(code, code) if code else _("no suggestion")
    if "followed_suggestion" in data:
        text += " · " + (_("followed") if data["followed_suggestion"] else _("not followed"))
    return [(_("Suggested department"), text)]


def _suggested_codes(data: dict) -> set[str]:
    """The category codes of a report's or an acceptance's suggestion."""
    suggestion = data.get("suggestion")
    if not isinstance(suggestion, dict):
        return set()
    codes = {str(pair[0]) for pair in suggestion.get("top") or []
             if isinstance(pair, list | tuple) and pair}
    codes.update(str(suggestion[key]) for key in ("suggested", "chosen") if suggestion.get(key))
    return codes


def _followed(matched) -> str:
    if matched is None:
        return _("no category chosen")
    return _("followed") if matched else _("not followed")


def _intake(data: dict, names: _Names) -> list[tuple[str, str]]:
    """What intake assistance recorded (docs/intake.md): the model's suggested
    categories and whether the one chosen matched, a repeat call, an address
    that could not be placed."""
    out: list[tuple[str, str]] = []
    suggestion = data.get("suggestion")
    if isinstance(suggestion, dict):
        if "top" in suggestion:  # the report: the model's top three
            top = [f"{names.categories.get(code, code)} {round(float(conf) * 100)}%"
                   for code, conf in suggestion.get("top") or []]
            text = "、".join(top) or _("none")
            if suggestion.get("model"):
                text += f"（{suggestion['model']}）"
            out.append((_("Suggested categories"), text))
            if suggestion.get("chosen") or suggestion.get("matched") is not None:
                out.append((_("Suggestion"), _followed(suggestion.get("matched"))))
        elif suggestion.get("suggested"):  # the acceptance: the final category against it
            code = suggestion["suggested"]
            out.append((_("Suggested category"), names.categories.get(code, code) + " · "
                        + _followed(suggestion.get("matched"))))
    if data.get("repeat_of"):
        out.append((_("Repeat call of"), "、".join(str(n) for n in data["repeat_of"])))
    place = data.get("place")
    if isinstance(place, dict) and place.get("placed") is False:
        out.append((_("Address not placed"), _unplaced_text(place)))
    elif isinstance(place, dict) and place.get("placed"):
        out.append((_("Placed by address"), _("%(label)s (confidence %(percent)s %%)") % {
            "label": place.get("label", ""),
            "percent": round(float(place.get("confidence") or 0) * 100)}))
    return out


def _unplaced_text(place: dict) -> str:
    """The resolver's best guess for an address it could not place confidently."""
    if not place.get("label"):
        return _("the address is not known; place it by hand")
    return _("best guess %(label)s (confidence %(percent)s %%); place it by hand") % {
        "label": place["label"], "percent": round(float(place.get("confidence") or 0) * 100)}


def _deadline(entry: TimelineEntry, data: dict) -> list[tuple[str, str]]:
    out = []
    if data.get("stage") and entry.action in ("warn", "overdue"):
        out.append((_("Stage"), str(STAGES.get(data["stage"], data["stage"]))))
    if data.get("due_at"):
        label = _("New deadline") if entry.action == "approve_extension" else _("Deadline")
        out.append((label, when(data["due_at"])))
    if entry.action == "overdue" and data.get("rule"):
        out.append((_("Then"), str(OVERDUE_RULES.get(data["rule"], data["rule"]))))
    return out


def timeline_items(incident: Incident) -> list[TimelineItem]:
    entries = list(selectors.timeline(incident=incident))
    names = _Names.of(entries)
    return case_timeline(INCIDENT_CASE, incident, entries=entries,
                         details=lambda entry: _details(entry, names))
