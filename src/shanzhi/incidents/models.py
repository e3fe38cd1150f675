"""Incidents (事件) and what hangs on them: categories with versioned rules,
routing rules, and the devices that report by webhook; the incident's stage
deadlines, timeline and attachments are its tables of the case engine's
abstract models (``cases.models``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.accounts.models import Department
from shanzhi.cases.models import Attachment as BaseAttachment
from shanzhi.cases.models import Case, Entry, Stage
from shanzhi.geo.models import Grid, Region

from . import workflow as wf


class Channel(models.TextChoices):
    GRID_PATROL = "grid_patrol", _("Grid patrol")
    HOTLINE_12345 = "hotline_12345", _("12345 hotline")
    CITIZEN_WEB = "citizen_web", _("Citizen web")
    OPEN311 = "open311", _("Open311 app")
    DEPARTMENT = "department", _("Department transfer")
    IOT = "iot", _("IoT sensor")
    VIDEO = "video", _("Video alert")


class State(models.TextChoices):
    REPORTED = wf.REPORTED, _("Reported")
    REGISTERED = wf.REGISTERED, _("Registered")
    DISPATCHED = wf.DISPATCHED, _("Dispatched")
    IN_PROGRESS = wf.IN_PROGRESS, _("In progress")
    HANDLED = wf.HANDLED, _("Handled")
    CLOSED = wf.CLOSED, _("Closed")
    REJECTED = wf.REJECTED, _("Rejected")


class Category(models.Model):
    """A class (大类, no parent) or subclass (小类) of the taxonomy. Its rules
    live in immutable versions; incidents point to the version they were
    registered under."""

    class Kind(models.TextChoices):
        EVENT = "event", _("City-management event")
        COMPONENT = "component", _("City-management component")
        GOVERNANCE = "governance", _("Social governance")

    class Publication(models.TextChoices):
        """What Open311 reads show of this category's incidents (docs/open311.md)."""

        PRIVATE = "private", _("Private: never published")
        PUBLIC = "public", _("Public")
        COARSE = "coarse", _("Coarse: published, place coarsened to about 1 km")

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", verbose_name=_("class"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="subcategories")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    publication = models.CharField(
        _("Open311 publication"), max_length=8, choices=Publication.choices,
        default=Publication.PRIVATE,
        help_text=_("Whether Open311 reads publish this category's incidents (those of the "
                    "public channels only): never, in full, or with the place coarsened to "
                    "about 1 km and the street address reduced to the region names."))

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def current_rules(self) -> CategoryRules | None:
        return self.versions.order_by("-number").first()


class CategoryRules(models.Model):
    """One immutable version of a category's rules.

    ``limits``: stage → ``{"amount": 4, "unit": "working_hours"}`` for the
    stages accept, dispatch, sign, handle, verify.
    ``departments``: level → department kind, the default handler per level.
    ``urgencies``: ``[{"code", "name", "factor"}]`` — the factor scales every limit.
    ``extra_fields``: ``[{"code", "name", "datatype", "required", "values", "description"}]``,
    datatype one of string, number, datetime, text, singlevaluelist, multivaluelist.
    ``on_overdue``: what the sweep does besides marking: notify, supervise or escalate.
    """

    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT,
                                 related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    limits = models.JSONField(_("time limits"), default=dict)
    departments = models.JSONField(_("default department kind per level"), default=dict)
    urgencies = models.JSONField(_("urgency levels"), default=list)
    extra_fields = models.JSONField(_("extra fields"), default=list)
    on_overdue = models.CharField(_("when overdue"), max_length=16, default="notify")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("category rules")
        verbose_name_plural = _("category rules")
        constraints = [models.UniqueConstraint(fields=["category", "number"],
                                               name="category_rules_version_unique")]

    def __str__(self) -> str:
        return f"{self.category} v{self.number}"


class RoutingRule(models.Model):
    """Category × region → department (or a level's linkage centre). The most
    specific region wins, falling back up the tree; a rule without category
    applies to every category."""

    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="routing_rules")
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.CASCADE,
                               related_name="routing_rules")
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True,
                                   blank=True, on_delete=models.CASCADE)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        constraints = [models.UniqueConstraint(fields=["category", "region"],
                                               name="routing_rule_unique")]

    def __str__(self) -> str:
        return f"{self.category or '*'} @ {self.region} → {self.department}"


