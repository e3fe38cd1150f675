"""The writes of the registries (people, organisations, special-group
members, key places, follow-up rules): every one checks the actor's role and
territory, cleans what was typed or imported with ``validators`` (one
definition of each registry's fields: ``PERSON_FIELDS``, ``ORGANISATION_FIELDS``,
``MEMBER_FIELDS``, ``PLACE_FIELDS``), refuses a stale version (``Conflict``,
code ``stale``) and a duplicate (``Conflict``, code ``duplicate``: naming the
existing record only inside the actor's scope), and appends a ``PersonChange``
for every change of a person. See docs/registry.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _l

from shanzhi.accounts.models import User
from shanzhi.accounts.scope import Scope
from shanzhi.accounts.staff import grid_workers
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from shanzhi.core.privacy import mask_id_number, mask_name
from shanzhi.geo.models import Grid

from . import validators
from . import workflow as wf
from .models import (
    Building,
    FollowUpRule,
    Gender,
    Group,
    House,
    Household,
    IdType,
    KeyPlace,
    LeftBehind,
    Member,
    Organisation,
    OrganisationKind,
    Person,
    PersonChange,
    PersonKind,
    PlaceKind,
    RiskLevel,
    Visit,
)
from .selectors import OPS_ROLES, WRITE_ROLES, visible

Check = Callable[[object], object]


# ---------------------------------------------------------------- field checks

def _aliased(aliases: Mapping[str, str], check: Check) -> Check:
    """``check`` after mapping the words people type (男, 流动人口 …) to codes."""
    def run(value):
        raw = str(value or "").strip()
        return check(aliases.get(raw, raw))
    return run


def _optional_choice(field: str, label: str, choices, aliases: Mapping[str, str] | None = None):
    return _aliased(aliases or {}, partial(validators.choice, field=field, label=label,
                                           choices=choices, required=False))


def _code(value, *, field: str, label: str, digits: int) -> str:
    """An optional national standard code of ``digits`` digits (GB/T 3304, GB/T 2260)."""
    raw = str(value or "").strip()
    if raw and not (raw.isdigit() and len(raw) == digits):
        raise ValidationError(gettext("%(label)s must be a code of %(digits)d digits.")
                              % {"label": label, "digits": digits}, field=field, code="code")
    return raw


def _letters(value, *, field: str, label: str, length: int) -> str:
    """An optional code of capital letters (GB/T 2659 country code: CHN, USA …)."""
    raw = str(value or "").strip().upper()
    if raw and not (raw.isascii() and raw.isalpha() and len(raw) == length):
        raise ValidationError(gettext("%(label)s must be a code of %(length)d letters.")
                              % {"label": label, "length": length}, field=field, code="code")
    return raw


def _count(value, *, field: str, label: str) -> int | None:
    raw = str(value if value is not None else "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationError(gettext("%(label)s must be a whole number, 0 or more.")
                              % {"label": label}, field=field, code="number")
    return int(raw)


def _coordinate(value, *, field: str, label: str, low: float, high: float) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not low <= number <= high:
        raise ValidationError(gettext("%(label)s must be a number from %(low)s to %(high)s.")
                              % {"label": label, "low": low, "high": high}, field=field,
                              code="number")
    return number


def _flag(value, *, field: str, label: str) -> bool:
    if isinstance(value, bool):
        return value
    raw = str(value if value is not None else "").strip().lower()
    if raw in ("", "1", "true", "yes", "是", "y"):
        return True
    if raw in ("0", "false", "no", "否", "n"):
        return False
    raise ValidationError(gettext("%(label)s must be yes or no.") % {"label": label},
                          field=field, code="choice")


def _identity(value) -> str:
    """The number as typed, spaces dropped, upper case: which check applies
    depends on the document (``person_clean``)."""
    number = "".join(str(value or "").split()).upper()
    if not number:
        raise ValidationError(gettext("The identity number is required."), field="id_number",
                              code="required")
    return number


def _text(field: str, label: str, max_length: int, required: bool = False) -> Check:
    return partial(validators.text, field=field, label=label, max_length=max_length,
                   required=required)


def _day(field: str, label: str, *, past: bool = False, required: bool = False) -> Check:
    def run(value):
        return validators.day(value, field=field, label=label, required=required,
                              not_after=validators.today() if past else None)
    return run


GENDER_ALIASES = {"男": Gender.MALE, "女": Gender.FEMALE, "M": Gender.MALE, "F": Gender.FEMALE}
ID_TYPE_ALIASES = {"居民身份证": IdType.RESIDENT, "身份证": IdType.RESIDENT,
                   "护照": IdType.PASSPORT, "港澳台居民居住证": IdType.HKMT,
                   "港澳台通行证": IdType.HKMT, "港澳居民来往内地通行证": IdType.HKMT,
                   "台湾居民来往大陆通行证": IdType.HKMT, "外国人永久居留身份证": IdType.PERMANENT,
                   "永久居留证": IdType.PERMANENT}
KIND_ALIASES = {"户籍": PersonKind.REGISTERED, "户籍人口": PersonKind.REGISTERED,
                "流动": PersonKind.MIGRANT, "流动人口": PersonKind.MIGRANT,
                "境外": PersonKind.OVERSEAS, "境外人员": PersonKind.OVERSEAS}
LEFT_BEHIND_ALIASES = {"留守儿童": LeftBehind.CHILD, "留守老人": LeftBehind.ELDER,
                       "留守妇女": LeftBehind.WOMAN}
ORGANISATION_KIND_ALIASES = {"企业": OrganisationKind.COMPANY, "个体工商户": OrganisationKind.SOLE,
                             "个体": OrganisationKind.SOLE, "社会组织": OrganisationKind.SOCIAL,
                             "机关事业单位": OrganisationKind.PUBLIC,
                             "机关": OrganisationKind.PUBLIC, "事业单位": OrganisationKind.PUBLIC}
GROUP_ALIASES = {"社区矫正": Group.CORRECTION, "社区矫正对象": Group.CORRECTION,
                 "刑满释放": Group.RELEASED, "刑满释放人员": Group.RELEASED,
                 "严重精神障碍": Group.MENTAL, "严重精神障碍患者": Group.MENTAL,
                 "吸毒人员": Group.DRUG, "重点青少年": Group.YOUTH, "艾滋病危险人群": Group.AIDS}
LEVEL_ALIASES = {"低": RiskLevel.LOW, "低风险": RiskLevel.LOW, "中": RiskLevel.MEDIUM,
                 "中风险": RiskLevel.MEDIUM, "高": RiskLevel.HIGH, "高风险": RiskLevel.HIGH}
PLACE_KIND_ALIASES = {"消防隐患场所": PlaceKind.FIRE, "出租房屋": PlaceKind.RENTAL,
                      "人员密集场所": PlaceKind.CROWD, "危化品场所": PlaceKind.CHEMICAL,
                      "娱乐场所": PlaceKind.ENTERTAINMENT, "其他": PlaceKind.OTHER}

#: A person's fields (the place — ``grid`` code or ``house`` id — is not
#: among them: it is decided against the actor's scope). ``id_number`` is
#: only normalised here; ``person_clean`` checks it by the document type.
PERSON_FIELDS: dict[str, Check] = {
    "name": _text("name", _l("Name"), 100, required=True),
    "former_name": _text("former_name", _l("Former name"), 100),
    "id_type": _aliased(ID_TYPE_ALIASES, lambda v: validators.choice(
        v or IdType.RESIDENT, field="id_type", label=_l("Identity document"),
        choices=IdType.choices)),
    "id_number": _identity,
    "gender": _aliased(GENDER_ALIASES, partial(validators.choice, field="gender",
                                               label=_l("Gender"), choices=Gender.choices)),
    "birth_date": _day("birth_date", _l("Date of birth"), past=True),
    "ethnicity": partial(_code, field="ethnicity", label=_l("Ethnicity"), digits=2),
    "phone": partial(validators.phone, field="phone"),
    "kind": _aliased(KIND_ALIASES, lambda v: validators.choice(
        v or PersonKind.REGISTERED, field="kind", label=_l("Kind"),
        choices=PersonKind.choices)),
    "left_behind": _optional_choice("left_behind", _l("Left behind"), LeftBehind.choices,
                                    LEFT_BEHIND_ALIASES),
    "native_place": partial(_code, field="native_place", label=_l("Native place"),
                            digits=6),
    "registered_address": _text("registered_address", _l("Registered address"), 200),
    "occupation": _text("occupation", _l("Occupation"), 50),
    "relation": _text("relation", _l("Relation to the head"), 16),
    "moved_in": _day("moved_in", _l("Moved in on"), past=True),
    "reason": _text("reason", _l("Reason for coming"), 50),
    "permit_number": _text("permit_number", _l("Residence permit number"), 32),
    "permit_issued": _day("permit_issued", _l("Permit issued on"), past=True),
    "permit_expires": _day("permit_expires", _l("Permit valid until")),
    "nationality": partial(_letters, field="nationality", label=_l("Nationality"),
                           length=3),
    "visa_expires": _day("visa_expires", _l("Visa valid until")),
    "note": _text("note", _l("Note"), 2000),
}
#: The residence permit's fields (only a migrant has them) and their labels.
PERMIT_FIELDS = {"moved_in": _l("Moved in on"), "reason": _l("Reason for coming"),
                 "permit_number": _l("Residence permit number"),
                 "permit_issued": _l("Permit issued on"),
                 "permit_expires": _l("Permit valid until")}

ORGANISATION_FIELDS: dict[str, Check] = {
    "name": _text("name", _l("Name"), 200, required=True),
    "credit_code": partial(validators.credit_code, field="credit_code"),
    "kind": _aliased(ORGANISATION_KIND_ALIASES, lambda v: validators.choice(
        v or OrganisationKind.COMPANY, field="kind", label=_l("Kind"),
        choices=OrganisationKind.choices)),
    "legal_representative": _text("legal_representative", _l("Legal representative"),
                                  100),
    "phone": partial(validators.phone, field="phone"),
    "industry": _text("industry", _l("Industry"), 50),
    "employees": partial(_count, field="employees", label=_l("Employees")),
    "address": _text("address", _l("Address"), 200),
    "lng": partial(_coordinate, field="lng", label=_l("Longitude"), low=-180, high=180),
    "lat": partial(_coordinate, field="lat", label=_l("Latitude"), low=-90, high=90),
    "established": _day("established", _l("Established on"), past=True),
}

MEMBER_FIELDS: dict[str, Check] = {
    "group": _aliased(GROUP_ALIASES, partial(validators.choice, field="group",
                                             label=_l("Special group"),
                                             choices=Group.choices)),
    "level": _aliased(LEVEL_ALIASES, lambda v: validators.choice(
        v or RiskLevel.LOW, field="level", label=_l("Risk level"),
        choices=RiskLevel.choices)),
    "since": _day("since", _l("Since"), past=True, required=True),
    "note": _text("note", _l("Note"), 2000),
}

PLACE_FIELDS: dict[str, Check] = {
    "name": _text("name", _l("Name"), 200, required=True),
    "kind": _aliased(PLACE_KIND_ALIASES, partial(validators.choice, field="kind",
                                                 label=_l("Kind"),
                                                 choices=PlaceKind.choices)),
    "level": _aliased(LEVEL_ALIASES, lambda v: validators.choice(
        v or RiskLevel.LOW, field="level", label=_l("Risk level"),
        choices=RiskLevel.choices)),
    "address": _text("address", _l("Address"), 240),
    "contact_name": _text("contact_name", _l("Contact"), 100),
    "contact_phone": partial(validators.phone, field="contact_phone"),
    "is_active": partial(_flag, field="is_active", label=_l("Active")),
    "note": _text("note", _l("Note"), 2000),
}


def _raise(problems: list[ValidationError]) -> None:
    """The first problem; with several, every one in ``details["problems"]``."""
    if not problems:
        return
    first = problems[0]
    details = dict(first.details)
    if len(problems) > 1:
        details["problems"] = [{"field": p.field, "message": p.message, "code": p.code}
                               for p in problems]
    raise ValidationError(first.message, field=first.field, code=first.code, details=details)


def _clean(fields: Mapping[str, Check], data: Mapping, *, partial_: bool
           ) -> tuple[dict, list[ValidationError]]:
    """Every field (or, for an edit, only those given) checked."""
    if partial_:
        fields = {k: v for k, v in fields.items() if k in data}
    return validators.clean(fields, data)


def person_check(values: Mapping, *, today: dt.date | None = None) -> list[ValidationError]:
    """The rules between a person's fields (``values`` cleaned and complete):
    the identity number by its document (GB 11643 for a resident card, with
    the birth date it carries, not after ``today`` — the local date if not
    given; an import passes it once), the residence permit only for a
    migrant, a permit not ending before it was issued. ``values["birth_date"]``
    is filled from a resident identity number when not given."""
    problems: list[ValidationError] = []
    number = values.get("id_number") or ""
    try:
        if values.get("id_type", IdType.RESIDENT) == IdType.RESIDENT:
            number = validators.id_number(number, field="id_number", today=today)
            born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            if values.get("birth_date") is None:
                values["birth_date"] = born  # type: ignore[index]
            elif values["birth_date"] != born:
                problems.append(ValidationError(
                    gettext("The date of birth does not agree with the identity number "
                            "(%(date)s).") % {"date": born.isoformat()}, field="birth_date",
                    code="birth_date_mismatch"))
        else:
            number = validators.document_number(number, field="id_number")
        values["id_number"] = number  # type: ignore[index]
    except ValidationError as error:
        problems.insert(0, error)
    if values.get("kind", PersonKind.MIGRANT) != PersonKind.MIGRANT:  # (absent: kind refused)
        for name, label in PERMIT_FIELDS.items():
            if values.get(name):
                problems.append(ValidationError(
                    gettext("Only a migrant has residence permit details (%(field)s): set the "
                            "kind to migrant or leave it empty.") % {"field": label},
                    field=name, code="migrant_only"))
    issued, expires = values.get("permit_issued"), values.get("permit_expires")
    if issued and expires and expires < issued:
        problems.append(ValidationError(gettext("The permit ends before it was issued."),
                                        field="permit_expires", code="date_order"))
    return problems


def person_clean(data: Mapping) -> tuple[dict, list[ValidationError]]:
    """A new person's fields cleaned (``PERSON_FIELDS``, then ``person_check``)
    and every problem found: what ``person_create`` and the importer use."""
    cleaned, problems = validators.clean(PERSON_FIELDS, data)
    if not any(p.field in ("id_number", "id_type") for p in problems):
        problems += person_check(cleaned)
    return cleaned, problems


# ---------------------------------------------------------------- helpers

def _writer(actor: User, roles=WRITE_ROLES) -> Scope:
    if not (actor.is_superuser or actor.role in roles):
        raise PermissionDenied(gettext("Your role may not change the registries.")
                               if roles is WRITE_ROLES else
                               gettext("Only an operator or the city administrator may do "
                                       "this."))
    return Scope.for_user(actor)


def _json(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _in_scope(scope: Scope, model, pk, field: str, label: str):
    """The row ``pk`` of ``model`` inside the scope, or a ValidationError on ``field``."""
    try:
        key = int(getattr(pk, "pk", pk))
    except (TypeError, ValueError):
        key = None
    found = visible(scope, model).filter(pk=key).first() if key is not None else None
    if found is None:
        raise ValidationError(gettext("No %(what)s %(id)s in your territory.")
                              % {"what": label, "id": pk}, field=field, code="not_found")
    return found


def _grid(scope: Scope, code, field: str = "grid") -> Grid:
    if isinstance(code, Grid):
        code = code.code
    grid = scope.grids().filter(code=str(code or "").strip()).first()
    if grid is None:
        raise ValidationError(gettext("No grid %(code)s in your territory.")
                              % {"code": code}, field=field, code="not_found")
    return grid


def _place_of(scope: Scope, data: Mapping, *, anchor_model, anchor: str,
              anchor_label: str, current=None):
    """(grid, anchor) of a new or moved row: ``anchor`` (a house or a building
    id) gives the grid; else the ``grid`` code. A grid given with an anchor
    must be the anchor's."""
    given_anchor = data.get(anchor) not in (None, "")
    given_grid = data.get("grid") not in (None, "")
    if given_anchor:
        found = _in_scope(scope, anchor_model, data[anchor], anchor, anchor_label)
        if given_grid and str(data["grid"]) not in (found.grid.code, str(found.grid_id)):
            raise ValidationError(gettext("The grid is not the one of the %(what)s.")
                                  % {"what": anchor_label}, field="grid", code="mismatch")
        return found.grid, found
    if given_grid:
        return _grid(scope, data["grid"]), None
    if current is not None:
        return current
    raise ValidationError(gettext("Give the grid (its code) or the %(what)s (its id).")
                          % {"what": anchor_label}, field="grid", code="required")


