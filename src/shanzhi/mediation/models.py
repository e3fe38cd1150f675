"""Dispute mediation (矛盾纠纷调处化解): the centres that mediate and their
rosters of stationed departments, and the mediation case — a case type of
the engine (``cases.models``) with its parties and sessions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.accounts.models import Department
from shanzhi.cases.models import Attachment as BaseAttachment
from shanzhi.cases.models import Case, Entry, Stage
from shanzhi.geo.models import Grid, Region

from . import risk
from . import workflow as wf


class Centre(models.Model):
    """A dispute mediation centre (矛盾纠纷调处化解中心) of a district or town."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="mediation_centres")
    #: A copy of the region's path: what the actor's scope filters on.
    path = models.CharField(max_length=255, db_index=True, editable=False)
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediation centre")
        verbose_name_plural = _("mediation centres")
        ordering = ["path", "code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.path = self.region.path
        super().save(*args, **kwargs)


class RosterEntry(models.Model):
    """Which department is stationed at a centre, how and on which days."""

    class Mode(models.TextChoices):
        PERMANENT = "permanent", _("Permanent")
        ROTATING = "rotating", _("Rotating")
        ON_CALL = "on_call", _("On call")

    centre = models.ForeignKey(Centre, verbose_name=_("mediation centre"),
                               on_delete=models.CASCADE, related_name="roster")
    department = models.ForeignKey(Department, verbose_name=_("department"),
                                   on_delete=models.PROTECT, related_name="+")
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices,
                            default=Mode.PERMANENT)
    #: Monday 0 … Sunday 6; empty: every working day.
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("roster entry")
        verbose_name_plural = _("roster")
        ordering = ["centre", "department"]

    def __str__(self) -> str:
        return f"{self.centre_id} {self.department_id} {self.mode}"


class MediationState(models.TextChoices):
    RECEIVED = wf.RECEIVED, _("Received")
    MEDIATING = wf.MEDIATING, _("Mediating")
    AGREED = wf.AGREED, _("Agreed")
    CLOSED = wf.CLOSED, _("Closed")
    REFERRED = wf.REFERRED, _("Referred out")


class MediationSource(models.TextChoices):
    WALK_IN = "walk_in", _("Walk-in")
    HOTLINE = "hotline", _("Hotline")
    INCIDENT = "incident", _("From an incident")
    REFERRAL = "referral", _("Referred by a lower centre")


class Outcome(models.TextChoices):
    AGREEMENT = "agreement", _("Agreement")
    PARTIAL = "partial", _("Partial agreement")
    FAILED = "failed", _("Failed")


class Route(models.TextChoices):
    ARBITRATION = "arbitration", _("Arbitration")
    LITIGATION = "litigation", _("Litigation")
    PETITION = "petition", _("Petition")


class MediationCase(Case):
    """A dispute brought to a centre (矛盾纠纷): its parties, the mediation and its outcome."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    state = models.CharField(_("state"), max_length=16, choices=MediationState.choices,
                             default=MediationState.RECEIVED)
    #: The centre that holds the case now.
    centre = models.ForeignKey(Centre, verbose_name=_("mediation centre"),
                               on_delete=models.PROTECT, related_name="cases")
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="+")
    grid = models.ForeignKey(Grid, verbose_name=_("grid"), null=True, blank=True,
                             on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("source"), max_length=16, choices=MediationSource.choices)
    incident_number = models.CharField(_("incident"), max_length=32, blank=True)
    referred_from = models.ForeignKey("self", verbose_name=_("referred from"), null=True,
                                      blank=True, on_delete=models.SET_NULL, related_name="+")
    dispute_type = models.CharField(_("dispute type"), max_length=16,
                                    choices=wf.DISPUTE_TYPES)
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("facts and claims"))
    amount = models.DecimalField(_("amount in dispute"), max_digits=14, decimal_places=2,
                                 null=True, blank=True)
    people = models.PositiveIntegerField(_("people involved"), default=1)
    visits = models.PositiveIntegerField(_("visits"), default=1)
    threat = models.BooleanField(_("threat of violence"), default=False)
    vulnerable = models.BooleanField(_("vulnerable party"), default=False)
    risk_level = models.CharField(_("risk"), max_length=8,
                                  choices=list(risk.LEVEL_LABELS.items()), default=risk.LOW)
    risk_reasons = models.JSONField(_("risk reasons"), default=list, blank=True)
    escalation = models.BooleanField(_("escalation risk"), default=False)
    mediator = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("mediator"),
                                 null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices,
                               blank=True)
    route = models.CharField(_("route"), max_length=16, choices=Route.choices, blank=True)
    terms = models.JSONField(_("terms"), default=list, blank=True)
    performance = models.TextField(_("performance"), blank=True)
    judicial_confirmation = models.BooleanField(_("judicial confirmation"), default=False)
    agreed_at = models.DateTimeField(_("agreed at"), null=True, blank=True)
    #: The last follow-up's finding: does the agreement hold?
    holds = models.BooleanField(_("agreement holds"), null=True, blank=True)
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("registered by"),
                                 null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")

    class Meta:
        verbose_name = _("mediation case")
        verbose_name_plural = _("mediation cases")
        ordering = ["-created_at", "-id"]
        indexes = [
            # the scope: path LIKE 'prefix%' (see cases.models.Case.path)
            models.Index(fields=["path"], name="mediation_path",
                         opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["centre", "state"], name="mediation_centre_state"),
            # the open cases, overdue first, then by deadline (the sweep's overdue pass)
            models.Index(fields=["-overdue", "due_at", "id"], name="mediation_open_urgent",
                         condition=models.Q(state__in=sorted(wf.OPEN_STATES))),
            # the open cases not yet warned (the sweep's warning pass)
            models.Index(fields=["warn_at"], name="mediation_open_unwarned",
                         condition=models.Q(state__in=sorted(wf.OPEN_STATES), warned=False)),
        ]

    def __str__(self) -> str:
        return self.number


class MediationStage(Stage):
    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="stages")

    class Meta(Stage.Meta):
        ordering = ["case", "started_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.stage}"


class MediationEntry(Entry):
    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="timeline")

    class Meta(Entry.Meta):
        ordering = ["case", "at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.action}"


class MediationAttachment(BaseAttachment):
    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE,
                             related_name="attachments")
    entry = models.ForeignKey(MediationEntry, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="attachments")
    file = models.FileField(upload_to="mediation/%Y/%m/")

    class Meta(BaseAttachment.Meta):
        pass


class Party(models.Model):
    """An applicant or respondent of a dispute."""

    class Role(models.TextChoices):
        APPLICANT = "applicant", _("Applicant")
        RESPONDENT = "respondent", _("Respondent")

    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ORGANISATION = "organisation", _("Organisation")

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices,
                            default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=100)
    #: A person's identity number or an organisation's credit code.
    id_number = models.CharField(_("identity number"), max_length=32, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    vulnerable = models.BooleanField(_("vulnerable"), default=False)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["case", "id"]

    def __str__(self) -> str:
        return self.name


class Session(models.Model):
    """A mediation session (调解会)."""

    case = models.ForeignKey(MediationCase, on_delete=models.CASCADE, related_name="sessions")
    held_at = models.DateTimeField(_("held at"))
    place = models.CharField(_("place"), max_length=100)
    participants = models.CharField(_("participants"), max_length=300)
    notes = models.TextField(_("notes"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"),
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    entry = models.ForeignKey(MediationEntry, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["case", "held_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.held_at:%Y-%m-%d}"
