"""The grid's base data (人地事物组织, GB/T 31000-2015): buildings and houses
with their standard addresses (标准地址), households, people (实有人口:
registered residents, migrants with residence permits, overseas persons,
left-behind persons), organisations (单位/企业/社会组织), special-group
members (特殊人群) with their follow-up rules, key places (重点场所), and
the follow-up task (走访/随访/检查) — a case type of the engine.

Every row that belongs to the territory carries its grid and a copy of the
grid's community path (``path``): what ``Scope.filter`` reads (the one place
territory is decided, ``registry.selectors.visible``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.cases.models import Attachment as BaseAttachment
from shanzhi.cases.models import Case, Entry, Stage
from shanzhi.geo.models import Grid, Region

from . import workflow as wf

PATH_INDEX = {"opclasses": ["varchar_pattern_ops"]}


class Placed(models.Model):
    """A row located to a grid: the grid and a copy of its community path."""

    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT,
                             related_name="+")
    #: The grid's community path, copied on save: what the scope filters on.
    path = models.CharField(max_length=255, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    #: Goes up with every change: an edit carrying an older version is a conflict.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self.path = self.grid.path
        super().save(*args, **kwargs)


# ---------------------------------------------------------------- places

class Building(Placed):
    """A building (楼栋) at a standard address: community, road, door number
    (门牌号), the estate's name (小区) and the building's number (幢)."""

    community = models.ForeignKey(Region, verbose_name=_("community"), on_delete=models.PROTECT,
                                  related_name="+")
    road = models.CharField(_("road"), max_length=50)
    number = models.CharField(_("door number"), max_length=20)
    estate = models.CharField(_("estate"), max_length=50, blank=True)
    building = models.CharField(_("building"), max_length=20, blank=True)
    #: WGS-84.
    lng = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    #: The standard address as a citizen reads it: 姑苏区平江街道平江路88号(平江花园)3幢.
    address = models.CharField(_("standard address"), max_length=200)
    #: ``addresses.key`` of the address: what a typed address is matched against.
    key = models.CharField(max_length=200, unique=True)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["path", "road", "number", "building"]
        indexes = [models.Index(fields=["path"], name="building_path", **PATH_INDEX),
                   # a typed address without its community: the buildings at a door
                   models.Index(fields=["road", "number"], name="building_road_number")]

    def __str__(self) -> str:
        return self.address


class HouseUse(models.TextChoices):
    OWN = "own", _("Lived in by the owner")
    RENTED = "rented", _("Rented out")
    EMPTY = "empty", _("Empty")
    BUSINESS = "business", _("Business")
    OTHER = "other", _("Other")


class House(Placed):
    """A house or flat (房屋): a building's unit and room; its standard address
    is the building's with 单元 and 室."""

    building = models.ForeignKey(Building, verbose_name=_("building"), on_delete=models.PROTECT,
                                 related_name="houses")
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    room = models.CharField(_("room"), max_length=20)
    use = models.CharField(_("use"), max_length=16, choices=HouseUse.choices,
                           default=HouseUse.OWN)
    area = models.DecimalField(_("floor area (m²)"), max_digits=8, decimal_places=2,
                               null=True, blank=True)
    owner_name = models.CharField(_("owner"), max_length=100, blank=True)
    owner_phone = models.CharField(_("owner's phone"), max_length=32, blank=True)
    address = models.CharField(_("standard address"), max_length=240)
    key = models.CharField(max_length=240, unique=True)

    class Meta:
        verbose_name = _("house")
        verbose_name_plural = _("houses")
        ordering = ["building", "unit", "room"]
        # the unique key has its own pattern index on PostgreSQL (key LIKE 'prefix%')
        indexes = [models.Index(fields=["path"], name="house_path", **PATH_INDEX)]

    def __str__(self) -> str:
        return self.address