class Device(models.Model):
    """An IoT sensor or video-analytics source that reports by webhook."""

    device_id = models.CharField(_("device id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=16,
                               choices=[(Channel.IOT, Channel.IOT.label),
                                        (Channel.VIDEO, Channel.VIDEO.label)])
    token_hash = models.CharField(max_length=64, editable=False)
    category = models.ForeignKey(Category, verbose_name=_("default category"), null=True,
                                 blank=True, on_delete=models.SET_NULL)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")

    def __str__(self) -> str:
        return f"{self.device_id} {self.name}"


class Incident(Case):
    # the foreign keys no query filters on have no index of their own (docs/cases.md,
    # "Indexes"): their parents are retired or switched off, never deleted
    number = models.CharField(_("number"), max_length=32)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="incidents",
                                 db_index=False)
    rules = models.ForeignKey(CategoryRules, verbose_name=_("rules"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="incidents", db_index=False)
    urgency = models.CharField(_("urgency"), max_length=16, default="normal")
    description = models.TextField(_("description"))
    address = models.CharField(_("address"), max_length=300, blank=True)
    lng = models.FloatField(_("longitude (WGS-84)"), null=True, blank=True)
    lat = models.FloatField(_("latitude (WGS-84)"), null=True, blank=True)
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="incidents")
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="incidents", help_text=_("The lowest region located"),
                               db_index=False)
    #: The linkage centre that holds the incident now.
    holder = models.ForeignKey(Region, verbose_name=_("linkage centre"),
                               on_delete=models.PROTECT, related_name="held_incidents",
                               db_index=False)
    #: (indexed by ``incident_department_state``, which leads with it)
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="incidents",
                                   db_index=False)
    state = models.CharField(_("state"), max_length=16, choices=State.choices,
                             default=State.REPORTED)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reporter"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+",
                                 db_index=False)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL,
                               db_index=False)
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    reported_at = models.DateTimeField(_("reported at"), db_index=True)
    extra = models.JSONField(_("extra fields"), default=dict, blank=True)
    merged_into = models.ForeignKey("self", verbose_name=_("duplicate of"), null=True,
                                    blank=True, on_delete=models.PROTECT,
                                    related_name="duplicates", db_index=False)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True, db_index=True)
    # smart intake (docs/intake.md): the category the city's model suggested first when the
    # report came in, and its confidence; the match rate compares it with the final category
    suggested = models.ForeignKey(Category, verbose_name=_("suggested category"), null=True,
                                  blank=True, on_delete=models.PROTECT, related_name="+",
                                  db_index=False)
    suggested_confidence = models.FloatField(_("confidence of the suggestion"), null=True,
                                             blank=True)
    self_resolved = models.BooleanField(_("resolved on the spot"), default=False)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    return_count = models.PositiveIntegerField(default=0)
    rework_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-reported_at"]
        constraints = [models.UniqueConstraint(fields=["number"], name="incident_number_unique")]
        # each read by a real query shape (docs/cases.md, "Indexes"; EXPLAIN at 1 M incidents)
        indexes = [
            # the scope: path LIKE 'prefix%' (outside the C collation a plain b-tree cannot)
            models.Index(fields=["path"], name="incident_path", opclasses=["varchar_pattern_ops"]),
            # the open incidents, marked overdue first, then by deadline: the map's most urgent,
            # the red counts, the longest overdue, the sweep's overdue pass
            models.Index(fields=["-overdue", "due_at", "id"], name="incident_open_urgent",
                         condition=models.Q(state__in=sorted(wf.OPEN_STATES))),
            # the open incidents not yet warned, by their warning time: the sweep's warning
            # pass and the command centre's live yellow count
            models.Index(fields=["warn_at"], name="incident_open_unwarned",
                         condition=models.Q(state__in=sorted(wf.OPEN_STATES), warned=False)),
            # a department's cases, by state (the handler's desk and tabs)
            models.Index(fields=["department", "state"], name="incident_department_state"),
            # a device's alerts (only IoT and video incidents have one)
            models.Index(fields=["device"], name="incident_device",
                         condition=models.Q(device__isnull=False)),
            # possible duplicates at intake: the open incidents of a category in a lng/lat box
            # and a time window, all read from the index (incidents.duplicates; docs/intake.md:
            # 1 ms instead of 260 ms with category, -reported_at at 1 M open incidents)
            models.Index(fields=["category", "lng", "lat", "reported_at"],
                         name="incident_open_category",
                         condition=models.Q(state__in=sorted(wf.OPEN_STATES))),
            # repeats: the same caller's reports, newest first
            models.Index(fields=["contact_phone", "-reported_at"], name="incident_caller",
                         condition=~models.Q(contact_phone="")),
        ]

    def __str__(self) -> str:
        return self.number


class IncidentStage(Stage):
    """One stage an incident went through, with its deadline in working time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="stages")

    class Meta(Stage.Meta):
        ordering = ["incident", "started_at", "id"]

    def __str__(self) -> str:
        return f"{self.incident} {self.stage}"


class TimelineEntry(Entry):
    """One immutable row per action on an incident."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")

    class Meta(Entry.Meta):
        ordering = ["incident", "at", "id"]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.action}"


class Attachment(BaseAttachment):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    entry = models.ForeignKey(TimelineEntry, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="attachments")
    file = models.FileField(upload_to="incidents/%Y/%m/")

    class Meta(BaseAttachment.Meta):
        pass
