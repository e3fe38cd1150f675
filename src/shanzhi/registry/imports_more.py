"""Import and export of houses, organisations, special-group members and key
places: the same files, modes, reports and progress as the people's
(``imports``), each row written through the registry's own service.

``imports`` reads the file (``read_rows``), keeps the job, the report of bad
rows (line, the column's header as written in the file, message), the two
modes (strict: a bad row and nothing is written; good rows only) and the one
transaction of ``run_import``; it hands a registry other than people to the
importer of ``IMPORTERS``. Each row is written by the service a form or the
API calls — ``places.building_create`` / ``places.house_create``,
``services.organisation_create``, ``services.member_create`` (which plans the
member's first follow-up), ``services.place_create`` (which plans the first
inspection) — inside a savepoint, so the rules (``ORGANISATION_FIELDS``,
``MEMBER_FIELDS``, ``PLACE_FIELDS``, the house and building checks, the
point inside the grid and the actor's territory, the duplicates in the
database) are not written twice and a bad row leaves nothing behind. A
record the same file already created is reported as a duplicate within the
file (naming its line). These registries hold thousands of rows, not
millions: one service call a row (a few queries, and a follow-up task for a
member or a place) is their cost; people keep their bulk path.

``export_rows`` (for these registries) gives the rows the actor sees, the
phones and identity numbers masked (``selectors.masked``), the choices as
the file's labels, so an export imports back; one EXPORT row in the access
log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from django.core.cache import cache
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.core.errors import Conflict, DomainError, ValidationError
from shanzhi.core.models import AccessAction, AccessLog

from . import imports as base
from .imports import Column, Problem, Registry
from .models import (
    Building,
    Group,
    HouseUse,
    ImportJob,
    KeyPlace,
    OrganisationKind,
    Person,
    PlaceKind,
    RiskLevel,
)

# ---------------------------------------------------------------- the files' columns

#: The choices as the files write them (the first label is the one exported;
#: the services also accept their own aliases and the codes).
FILE_LABELS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "houses": {"use": {HouseUse.OWN: ("自住",), HouseUse.RENTED: ("出租",),
                       HouseUse.EMPTY: ("空置",), HouseUse.BUSINESS: ("经营",),
                       HouseUse.OTHER: ("其他",)}},
    "organisations": {"kind": {OrganisationKind.COMPANY: ("企业",),
                               OrganisationKind.SOLE: ("个体工商户", "个体"),
                               OrganisationKind.SOCIAL: ("社会组织",),
                               OrganisationKind.PUBLIC: ("机关事业单位", "机关", "事业单位")}},
    "members": {"group": {Group.CORRECTION: ("社区矫正对象", "社区矫正"),
                          Group.RELEASED: ("刑满释放人员", "刑满释放"),
                          Group.MENTAL: ("严重精神障碍患者", "严重精神障碍"),
                          Group.DRUG: ("吸毒人员",), Group.YOUTH: ("重点青少年",),
                          Group.AIDS: ("艾滋病危险人群",)},
                "level": {RiskLevel.LOW: ("低", "低风险"), RiskLevel.MEDIUM: ("中", "中风险"),
                          RiskLevel.HIGH: ("高", "高风险")}},
    "places": {"kind": {PlaceKind.FIRE: ("消防隐患场所",), PlaceKind.RENTAL: ("出租房屋",),
                        PlaceKind.CROWD: ("人员密集场所",),
                        PlaceKind.CHEMICAL: ("危化品场所",),
                        PlaceKind.ENTERTAINMENT: ("娱乐场所",), PlaceKind.OTHER: ("其他",)},
               "level": {RiskLevel.LOW: ("低", "低风险"), RiskLevel.MEDIUM: ("中", "中风险"),
                         RiskLevel.HIGH: ("高", "高风险")}},
}

_GRID_HELP = _("The grid's code, a grid of your territory.")

HOUSES = Registry("houses", _("Houses"), (
    Column("社区编码", "community_code", _("Give the community code or the grid code (or "
                                         "both): the point must lie in it."),
           aliases=("社区代码",), width=14),
    Column("网格编码", "grid_code", _GRID_HELP, aliases=("网格",), width=18),
    Column("道路", "road", _("Required: the road, street or lane, e.g. 平江路."), required=True,
           aliases=("街路巷",), width=14),
    Column("门牌号", "number", _("Required: the door number, e.g. 88 or 88号."), required=True,
           width=8),
    Column("小区", "estate", aliases=("小区名称",), width=14),
    Column("楼栋", "building", _("The building's number, e.g. 3 or 3幢; empty for a house "
                               "on the street."), aliases=("幢", "楼号"), width=8),
    Column("单元", "unit", width=6),
    Column("室", "room", _("Required: the room number, e.g. 101."), required=True,
           aliases=("室号", "房号"), width=8),
    Column("经度", "lng", _("Required: the building's longitude (WGS-84), e.g. 120.62."),
           required=True, width=12),
    Column("纬度", "lat", _("Required: the building's latitude (WGS-84), e.g. 31.32."),
           required=True, width=12),
    Column("用途", "use", _("自住 (the default), 出租, 空置, 经营 or 其他."), kind="choice",
           choices=HouseUse, width=8),
    Column("建筑面积", "area", _("Square metres, e.g. 89.5."), width=10),
    Column("产权人", "owner_name", width=10),
    Column("产权人电话", "owner_phone", _("A mobile number or a landline with its area code."),
           width=14),
))

ORGANISATIONS = Registry("organisations", _("Organisations"), (
    Column("名称", "name", _("Required."), required=True, aliases=("单位名称",), width=30),
    Column("统一社会信用代码", "credit_code", _("Required: the 18 characters of GB 32100 (the "
                                          "last is a check character)."), required=True,
           aliases=("信用代码",), width=22),
    Column("类别", "kind", _("企业 (the default), 个体工商户, 社会组织 or 机关事业单位."),
           kind="choice", choices=OrganisationKind, aliases=("单位类别",), width=12),
    Column("法定代表人", "legal_representative", aliases=("负责人",), width=10),
    Column("联系电话", "phone", _("A mobile number or a landline with its area code."),
           aliases=("电话",), width=14),
    Column("行业", "industry", width=12),
    Column("从业人数", "employees", _("A whole number."), width=8),
    Column("成立日期", "established", _("Such as 2015-03-01."), kind="date", width=12),
    Column("网格编码", "grid", _GRID_HELP, required=True, aliases=("网格",), width=18),
    Column("地址", "address", aliases=("经营地址", "住所"), width=36),
))

MEMBERS = Registry("members", _("Special groups"), (
    Column("姓名", "name", _("The person's name; if given it must be the registered one."),
           width=10),
    Column("公民身份号码", "id_number", _("Required: the identity number of a person "
                                       "registered in your territory."), required=True,
           aliases=("身份证号", "身份证号码", "证件号码"), width=22),
    Column("人群类别", "group", _("Required: 社区矫正对象, 刑满释放人员, 严重精神障碍患者, "
                                "吸毒人员, 重点青少年 or 艾滋病危险人群."), required=True,
           kind="choice", choices=Group, aliases=("特殊人群类别",), width=14),
    Column("风险等级", "level", _("低 (the default), 中 or 高: how often they are visited."),
           kind="choice", choices=RiskLevel, width=8),
    Column("列管日期", "since", _("Required: the day the follow-up began, such as 2026-01-05."),
           required=True, kind="date", aliases=("纳入日期",), width=12),
    Column("网格员账号", "worker", _("The user name of a grid worker of the person's grid; "
                                  "empty: the grid's worker."), width=14),
    Column("备注", "note", width=20),
))

PLACES = Registry("places", _("Key places"), (
    Column("名称", "name", _("Required."), required=True, aliases=("场所名称",), width=30),
    Column("类别", "kind", _("Required: 消防隐患场所, 出租房屋, 人员密集场所, 危化品场所, "
                           "娱乐场所 or 其他."), required=True, kind="choice",
           choices=PlaceKind, aliases=("场所类别",), width=14),
    Column("风险等级", "level", _("低 (the default), 中 or 高."), kind="choice",
           choices=RiskLevel, width=8),
    Column("网格编码", "grid", _GRID_HELP, required=True, aliases=("网格",), width=18),
    Column("地址", "address", width=36),
    Column("联系人", "contact_name", width=10),
    Column("联系电话", "contact_phone", _("A mobile number or a landline with its area code."),
           aliases=("电话",), width=14),
))


def _codes(registry: str, column: Column) -> dict[str, str]:
    """A choice read from its file label, its label on the pages or its code."""
    codes = base._choice_codes(f"{registry}.{column.field}", column.choices)
    for code, labels in FILE_LABELS.get(registry, {}).get(column.field, {}).items():
        codes.update(dict.fromkeys(labels, code))
    return codes


# ---------------------------------------------------------------- the importers

class RowImporter:
    """One import of one file into a registry whose rows are written one by
    one through its service (in a savepoint each). Subclasses say how a row
    is written (``write``, returning the record) and which field an error on
    another name belongs to (``FIELD_OF``)."""

    registry: Registry
    #: A service's field → the column it is reported in.
    FIELD_OF: Mapping[str, str] = {}

    def __init__(self, *, job: ImportJob, actor: User, scope: Scope, good_only: bool,
                 progress: Callable[[int, int], None] | None) -> None:
        self.job = job
        self.actor = actor
        self.scope = scope
        self.good_only = good_only
        self.on_progress = progress
        self.report = base._Report()
        self.written = 0
        self.done = 0
        self.last_published = 0.0
        self.shown: dict[str, str] = {}
        self.grid_codes = set(scope.grids().values_list("code", flat=True))
        #: record id → the line that created it (a later same record is a duplicate in the file)
        self.created: dict[int, int] = {}
        name = self.registry.name
        self.codes = {c.field: _codes(name, c) for c in self.registry.columns
                      if c.kind == "choice"}
        self.dates = [c.field for c in self.registry.columns if c.kind == "date"]

    # -- reporting
    def header_for(self, field_name: str | None) -> str:
        field_name = self.FIELD_OF.get(field_name or "", field_name or "")
        if field_name in self.shown:
            return self.shown[field_name]
        column = next((c for c in self.registry.columns if c.field == field_name), None)
        return column.header if column is not None else field_name

    def problems_of(self, line: int, error: DomainError) -> list[Problem]:
        """Every problem a service's refusal names (its details' list, else itself)."""
        listed = error.details.get("problems") if isinstance(error.details, dict) else None
        if listed:
            return [Problem(line, self.header_for(p.get("field")), p.get("message", ""))
                    for p in listed]
        return [Problem(line, self.header_for(error.field), error.message)]

    def repeated(self, line: int, pk, field_name: str) -> Problem | None:
        """A duplicate of a record this file created (at an earlier line)."""
        first = self.created.get(pk)
        if first is None:
            return None
        return Problem(line, self.header_for(field_name), gettext(
            "The same record as line %(line)d: it appears more than once in the file.")
            % {"line": first})

    def unknown_grid(self, code: str, field_name: str) -> None:
        """A grid code not of the actor's territory: unknown (nothing revealed)."""
        if code and code not in self.grid_codes:
            raise ValidationError(gettext("No grid %(code)s in your territory.")
                                  % {"code": code}, field=field_name, code="not_found")

    # -- progress (as the people's importer: the cache, at most twice a second)
    def publish(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last_published < 0.5:
            return
        self.last_published = now
        state = {"state": self.job.state, "total": self.job.total or 0, "done": self.done,
                 "written": self.written, "error_count": self.report.bad_rows}
        cache.set(base.PROGRESS_KEY.format(self.job.pk), state, base.PROGRESS_SECONDS)
        if self.on_progress is not None:
            self.on_progress(self.done, self.job.total or 0)

    # -- the file
    def missing(self, index: Mapping[str, int]) -> list[str]:
        return [c.header for c in self.registry.columns if c.required and c.field not in index]

    def run(self, rows: Iterator[list[str]]) -> None:
        header = next(rows, None)
        if header is None:
            raise base.FileProblem(gettext("The file is empty: it has no header row."),
                                   field="file")
        index, self.shown = base._map_header(self.registry, header)
        missing = self.missing(index)
        if missing:
            self.report.add([Problem(1, name, gettext("The column is missing from the header "
                                                      "row.")) for name in missing])
            return
        columns = list(index.items())
        for line, values in enumerate(rows, start=2):
            if not any(v.strip() for v in values if v):
                continue  # an empty line: not a row
            self.done += 1
            width = len(values)
            data = {name: values[i].strip() if i < width else "" for name, i in columns}
            for name, codes in self.codes.items():
                if data.get(name):
                    data[name] = codes.get(data[name], data[name])
            for name in self.dates:
                if data.get(name):
                    data[name] = base._excel_date(data[name])
            problems = self.row(line, data)
            if problems:
                self.report.add(problems)
            self.publish()

    def row(self, line: int, data: dict) -> list[Problem]:
        """Write one row in a savepoint (a refused row leaves nothing); its problems."""
        try:
            with transaction.atomic():
                record = self.write(line, data)
        except _Repeated as repeated:
            return [repeated.problem]
        except DomainError as error:
            return self.problems_of(line, error)
        self.created[record.pk] = line
        self.written += 1
        return []

    def write(self, line: int, data: dict):  # pragma: no cover - each registry's own
        raise NotImplementedError


class _Repeated(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class HouseImporter(RowImporter):
    """A house (and its building, the first time the building is met): the
    point must lie in the grid (or community) given and in the actor's
    territory — ``places.building_create``'s checks."""

    registry = HOUSES
    FIELD_OF = {"location": "lng"}
    BUILDING_FIELDS = ("grid_code", "community_code", "road", "number", "estate", "building",
                       "lng", "lat")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        #: a building's columns as written → the building a written row found or
        #: created (the next flats of the building skip its checks: same input, same
        #: outcome)
        self.buildings: dict[tuple, Building] = {}

    def missing(self, index):
        missing = super().missing(index)
        if "grid_code" not in index and "community_code" not in index:
            missing.append(self.registry.column("grid_code").header)
        return missing

    def write(self, line: int, data: dict):
        from . import places

        grid_code, community_code = data.get("grid_code", ""), data.get("community_code", "")
        if not grid_code and not community_code:
            raise ValidationError(gettext("Give the community code or the grid code."),
                                  field="grid_code", code="required")
        self.unknown_grid(grid_code, "grid_code")
        known = tuple(data.get(name, "") for name in self.BUILDING_FIELDS)
        building = self.buildings.get(known)
        if building is None:
            building = self.building(data, grid_code, community_code)
        try:
            house = places.house_create(
                actor=self.actor, building=building, unit=data.get("unit", ""),
                room=data.get("room", ""), use=data.get("use") or HouseUse.OWN,
                area=data.get("area") or None, owner_name=data.get("owner_name", ""),
                owner_phone=data.get("owner_phone", ""))
        except Conflict as error:
            problem = self.repeated(line, error.details.get("id"), "room")
            if problem is not None:
                raise _Repeated(problem) from None
            raise
        self.buildings[known] = building
        return house

    def building(self, data: dict, grid_code: str, community_code: str) -> Building:
        """The building at the row's address: created (its point checked), or
        the one registered already in the actor's territory."""
        from . import places

        try:
            return places.building_create(
                actor=self.actor, road=data.get("road", ""), number=data.get("number", ""),
                estate=data.get("estate", ""), building=data.get("building", ""),
                lng=data.get("lng") or None, lat=data.get("lat") or None,
                community_code=community_code or None, grid_code=grid_code or None)
        except Conflict as error:
            if error.code != "duplicate" or "id" not in error.details:
                raise  # a building outside the actor's territory: refused, nothing named
            return Building.objects.get(pk=error.details["id"])


class OrganisationImporter(RowImporter):
    """An organisation in a grid (``services.organisation_create``: the
    fields of ``ORGANISATION_FIELDS``, the credit code's check character,
    one organisation per credit code)."""

    registry = ORGANISATIONS
    FIELDS = ("name", "credit_code", "kind", "legal_representative", "phone", "industry",
              "employees", "established", "grid", "address")

    def write(self, line: int, data: dict):
        from . import services

        self.unknown_grid(data.get("grid", ""), "grid")
        try:
            return services.organisation_create(
                actor=self.actor, data={name: data.get(name, "") for name in self.FIELDS})
        except Conflict as error:
            problem = self.repeated(line, error.details.get("organisation"), "credit_code")
            if problem is not None:
                raise _Repeated(problem) from None
            raise


class MemberImporter(RowImporter):
    """A person of the actor's territory (by identity number) joins a special
    group (``services.member_create``, which plans the first follow-up)."""

    registry = MEMBERS
    FIELD_OF = {"person": "id_number"}

    def write(self, line: int, data: dict):
        from . import selectors, services

        number = "".join(data.get("id_number", "").split()).upper()
        if not number:
            raise ValidationError(gettext("The identity number is required."),
                                  field="id_number", code="required")
        person = (selectors.visible(self.scope, Person)
                  .filter(id_number=number, merged_into__isnull=True).order_by("pk").first())
        if person is None:  # not registered, or not in the actor's territory: the same words
            raise ValidationError(gettext("No person with this identity number is registered "
                                          "in your territory."), field="id_number",
                                  code="not_found")
        name = data.get("name", "")
        if name and name != person.name:
            raise ValidationError(gettext("The name is not the one registered with this "
                                          "identity number."), field="name", code="mismatch")
        try:
            return services.member_create(
                actor=self.actor, person=person, group=data.get("group", ""),
                level=data.get("level", ""), since=data.get("since", ""),
                worker=data.get("worker") or None, note=data.get("note", ""))
        except Conflict as error:
            problem = self.repeated(line, error.details.get("member"), "group")
            if problem is not None:
                raise _Repeated(problem) from None
            raise


class PlaceImporter(RowImporter):
    """A key place in a grid (``services.place_create``, which plans the first
    inspection); the same name at the same address in the same grid is a
    duplicate."""

    registry = PLACES
    FIELDS = ("name", "kind", "level", "grid", "address", "contact_name", "contact_phone")

    def write(self, line: int, data: dict):
        from . import selectors, services

        grid = data.get("grid", "")
        self.unknown_grid(grid, "grid")
        if grid and data.get("name"):
            same = (selectors.visible(self.scope, KeyPlace)
                    .filter(grid__code=grid, name=data["name"], address=data.get("address", ""),
                            is_active=True).values_list("pk", flat=True).first())
            if same is not None:
                problem = self.repeated(line, same, "name")
                if problem is not None:
                    raise _Repeated(problem)
                raise Conflict(gettext("This key place is already registered in grid "
                                       "%(code)s.") % {"code": grid}, field="name",
                               code="duplicate", details={"keyplace": same})
        return services.place_create(actor=self.actor,
                                     data={name: data.get(name, "") for name in self.FIELDS})


IMPORTERS: dict[str, type[RowImporter]] = {
    HOUSES.name: HouseImporter, ORGANISATIONS.name: OrganisationImporter,
    MEMBERS.name: MemberImporter, PLACES.name: PlaceImporter,
}


# ---------------------------------------------------------------- export

def _label(registry: str, field_name: str, value) -> str:
    if not value:
        return ""
    return FILE_LABELS[registry][field_name].get(value, (value,))[0]


def _house_row(house) -> list:
    from shanzhi.geo.index import get_index

    building = house.building
    return [get_index().region(building.community_id).code, house.grid.code, building.road,
            building.number, building.estate, building.building, house.unit, house.room,
            building.lng, building.lat, _label("houses", "use", house.use),
            None if house.area is None else str(house.area), house.owner_name,
            _masked("owner_phone", house.owner_phone)]


def _organisation_row(organisation) -> list:
    return [organisation.name, organisation.credit_code,
            _label("organisations", "kind", organisation.kind),
            organisation.legal_representative, _masked("phone", organisation.phone),
            organisation.industry, organisation.employees, organisation.established,
            organisation.grid.code, organisation.address]


def _member_row(member) -> list:
    return [member.person.name, _masked("id_number", member.person.id_number),
            _label("members", "group", member.group), _label("members", "level", member.level),
            member.since, member.worker.username if member.worker_id else "", member.note]


def _place_row(place) -> list:
    return [place.name, _label("places", "kind", place.kind),
            _label("places", "level", place.level), place.grid.code, place.address,
            place.contact_name, _masked("contact_phone", place.contact_phone)]


def _masked(field_name: str, value):
    from .selectors import masked

    return masked(field_name, value)


#: registry → (the list's selector name, the related rows read with it, the
#: row's values in the columns' order, the personal fields the access log names)
EXPORTS: dict[str, tuple[str, tuple[str, ...], Callable, list[str]]] = {
    "houses": ("houses_list", ("building", "grid"), _house_row,
               ["owner_name", "owner_phone"]),
    "organisations": ("organisations_list", ("grid",), _organisation_row, ["name", "phone"]),
    "members": ("members_list", ("person", "grid", "worker"), _member_row,
                ["name", "id_number"]),
    "places": ("places_list", ("grid",), _place_row, ["contact_name", "contact_phone"]),
}


def export_rows(*, scope: Scope, reg: Registry, filters: dict, actor: User | None,
                request=None) -> tuple[list[Column], Iterator[list]]:
    """(``imports.export_rows`` for these registries, who may export checked
    there.) The rows ``scope`` sees through the list's selector and filters,
    masked; one EXPORT access-log row."""
    from . import selectors

    select, related, row_of, fields = EXPORTS[reg.name]
    qs = getattr(selectors, select)(scope=scope, **filters).select_related(*related)
    count = qs.count()
    AccessLog.record(action=AccessAction.EXPORT, request=request, user=actor, fields=fields,
                     reason=f"registry export {reg.name}: {count} rows, filters "
                            f"{ {k: v for k, v in filters.items() if v not in (None, '')} }")

    def rows() -> Iterator[list]:
        with translation.override("zh-hans"):
            for record in qs.iterator(chunk_size=2000):
                yield row_of(record)

    return list(reg.columns), rows()


base.REGISTRIES.update({reg.name: reg for reg in (HOUSES, ORGANISATIONS, MEMBERS, PLACES)})

__all__ = ["EXPORTS", "HOUSES", "IMPORTERS", "MEMBERS", "ORGANISATIONS", "PLACES",
           "RowImporter", "export_rows"]