def _duplicate(scope: Scope, model, found, *, field: str, shown: str) -> Conflict:
    """The refusal of a second record with the same number: naming the
    existing one (masked) inside the actor's scope, plain outside it."""
    if found is not None and visible(scope, model).filter(pk=found.pk).exists():
        return Conflict(gettext("Already registered: %(record)s.") % {"record": shown},
                        field=field, code="duplicate",
                        details={model._meta.model_name: found.pk})
    return Conflict(gettext("This number is already registered; it cannot be registered "
                            "again."), field=field, code="duplicate")


def _person_duplicate(scope: Scope, id_type: str, id_number: str,
                      exclude: int | None = None) -> Conflict | None:
    found = (Person.objects.filter(id_type=id_type, id_number=id_number,
                                   merged_into__isnull=True).exclude(pk=exclude).first())
    if found is None:
        return None
    return _duplicate(scope, Person, found, field="id_number",
                      shown=f"{mask_name(found.name)}（{mask_id_number(found.id_number)}）")


def _stale(what: str) -> Conflict:
    return Conflict(gettext("This %(what)s was changed by someone else in the meantime: "
                            "reload it and make your change again.") % {"what": what},
                    field="version", code="stale")


def _compare_and_set(model, obj, version, values: dict, what: str) -> None:
    """Write ``values`` only if the row is still at ``version``; a stale
    version (or a lost race) is a Conflict."""
    try:
        version = int(version)
    except (TypeError, ValueError):
        raise ValidationError(gettext("The version is required."), field="version",
                              code="required") from None
    now = timezone.now()
    if "grid" in values:
        values["path"] = values["grid"].path
    updated = model.objects.filter(pk=obj.pk, version=version).update(
        **values, updated_at=now, version=version + 1)
    if not updated:
        raise _stale(what)
    for name, value in values.items():
        setattr(obj, name, value)
    obj.updated_at, obj.version = now, version + 1


