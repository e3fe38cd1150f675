"""What every case has, whatever its type (docs/cases.md).

A case type (incidents, mediation …) makes its own tables from the abstract
models here — the case, its stage deadlines, its timeline, its attachments —
so that each type keeps its own narrow rows and indexes while the engine
(``cases.engine``) acts on all of them alike. The inbox and the idempotency
keys are one table each for every type.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.core.models import AppendOnlyModel


class Case(models.Model):
    """The fields the engine reads and writes on every case."""

    #: The region path of the case's place: what the actor's scope filters on
    #: (``path LIKE 'prefix%'``). Each type indexes it with
    #: ``Index(fields=["path"], opclasses=["varchar_pattern_ops"])``: a plain
    #: ``db_index`` makes two b-trees on PostgreSQL, of which only that one is read.
    path = models.CharField(max_length=255, editable=False)
    state = models.CharField(_("state"), max_length=16)
    #: Bumped by every change: the compare-and-set token.
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # the stage running now and its deadline (copied from the open stage row)
    stage = models.CharField(_("stage"), max_length=16, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    overdue = models.BooleanField(_("overdue"), default=False)
    warned = models.BooleanField(default=False)
    pending_extension = models.JSONField(null=True, blank=True)
    supervise_count = models.PositiveIntegerField(default=0)
    extension_count = models.PositiveIntegerField(default=0)
    escalate_count = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class Stage(models.Model):
    """One stage a case went through, with its deadline in working time. A
    type's stage table adds the foreign key to its case (``related_name="stages"``)."""

    stage = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    due_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    overdue = models.BooleanField(default=False)
    amount = models.FloatField()
    unit = models.CharField(max_length=16)
    #: Warnings of the calendar (e.g. a year without an official schedule).
    warnings = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("stage deadline")
        verbose_name_plural = _("stage deadlines")


class Entry(AppendOnlyModel):
    """One immutable timeline row per action: who, when, from which state to
    which, and what (``related_name="timeline"`` on the type's table)."""

    action = models.CharField(_("action"), max_length=32)
    #: (no index: users are switched off, never deleted, and no query lists by actor)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True,
                              blank=True, on_delete=models.PROTECT, related_name="+",
                              db_index=False)
    at = models.DateTimeField(_("at"), default=timezone.now)
    from_state = models.CharField(_("from"), max_length=16, blank=True)
    to_state = models.CharField(_("to"), max_length=16, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        abstract = True
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")


class Attachment(models.Model):
    """A photo or document of a case, stored once cleaned (``core.uploads``);
    the type's table adds its case and the timeline entry it came with."""

    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name or self.sha256[:12]


class Notification(models.Model):
    """One line of a user's inbox, about a case of any type."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    #: The case's type (``incident``, ``mediation`` …), its id and its number.
    case_type = models.CharField(max_length=16, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=32, blank=True)
    #: What happened: a workflow action, or ``new``, ``warn``, ``overdue``.
    kind = models.CharField(max_length=32)
    #: Its particulars (number, excerpt, centre, reason, actor …): the text is
    #: rendered from them when read (``cases.notices``).
    params = models.JSONField(default=dict, blank=True)
    #: The text of a row written before notifications were records, when its
    #: sentence could not be read back into ``params``; empty otherwise.
    message = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "created_at"],
                                name="inbox_unread")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}"

    @property
    def text(self) -> str:
        """What the notification says, in the language active now."""
        from .notices import render

        return render(self.case_type, self.kind, self.params, self.message)

    @property
    def url(self) -> str:
        """The page of its case ('' without one)."""
        from .registry import case_types

        kind = case_types().get(self.case_type)
        return kind.page_url(self.number) if kind and self.number else ""


class CaseLink(models.Model):
    """Two cases of any types that belong together (an incident turned into
    a mediation case …), read from both sides: the case types never import
    each other."""

    from_type = models.CharField(max_length=16)
    from_id = models.BigIntegerField()
    from_number = models.CharField(max_length=32)
    to_type = models.CharField(max_length=16)
    to_id = models.BigIntegerField()
    to_number = models.CharField(max_length=32)
    #: Why they belong together: ``became`` (the first was turned into the second) …
    relation = models.CharField(max_length=16, default="became")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["from_type", "from_id"], name="caselink_from"),
                   models.Index(fields=["to_type", "to_id"], name="caselink_to")]
        constraints = [models.UniqueConstraint(
            fields=["from_type", "from_id", "to_type", "to_id"], name="caselink_unique")]

    def __str__(self) -> str:
        return f"{self.from_number} → {self.to_number}"


class IdempotencyKey(models.Model):
    """A retried creation with the same key returns the first case; the same
    key with other content is refused."""

    case_type = models.CharField(max_length=16)
    owner = models.CharField(max_length=80)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    case_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case_type", "owner", "key"],
                                               name="idempotency_type_owner_key_unique")]

    def __str__(self) -> str:
        return f"{self.case_type}:{self.owner}:{self.key}"