class Household(models.Model):
    """A household (户) living in a house: 家庭户 or 集体户, registered here (户籍户) or not."""

    class Kind(models.TextChoices):
        FAMILY = "family", _("Family household")
        COLLECTIVE = "collective", _("Collective household")

    number = models.CharField(_("household number"), max_length=32, unique=True)
    house = models.ForeignKey(House, verbose_name=_("house"), on_delete=models.PROTECT,
                              related_name="households")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices,
                            default=Kind.FAMILY)
    registered = models.BooleanField(_("registered here (户籍户)"), default=True)
    head = models.ForeignKey("Person", verbose_name=_("head of household"), null=True,
                             blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


# ---------------------------------------------------------------- people

class PersonKind(models.TextChoices):
    REGISTERED = "registered", _("Registered resident")  # 户籍人口
    MIGRANT = "migrant", _("Migrant")  # 流动人口
    OVERSEAS = "overseas", _("Overseas person")  # 境外人员


class IdType(models.TextChoices):
    RESIDENT = "resident", _("Resident identity card")  # 居民身份证 (GB 11643)
    PASSPORT = "passport", _("Passport")
    HKMT = "hkmt", _("Hong Kong, Macao or Taiwan permit")
    PERMANENT = "permanent", _("Foreigner's permanent residence card")


class Gender(models.TextChoices):
    """GB/T 2261.1."""

    MALE = "1", _("Male")
    FEMALE = "2", _("Female")


class LeftBehind(models.TextChoices):
    """留守人员."""

    CHILD = "child", _("Left-behind child")
    ELDER = "elder", _("Left-behind elder")
    WOMAN = "woman", _("Left-behind woman")


class Person(Placed):
    """A person living or staying in the grid (实有人口). One person per
    identity number: a duplicate is merged (``services.person_merge``) and
    then points to the survivor (``merged_into``); both histories stay."""

    name = models.CharField(_("name"), max_length=100)
    former_name = models.CharField(_("former name"), max_length=100, blank=True)
    id_type = models.CharField(_("identity document"), max_length=16, choices=IdType.choices,
                               default=IdType.RESIDENT)
    id_number = models.CharField(_("identity number"), max_length=32)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices)
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    #: GB/T 3304 (01 汉族 …).
    ethnicity = models.CharField(_("ethnicity"), max_length=2, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=PersonKind.choices,
                            default=PersonKind.REGISTERED)
    left_behind = models.CharField(_("left behind"), max_length=8, choices=LeftBehind.choices,
                                   blank=True)
    #: GB/T 2260 code of the native place (籍贯) / the registered place (户籍地).
    native_place = models.CharField(_("native place"), max_length=6, blank=True)
    registered_address = models.CharField(_("registered address"), max_length=200, blank=True)
    occupation = models.CharField(_("occupation"), max_length=50, blank=True)
    employer = models.ForeignKey("Organisation", verbose_name=_("employer"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+")
    house = models.ForeignKey(House, verbose_name=_("house"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="people")
    household = models.ForeignKey(Household, verbose_name=_("household"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="members")
    relation = models.CharField(_("relation to the head"), max_length=16, blank=True)
    # migrants (流动人口) and their residence permit (居住证)
    moved_in = models.DateField(_("moved in on"), null=True, blank=True)
    reason = models.CharField(_("reason for coming"), max_length=50, blank=True)
    permit_number = models.CharField(_("residence permit number"), max_length=32, blank=True)
    permit_issued = models.DateField(_("permit issued on"), null=True, blank=True)
    permit_expires = models.DateField(_("permit valid until"), null=True, blank=True)
    # overseas persons (境外人员)
    nationality = models.CharField(_("nationality"), max_length=3, blank=True)  # GB/T 2659
    visa_expires = models.DateField(_("visa valid until"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("merged into"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="merged")

    class Meta:
        verbose_name = _("person")
        verbose_name_plural = _("people")
        ordering = ["name", "id"]
        constraints = [
            # one (current) person per identity number
            models.UniqueConstraint(fields=["id_type", "id_number"],
                                    condition=Q(merged_into__isnull=True),
                                    name="person_one_per_id_number"),
        ]
        indexes = [
            models.Index(fields=["path"], name="person_path", **PATH_INDEX),
            # the searches: a name's or a number's beginning (LIKE 'q%'); a house's
            # and a grid's people go by the foreign keys' own indexes
            models.Index(fields=["name", "id"], name="person_name",
                         opclasses=["varchar_pattern_ops", "int8_ops"]),
            models.Index(fields=["id_number"], name="person_id_number", **PATH_INDEX),
            models.Index(fields=["phone"], name="person_phone", **PATH_INDEX),
            models.Index(fields=["permit_expires"], name="person_permit_expires",
                         condition=Q(kind="migrant")),
        ]

    def __str__(self) -> str:
        return self.name


class PersonChange(models.Model):
    """One change of a person's record: who, when, how (created, edited,
    imported, merged) and the fields' values before and after. A merged
    person's changes stay on its own id; the survivor's history shows both."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True,
                              blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("at"), default=timezone.now)
    action = models.CharField(_("action"), max_length=16)
    #: field → [before, after] (identity numbers and phones as they were: this
    #: table is read only through the masking selectors).
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("change of a person")
        verbose_name_plural = _("changes of people")
        ordering = ["person", "at", "id"]

    def __str__(self) -> str:
        return f"{self.person_id} {self.action} {self.at:%Y-%m-%d}"


# ---------------------------------------------------------------- organisations

class OrganisationKind(models.TextChoices):
    COMPANY = "company", _("Company")  # 企业
    SOLE = "sole", _("Individual business")  # 个体工商户
    SOCIAL = "social", _("Social organisation")  # 社会组织
    PUBLIC = "public", _("Public body")  # 机关事业单位


class Organisation(Placed):
    """A company, business, social organisation or public body (单位/企业/社会组织)."""

    name = models.CharField(_("name"), max_length=200)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=OrganisationKind.choices,
                            default=OrganisationKind.COMPANY)
    legal_representative = models.CharField(_("legal representative"), max_length=100,
                                            blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    industry = models.CharField(_("industry"), max_length=50, blank=True)
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    building = models.ForeignKey(Building, verbose_name=_("building"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="organisations")
    address = models.CharField(_("address"), max_length=200, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    established = models.DateField(_("established on"), null=True, blank=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["path"], name="organisation_path", **PATH_INDEX),
                   models.Index(fields=["name", "id"], name="organisation_name",
                                opclasses=["varchar_pattern_ops", "int8_ops"])]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- special groups

class Group(models.TextChoices):
    """特殊人群."""

    CORRECTION = "correction", _("Community correction")  # 社区矫正
    RELEASED = "released", _("Released prisoner")  # 刑满释放
    MENTAL = "mental", _("Severe mental disorder")  # 严重精神障碍
    DRUG = "drug", _("Drug user")  # 吸毒人员
    YOUTH = "youth", _("Key youth")  # 重点青少年
    AIDS = "aids", _("AIDS risk")  # 艾滋病危险人群


class RiskLevel(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class FollowUpRule(models.Model):
    """How often a group's members at a risk level are visited, in working
    days (``workflow.DEFAULT_INTERVAL`` where no rule is set)."""

    group = models.CharField(_("special group"), max_length=16, choices=Group.choices)
    level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices)
    interval = models.PositiveIntegerField(_("working days between visits"))

    class Meta:
        verbose_name = _("follow-up rule")
        verbose_name_plural = _("follow-up rules")
        ordering = ["group", "level"]
        constraints = [models.UniqueConstraint(fields=["group", "level"],
                                               name="followuprule_group_level")]

    def __str__(self) -> str:
        return f"{self.group} {self.level} {self.interval}"


class Member(Placed):
    """A person's membership of a special group, with its risk level and the
    grid worker who follows them up. ``ended_on`` set: no longer followed."""

    person = models.ForeignKey(Person, verbose_name=_("person"), on_delete=models.PROTECT,
                               related_name="memberships")
    group = models.CharField(_("special group"), max_length=16, choices=Group.choices)
    level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices,
                             default=RiskLevel.LOW)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("grid worker"),
                               null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    since = models.DateField(_("since"))
    ended_on = models.DateField(_("ended on"), null=True, blank=True)
    #: The group's own facts (矫正类别, 管控情况 …), as the import or the form gave them.
    details = models.JSONField(_("details"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("special-group member")
        verbose_name_plural = _("special-group members")
        ordering = ["group", "-level", "id"]
        constraints = [models.UniqueConstraint(fields=["person", "group"],
                                               condition=Q(ended_on__isnull=True),
                                               name="member_one_active_per_group")]
        indexes = [models.Index(fields=["path"], name="member_path", **PATH_INDEX)]

    def __str__(self) -> str:
        return f"{self.person_id} {self.group}"


# ---------------------------------------------------------------- key places

class PlaceKind(models.TextChoices):
    FIRE = "fire", _("Fire hazard site")  # 消防隐患场所
    RENTAL = "rental", _("Rental housing")  # 出租房屋
    CROWD = "crowd", _("Crowded place")  # 人员密集场所
    CHEMICAL = "chemical", _("Hazardous chemicals")  # 危化品场所
    ENTERTAINMENT = "entertainment", _("Entertainment venue")  # 娱乐场所
    OTHER = "other", _("Other")


class KeyPlace(Placed):
    """A key place (重点场所) inspected on a schedule."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=PlaceKind.choices)
    level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices,
                             default=RiskLevel.LOW)
    building = models.ForeignKey(Building, verbose_name=_("building"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    house = models.ForeignKey(House, verbose_name=_("house"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    organisation = models.ForeignKey(Organisation, verbose_name=_("organisation"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    address = models.CharField(_("address"), max_length=240, blank=True)
    contact_name = models.CharField(_("contact"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact's phone"), max_length=32, blank=True)
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("grid worker"),
                               null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    is_active = models.BooleanField(_("active"), default=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("key place")
        verbose_name_plural = _("key places")
        ordering = ["path", "name"]
        indexes = [models.Index(fields=["path"], name="keyplace_path", **PATH_INDEX)]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- follow-up tasks

class VisitState(models.TextChoices):
    DUE = wf.DUE, _("To visit")
    DONE = wf.DONE, _("Visited")
    CANCELLED = wf.CANCELLED, _("Cancelled")


class VisitKind(models.TextChoices):
    GROUP = wf.GROUP, _("Special-group visit")
    PERMIT = wf.PERMIT, _("Residence permit renewal")
    PLACE = wf.PLACE, _("Key place inspection")


class Finding(models.TextChoices):
    NORMAL = "normal", _("Stable, nothing to report")
    CONCERN = "concern", _("A concern to watch")
    ALERT = "alert", _("Needs action now")
    ABSENT = "absent", _("Not found at home")


class Visit(Case):
    """A follow-up task (走访/随访/检查): due by the rule of the member's group
    and level, recorded by the grid worker with a note, photos and position."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    state = models.CharField(_("state"), max_length=16, choices=VisitState.choices,
                             default=VisitState.DUE)
    kind = models.CharField(_("kind"), max_length=16, choices=VisitKind.choices)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), on_delete=models.PROTECT,
                             related_name="+")
    person = models.ForeignKey(Person, verbose_name=_("person"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="visits")
    member = models.ForeignKey(Member, verbose_name=_("special-group member"), null=True,
                               blank=True, on_delete=models.PROTECT, related_name="visits")
    place = models.ForeignKey(KeyPlace, verbose_name=_("key place"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="visits")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("grid worker"),
                               null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    #: The working days the rule gave this visit (the stage's limit).
    interval = models.PositiveIntegerField(_("working days allowed"))
    # what the visit found
    visited_at = models.DateTimeField(_("visited at"), null=True, blank=True)
    finding = models.CharField(_("finding"), max_length=16, choices=Finding.choices,
                               blank=True)
    note = models.TextField(_("note"), blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    accuracy = models.FloatField(_("accuracy (m)"), null=True, blank=True)

    class Meta:
        verbose_name = _("follow-up visit")
        verbose_name_plural = _("follow-up visits")
        ordering = ["-created_at", "-id"]
        constraints = [
            # at most one open task per member, per permit holder, per place
            models.UniqueConstraint(fields=["member"], condition=Q(state=wf.DUE),
                                    name="visit_one_open_per_member"),
            models.UniqueConstraint(fields=["person", "kind"],
                                    condition=Q(state=wf.DUE, kind=wf.PERMIT),
                                    name="visit_one_open_permit"),
            models.UniqueConstraint(fields=["place"], condition=Q(state=wf.DUE),
                                    name="visit_one_open_per_place"),
        ]
        indexes = [
            models.Index(fields=["path"], name="visit_path", **PATH_INDEX),
            models.Index(fields=["worker", "state"], name="visit_worker_state"),
            models.Index(fields=["-overdue", "due_at", "id"], name="visit_open_urgent",
                         condition=Q(state__in=sorted(wf.OPEN_STATES))),
            models.Index(fields=["warn_at"], name="visit_open_unwarned",
                         condition=Q(state__in=sorted(wf.OPEN_STATES), warned=False)),
        ]

    def __str__(self) -> str:
        return self.number


class VisitStage(Stage):
    case = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="stages")

    class Meta(Stage.Meta):
        ordering = ["case", "started_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.stage}"


class VisitEntry(Entry):
    case = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="timeline")

    class Meta(Entry.Meta):
        ordering = ["case", "at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"


class VisitAttachment(BaseAttachment):
    case = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="attachments")
    entry = models.ForeignKey(VisitEntry, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="attachments")
    file = models.FileField(upload_to="visits/%Y/%m/")

    class Meta(BaseAttachment.Meta):
        pass


# ---------------------------------------------------------------- imports

class ImportJob(models.Model):
    """One import of a file into a registry: its progress (rows read of the
    total), its mode, its outcome and every bad row found (line, column,
    message). A strict import with any bad row writes nothing."""

    class State(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Imported")
        REFUSED = "refused", _("Refused: nothing written")
        FAILED = "failed", _("Failed: nothing written")

    registry = models.CharField(_("registry"), max_length=16)
    filename = models.CharField(_("file"), max_length=200)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="+")
    good_only = models.BooleanField(_("import the good rows only"), default=False)
    state = models.CharField(_("state"), max_length=16, choices=State.choices,
                             default=State.RUNNING)
    total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    done = models.PositiveIntegerField(_("rows read"), default=0)
    written = models.PositiveIntegerField(_("rows written"), default=0)
    #: [{"line": 3, "column": "id_number", "message": "…"}, …] (the first 1,000).
    errors = models.JSONField(_("errors"), default=list, blank=True)
    error_count = models.PositiveIntegerField(_("bad rows"), default=0)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.registry} {self.filename}"