def _changes(obj, values: Mapping) -> dict:
    """Only what differs: field → [before, after]."""
    out = {}
    for name, after in values.items():
        before = getattr(obj, name)
        if before != after:
            out[name] = [_json(before), _json(after)]
    return out


def _plan(kind: str, obj) -> None:
    """The follow-up task of a member, a key place or a permit (``visits``)."""
    from . import visits

    {"member": visits.plan_member, "place": visits.plan_place,
     "permit": visits.plan_permit}[kind](obj)


# ---------------------------------------------------------------- people

def person_create(*, actor: User, data: Mapping, source: str = "form") -> Person:
    """A new person at a house (``house`` id) or in a grid (``grid`` code)
    of the actor's territory, one per identity number. ``source`` "import"
    records the change as an import."""
    scope = _writer(actor)
    cleaned, problems = person_clean(data)
    place = None
    try:
        place = _place_of(scope, data, anchor_model=House, anchor="house",
                          anchor_label=gettext("house"))
    except ValidationError as error:
        problems.append(error)
    _raise(problems)
    grid, house = place
    duplicate = _person_duplicate(scope, cleaned["id_type"], cleaned["id_number"])
    if duplicate is not None:
        raise duplicate
    person = Person(**cleaned, grid=grid, house=house)
    try:
        with transaction.atomic():
            person.save()
            PersonChange.objects.create(
                person=person, actor=actor, at=person.created_at,
                action="import" if source == "import" else "create",
                changes={k: [None, _json(v)] for k, v in cleaned.items() if v not in ("", None)}
                | {"grid": [None, grid.code]} | ({"house": [None, house.pk]} if house else {}))
            if person.kind == PersonKind.MIGRANT and person.permit_expires:
                _plan("permit", person)
    except IntegrityError:  # the same number registered at the same moment
        raise (_person_duplicate(scope, cleaned["id_type"], cleaned["id_number"])
               or Conflict(gettext("This number is already registered; it cannot be "
                                   "registered again."), field="id_number",
                           code="duplicate")) from None
    return person


def _editable(scope: Scope, model, obj, what: str):
    if not visible(scope, model).filter(pk=obj.pk).exists():
        raise NotFound(gettext("No such %(what)s in your territory.") % {"what": what},
                       field="id")


def person_update(*, actor: User, person: Person, version: int, data: Mapping) -> Person:
    """Change the fields given in ``data`` (and the place: ``house`` id or
    ``grid`` code), if the person is still at ``version``."""
    scope = _writer(actor)
    _editable(scope, Person, person, gettext("person"))
    if person.merged_into_id:
        raise Conflict(gettext("This person was merged into another record: edit that one."),
                       field="id", code="merged")
    cleaned, problems = _clean(PERSON_FIELDS, data, partial_=True)
    values = {name: getattr(person, name) for name in PERSON_FIELDS} | cleaned
    if ("birth_date" not in data and {"id_number", "id_type"} & data.keys()
            and values["id_type"] == IdType.RESIDENT):
        values["birth_date"] = None  # taken again from the new number
    if not any(p.field in ("id_number", "id_type") for p in problems):
        problems += person_check(values)
    place = (person.grid, person.house)
    if data.get("house") not in (None, "") or data.get("grid") not in (None, ""):
        try:
            place = _place_of(scope, data, anchor_model=House, anchor="house",
                              anchor_label=gettext("house"))
        except ValidationError as error:
            problems.append(error)
    _raise(problems)
    values["grid"], values["house"] = place
    changes = _changes(person, values)
    if "grid" in changes:
        changes["grid"] = [person.grid.code, place[0].code]
    if ({"id_type", "id_number"} & changes.keys()):
        duplicate = _person_duplicate(scope, values["id_type"], values["id_number"],
                                      exclude=person.pk)
        if duplicate is not None:
            raise duplicate
    new = {name: values[name] for name in changes}
    try:
        with transaction.atomic():
            _compare_and_set(Person, person, version, new, gettext("person"))
            if changes:
                PersonChange.objects.create(person=person, actor=actor, at=person.updated_at,
                                            action="edit", changes=changes)
            if "permit_expires" in changes or "kind" in changes:
                _plan("permit", person)
    except IntegrityError:
        raise (_person_duplicate(scope, values["id_type"], values["id_number"],
                                 exclude=person.pk) or _stale(gettext("person"))) from None
    return person


#: What a merge copies from the duplicate where the kept record has nothing.
MERGE_FILLS = ("former_name", "birth_date", "ethnicity", "phone", "left_behind",
               "native_place", "registered_address", "occupation", "employer", "house",
               "relation", "moved_in", "reason", "permit_number", "permit_issued",
               "permit_expires", "nationality", "visa_expires")


def person_merge(*, actor: User, keep: Person, duplicate: Person) -> Person:
    """Merge ``duplicate`` into ``keep``: its memberships, follow-up tasks and
    household links move to ``keep`` (a membership of a group ``keep``
    already belongs to is ended), what ``keep`` lacks is copied from it, and
    it stays as a row pointing to ``keep`` (``merged_into``). Both get a
    ``PersonChange``; ``person_history(keep)`` shows both histories."""
    scope = _writer(actor, OPS_ROLES)
    for person in (keep, duplicate):
        _editable(scope, Person, person, gettext("person"))
    if keep.pk == duplicate.pk:
        raise ValidationError(gettext("A person cannot be merged into itself."),
                              field="duplicate", code="same")
    now = timezone.now()
    with transaction.atomic():
        locked = {p.pk: p for p in Person.objects.select_for_update().filter(
            pk__in=[keep.pk, duplicate.pk])}
        keep, duplicate = locked[keep.pk], locked[duplicate.pk]
        if keep.merged_into_id or duplicate.merged_into_id:
            raise Conflict(gettext("One of these people was merged already."),
                           field="duplicate", code="merged")
        moved: dict[str, list[int]] = {}
        # memberships: one active per group
        kept_groups = set(keep.memberships.filter(ended_on__isnull=True)
                          .values_list("group", flat=True))
        for member in duplicate.memberships.all():
            if member.ended_on is None and member.group in kept_groups:
                Member.objects.filter(pk=member.pk).update(ended_on=timezone.localdate(now),
                                                           updated_at=now)
                member.ended_on = timezone.localdate(now)
                _plan("member", member)  # its open task is cancelled
            moved.setdefault("memberships", []).append(member.pk)
        duplicate.memberships.update(person=keep, grid=keep.grid, path=keep.path,
                                     updated_at=now)
        # follow-up tasks: at most one open permit task per person
        visits = Visit.objects.filter(person=duplicate)
        if Visit.objects.filter(person=keep, kind=wf.PERMIT, state=wf.DUE).exists():
            from . import visits as planning

            for task in visits.filter(kind=wf.PERMIT, state=wf.DUE):
                planning.system_cancel(task, "merged", now)
        moved["visits"] = list(visits.values_list("pk", flat=True))
        visits.update(person=keep)
        # households
        heads = list(Household.objects.filter(head=duplicate).values_list("pk", flat=True))
        Household.objects.filter(head=duplicate).update(head=keep)
        if heads:
            moved["households_headed"] = heads
        fills = {name: getattr(duplicate, name) for name in MERGE_FILLS
                 if getattr(keep, name) in ("", None) and getattr(duplicate, name) not in ("",
                                                                                         None)}
        if keep.household_id is None and duplicate.household_id:
            fills["household"] = duplicate.household
        if "house" in fills and fills["house"].grid_id != keep.grid_id:
            del fills["house"]  # not across grids: the kept record's place stands
        changes = _changes(keep, fills)
        for name, value in fills.items():
            setattr(keep, name, value)
        keep.updated_at, keep.version = now, keep.version + 1
        keep.save()
        duplicate.merged_into, duplicate.household = keep, None
        duplicate.updated_at, duplicate.version = now, duplicate.version + 1
        duplicate.save(update_fields=["merged_into", "household", "updated_at", "version"])
        PersonChange.objects.create(person=keep, actor=actor, at=now, action="merge",
                                    changes={"merged": [None, duplicate.pk], **changes,
                                             **{k: [None, v] for k, v in moved.items()}})
        PersonChange.objects.create(person=duplicate, actor=actor, at=now, action="merge",
                                    changes={"merged_into": [None, keep.pk]})
    return keep


def person_history(person: Person) -> list[PersonChange]:
    """The person's changes and those of everyone merged into them (at any
    depth), oldest first."""
    ids, frontier = {person.pk}, {person.pk}
    while frontier:
        frontier = set(Person.objects.filter(merged_into__in=frontier)
                       .values_list("pk", flat=True)) - ids
        ids |= frontier
    return list(PersonChange.objects.filter(person_id__in=ids).select_related("actor")
                .order_by("at", "id"))


# ---------------------------------------------------------------- organisations

def _organisation_duplicate(scope: Scope, code: str, exclude: int | None = None):
    found = Organisation.objects.filter(credit_code=code).exclude(pk=exclude).first()
    if found is None:
        return None
    return _duplicate(scope, Organisation, found, field="credit_code",
                      shown=f"{found.name}（{found.credit_code}）")


def _organisation_place(scope: Scope, data: Mapping, current=None):
    return _place_of(scope, data, anchor_model=Building, anchor="building",
                     anchor_label=gettext("building"), current=current)


def organisation_create(*, actor: User, data: Mapping) -> Organisation:
    """A new organisation at a building (``building`` id) or in a grid
    (``grid`` code); one per credit code (GB 32100)."""
    scope = _writer(actor)
    cleaned, problems = validators.clean(ORGANISATION_FIELDS, data)
    place = None
    try:
        place = _organisation_place(scope, data)
    except ValidationError as error:
        problems.append(error)
    _raise(problems)
    grid, building = place
    duplicate = _organisation_duplicate(scope, cleaned["credit_code"])
    if duplicate is not None:
        raise duplicate
    if building is not None:
        cleaned["address"] = cleaned["address"] or building.address
        if cleaned["lng"] is None or cleaned["lat"] is None:
            cleaned["lng"], cleaned["lat"] = building.lng, building.lat
    try:
        with transaction.atomic():
            return Organisation.objects.create(**cleaned, grid=grid, building=building)
    except IntegrityError:
        raise (_organisation_duplicate(scope, cleaned["credit_code"])
               or _stale(gettext("organisation"))) from None


def organisation_update(*, actor: User, organisation: Organisation, version: int,
                        data: Mapping) -> Organisation:
    scope = _writer(actor)
    _editable(scope, Organisation, organisation, gettext("organisation"))
    cleaned, problems = _clean(ORGANISATION_FIELDS, data, partial_=True)
    place = (organisation.grid, organisation.building)
    try:
        place = _organisation_place(scope, data, current=place)
    except ValidationError as error:
        problems.append(error)
    _raise(problems)
    cleaned["grid"], cleaned["building"] = place
    if "credit_code" in cleaned and cleaned["credit_code"] != organisation.credit_code:
        duplicate = _organisation_duplicate(scope, cleaned["credit_code"],
                                            exclude=organisation.pk)
        if duplicate is not None:
            raise duplicate
    new = {k: v for k, v in cleaned.items() if getattr(organisation, k) != v}
    try:
        with transaction.atomic():
            _compare_and_set(Organisation, organisation, version, new,
                             gettext("organisation"))
    except IntegrityError:
        raise (_organisation_duplicate(scope, cleaned.get("credit_code", ""),
                                       exclude=organisation.pk)
               or _stale(gettext("organisation"))) from None
    return organisation


# ---------------------------------------------------------------- special groups

def _worker(grid_id: int, worker) -> User | None:
    """A grid worker of the grid (a user, an id or a username), or None."""
    if worker in (None, ""):
        return None
    if isinstance(worker, User):
        found = worker
    else:
        lookup = {"pk": int(worker)} if str(worker).isdigit() else {"username": str(worker)}
        found = User.objects.filter(**lookup, is_active=True).first()
    if found is None or found.pk not in grid_workers(grid_id):
        raise ValidationError(gettext("%(worker)s is not a grid worker of this grid.")
                              % {"worker": getattr(found, "username", worker)}, field="worker",
                              code="not_grid_worker")
    return found


def _details(details) -> dict:
    if details in (None, ""):
        return {}
    if not isinstance(details, Mapping):
        raise ValidationError(gettext("The details must be pairs of a name and a value."),
                              field="details", code="details")
    return {str(k): _json(v) for k, v in details.items()}


def member_create(*, actor: User, person: Person, group, level, since, worker=None,
                  details=None, note: str = "") -> Member:
    """``person`` joins a special group at a risk level (one active
    membership per group); the first follow-up task is planned."""
    scope = _writer(actor)
    _editable(scope, Person, person, gettext("person"))
    cleaned, problems = validators.clean(MEMBER_FIELDS, {"group": group, "level": level,
                                                         "since": since, "note": note})
    try:
        found_worker = _worker(person.grid_id, worker)
    except ValidationError as error:
        problems.append(error)
        found_worker = None
    try:
        cleaned_details = _details(details)
    except ValidationError as error:
        problems.append(error)
        cleaned_details = {}
    _raise(problems)
    if person.merged_into_id:
        raise Conflict(gettext("This person was merged into another record: use that one."),
                       field="person", code="merged")
    current = Member.objects.filter(person=person, group=cleaned["group"],
                                    ended_on__isnull=True).first()
    if current is not None:
        raise Conflict(gettext("This person is already a member of this group."),
                       field="group", code="duplicate", details={"member": current.pk})
    try:
        with transaction.atomic():
            member = Member.objects.create(person=person, grid_id=person.grid_id,
                                           path=person.path, worker=found_worker,
                                           details=cleaned_details, **cleaned)
            _plan("member", member)
    except IntegrityError:
        raise Conflict(gettext("This person is already a member of this group."),
                       field="group", code="duplicate") from None
    return member


def member_update(*, actor: User, member: Member, version: int, data: Mapping) -> Member:
    """Change the level, the worker, the details or the note (a new level
    replans the open task with the new level's interval)."""
    scope = _writer(actor)
    _editable(scope, Member, member, gettext("member"))
    if member.ended_on is not None:
        raise Conflict(gettext("This membership has ended."), field="id", code="ended")
    fields = {k: v for k, v in MEMBER_FIELDS.items() if k != "group"}
    cleaned, problems = _clean(fields, data, partial_=True)
    if "worker" in data:
        try:
            cleaned["worker"] = _worker(member.grid_id, data["worker"])
        except ValidationError as error:
            problems.append(error)
    if "details" in data:
        try:
            cleaned["details"] = _details(data["details"])
        except ValidationError as error:
            problems.append(error)
    _raise(problems)
    new = {k: v for k, v in cleaned.items() if getattr(member, k) != v}
    with transaction.atomic():
        _compare_and_set(Member, member, version, new, gettext("member"))
        if new.keys() & {"level", "worker"}:
            _plan("member", member)
    return member


def member_end(*, actor: User, member: Member, ended_on=None, version: int | None = None,
               note: str = "") -> Member:
    """The member leaves the group (``ended_on``, today if not given): no
    more follow-up; the open task is cancelled."""
    scope = _writer(actor)
    _editable(scope, Member, member, gettext("member"))
    if member.ended_on is not None:
        return member
    day = validators.day(ended_on, field="ended_on", label=gettext("Ended on"),
                         not_after=validators.today()) or validators.today()
    if day < member.since:
        raise ValidationError(gettext("A membership cannot end before it began."),
                              field="ended_on", code="date_order")
    values: dict = {"ended_on": day}
    if note:
        values["note"] = validators.text(note, field="note", label=gettext("Note"),
                                         max_length=2000)
    with transaction.atomic():
        _compare_and_set(Member, member, member.version if version is None else version,
                         values, gettext("member"))
        _plan("member", member)
    return member


def rule_set(group: str, level: str, interval: int, *, actor: User | None = None
             ) -> FollowUpRule:
    """The working days between visits of a group's members at a level (the
    city's rule; tasks planned from now on follow it)."""
    if actor is not None:
        _writer(actor, OPS_ROLES)
    cleaned, problems = validators.clean(
        {"group": MEMBER_FIELDS["group"], "level": MEMBER_FIELDS["level"],
         "interval": partial(_count, field="interval", label=gettext("Working days"))},
        {"group": group, "level": level, "interval": interval})
    if not problems and not 1 <= (cleaned["interval"] or 0) <= 250:
        problems.append(ValidationError(gettext("The interval must be 1 to 250 working days."),
                                        field="interval", code="range"))
    _raise(problems)
    rule, _created = FollowUpRule.objects.update_or_create(
        group=cleaned["group"], level=cleaned["level"],
        defaults={"interval": cleaned["interval"]})
    return rule


# ---------------------------------------------------------------- key places

def _place_links(scope: Scope, data: Mapping, grid: Grid) -> tuple[dict, list]:
    out, problems = {}, []
    if "organisation" in data:
        try:
            out["organisation"] = (None if data["organisation"] in (None, "") else _in_scope(
                scope, Organisation, data["organisation"], "organisation",
                gettext("organisation")))
        except ValidationError as error:
            problems.append(error)
    if "worker" in data:
        try:
            out["worker"] = _worker(grid.pk, data["worker"])
        except ValidationError as error:
            problems.append(error)
    return out, problems


def _key_place_location(scope: Scope, data: Mapping, current=None):
    """(grid, building, house): a house gives its building and grid."""
    if data.get("house") not in (None, ""):
        grid, house = _place_of(scope, data, anchor_model=House, anchor="house",
                                anchor_label=gettext("house"))
        return grid, house.building, house
    if data.get("building") not in (None, ""):
        grid, building = _place_of(scope, data, anchor_model=Building, anchor="building",
                                   anchor_label=gettext("building"))
        return grid, building, None
    if data.get("grid") not in (None, "") or current is None:
        grid, _none = _place_of(scope, data, anchor_model=Building, anchor="building",
                                anchor_label=gettext("building"))
        return grid, None, None
    return current


def place_create(*, actor: User, data: Mapping) -> KeyPlace:
    """A key place at a house, a building or in a grid; its first inspection
    is planned."""
    scope = _writer(actor)
    cleaned, problems = validators.clean(PLACE_FIELDS, data)
    location = None
    try:
        location = _key_place_location(scope, data)
    except ValidationError as error:
        problems.append(error)
    links, more = _place_links(scope, data, location[0]) if location else ({}, [])
    _raise(problems + more)
    grid, building, house = location
    if not cleaned["address"]:
        cleaned["address"] = (house or building).address if (house or building) else ""
    with transaction.atomic():
        place = KeyPlace.objects.create(**cleaned, **links, grid=grid, building=building,
                                        house=house)
        _plan("place", place)
    return place


def place_update(*, actor: User, place: KeyPlace, version: int, data: Mapping) -> KeyPlace:
    scope = _writer(actor)
    _editable(scope, KeyPlace, place, gettext("key place"))
    cleaned, problems = _clean(PLACE_FIELDS, data, partial_=True)
    location = (place.grid, place.building, place.house)
    try:
        location = _key_place_location(scope, data, current=location)
    except ValidationError as error:
        problems.append(error)
    links, more = _place_links(scope, data, location[0])
    _raise(problems + more)
    cleaned |= links
    cleaned["grid"], cleaned["building"], cleaned["house"] = location
    new = {k: v for k, v in cleaned.items() if getattr(place, k) != v}
    with transaction.atomic():
        _compare_and_set(KeyPlace, place, version, new, gettext("key place"))
        if new.keys() & {"is_active", "worker", "grid"}:
            _plan("place", place)
    return place


__all__ = [
    "MEMBER_FIELDS", "ORGANISATION_FIELDS", "PERSON_FIELDS", "PLACE_FIELDS",
    "member_create", "member_end", "member_update", "organisation_create",
    "organisation_update", "person_check", "person_clean", "person_create", "person_history",
    "person_merge", "person_update", "place_create", "place_update", "rule_set",
]
