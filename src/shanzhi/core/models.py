"""The working calendar's tables, the one calendar each process uses, and the
writes that enter a year's schedule.

``CalendarDay`` holds only the *special* days — holidays on Monday–Friday and
make-up working days on a weekend; every other day is judged by its weekday.
``CalendarYear`` says which years are entered in full. The data migration
seeds every year the ``chinese_calendar`` package knows; an administrator
enters later years (the State Council publishes each one in December) in the
admin or with ``shanzhi calendar import-year``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import date
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models, transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .calendar import (
    CalendarInputError,
    WorkingCalendar,
    package_special_days,
    package_version,
    package_years,
    parse_office_hours,
)

PUBLISHED_NOTE = _("The State Council (国务院办公厅) publishes the next year's holidays and "
                   "make-up working days each December; enter them here, or with "
                   "“shanzhi calendar import-year”, before the year begins.")


class CalendarSource(models.TextChoices):
    PACKAGE = "chinese_calendar", _("chinese_calendar package")
    ADMIN = "admin", _("entered by an administrator")


class CalendarDay(models.Model):
    """A day that breaks the Monday–Friday rule."""

    date = models.DateField(_("date"), unique=True)
    is_working = models.BooleanField(
        _("working day"), default=False,
        help_text=_("Ticked: a make-up working day on a weekend (调休上班). "
                    "Unticked: a holiday on a weekday (放假)."))
    name = models.CharField(_("name"), max_length=100, blank=True,
                            help_text=_("e.g. 春节, 国庆节调休上班"))
    source = models.CharField(_("source"), max_length=20, choices=CalendarSource.choices,
                              default=CalendarSource.ADMIN)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        kind = _("working day") if self.is_working else _("day off")
        return f"{self.date.isoformat()} {kind} {self.name}".strip()

    def clean(self) -> None:
        if self.date is None:
            return
        weekend = self.date.weekday() >= 5
        if self.is_working and not weekend:
            raise DjangoValidationError(
                {"is_working": _("%(date)s is a weekday, a working day anyway; a make-up "
                                 "working day falls on a Saturday or Sunday.")
                 % {"date": self.date.isoformat()}})
        if not self.is_working and weekend:
            raise DjangoValidationError(
                {"is_working": _("%(date)s is a Saturday or Sunday, a day off anyway; only "
                                 "holidays on weekdays need an entry.")
                 % {"date": self.date.isoformat()}})


class CalendarYear(models.Model):
    """A year whose official schedule is entered (or not yet)."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    complete = models.BooleanField(
        _("schedule complete"), default=False,
        help_text=_("Tick once every holiday and make-up working day of the year is entered. "
                    "Until then the year's days are judged Monday–Friday (entered days still "
                    "count) and every deadline touching the year carries a warning."))
    source = models.CharField(_("source"), max_length=20, choices=CalendarSource.choices,
                              default=CalendarSource.ADMIN)
    note = models.CharField(_("note"), max_length=200, blank=True,
                            help_text=_("e.g. the notice's number: 国办发明电〔2025〕7号"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["-year"]

    def __str__(self) -> str:
        return str(self.year)


# --- the one calendar of this process ----------------------------------------------------

#: Seconds between two checks of whether the tables changed.
CALENDAR_TTL = 30.0

_lock = threading.Lock()
_cache: dict = {"calendar": None, "key": None, "checked_at": 0.0}


def _settings_key() -> tuple[str, str]:
    return (getattr(settings, "OFFICE_HOURS", "09:00-12:00,13:30-17:30"), settings.TIME_ZONE)


def _table_stamp() -> tuple:
    """Changes whenever a row is added, edited (``updated_at``) or deleted."""
    days = CalendarDay.objects.aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
    years = CalendarYear.objects.aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
    return (days["n"], days["last"], days["top"], years["n"], years["last"], years["top"])


def _build(office_hours: str, tz_name: str) -> WorkingCalendar:
    try:
        periods = parse_office_hours(office_hours)
    except CalendarInputError as exc:
        raise ImproperlyConfigured(f"SHANZHI_OFFICE_HOURS: {exc.message}") from None
    return WorkingCalendar(
        special_days=dict(CalendarDay.objects.values_list("date", "is_working")),
        known_years=frozenset(CalendarYear.objects.filter(complete=True)
                              .values_list("year", flat=True)),
        office_periods=periods,
        tz=ZoneInfo(tz_name),
    )


def get_calendar() -> WorkingCalendar:
    """The working calendar from the database, kept per process and rebuilt
    when the tables change (looked at no more often than every
    ``CALENDAR_TTL`` seconds; a write through ``calendar_year_import`` or the
    admin rebuilds it at once in its own process)."""
    now = time.monotonic()
    with _lock:
        fresh = now - _cache["checked_at"] < CALENDAR_TTL
        if _cache["calendar"] is not None and fresh and _cache["key"][0] == _settings_key():
            return _cache["calendar"]
        key = (_settings_key(), _table_stamp())
        if _cache["calendar"] is None or key != _cache["key"]:
            _cache["calendar"] = _build(*key[0])
            _cache["key"] = key
        _cache["checked_at"] = now
        return _cache["calendar"]


def reset_calendar() -> None:
    """Forget this process's calendar; the next ``get_calendar()`` reloads it."""
    with _lock:
        _cache.update(calendar=None, key=None, checked_at=0.0)


# --- writes -----------------------------------------------------------------------------


@transaction.atomic
def calendar_year_import(*, year: int, days: Mapping[date, tuple[bool, str]],
                         source: str = CalendarSource.ADMIN, note: str = "",
                         complete: bool = True) -> CalendarYear:
    """Replace one year's special days by ``days`` (already checked with
    ``calendar.schedule_for_year``) and mark the year complete."""
    CalendarDay.objects.filter(date__year=year).delete()
    CalendarDay.objects.bulk_create([
        CalendarDay(date=d, is_working=working, name=name, source=source)
        for d, (working, name) in days.items()])
    entry, _created = CalendarYear.objects.update_or_create(
        year=year, defaults={"complete": complete, "source": source, "note": note})
    transaction.on_commit(reset_calendar)
    return entry


@transaction.atomic
def calendar_sync_package() -> list[int]:
    """Enter every year the installed ``chinese_calendar`` package knows and
    the database does not yet hold (after ``pip install -U chinesecalendar``).
    Years already present are left alone: what an administrator entered wins.
    Returns the years added."""
    present = set(CalendarYear.objects.values_list("year", flat=True))
    days = package_special_days()
    added = sorted(package_years() - present)
    for year in added:
        calendar_year_import(year=year, source=CalendarSource.PACKAGE,
                             note=package_version(),
                             days={d: v for d, v in days.items() if d.year == year})
    return added


class AppendOnlyModel(models.Model):
    """Rows that are written once and never changed or deleted (the timeline,
    the access log): history that cannot be rewritten."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError(f"{self._meta.verbose_name} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(f"{self._meta.verbose_name} rows are append-only")


class AccessAction(models.TextChoices):
    VIEW = "view", _("view of personal fields")
    EXPORT = "export", _("export of personal data")
    LOGIN = "login", _("log-in")
    LOGIN_FAILED = "login_failed", _("failed log-in")
    LOGIN_REFUSED = "login_refused", _("log-in refused (locked)")
    LOGOUT = "logout", _("log-out")
    LOCKED = "locked", _("locked")
    UNLOCK = "unlock", _("unlocked")
    TWO_FACTOR_ENROLLED = "2fa_enrolled", _("second factor enrolled")
    TWO_FACTOR_DISABLED = "2fa_disabled", _("second factor disabled")
    TWO_FACTOR_RESET = "2fa_reset", _("second factor reset")
    TOKEN_RENEWED = "token_renewed", _("API token renewed")


class AccessLog(AppendOnlyModel):
    """Who did what, when, from where and why: every view of unmasked
    personal data, every log-in, failure, lock, unlock and log-out, every
    change of a second factor. ``username`` is the user's name at the time,
    or the name typed in a failed log-in (``user`` is then empty)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             blank=True, on_delete=models.PROTECT, related_name="+")
    username = models.CharField(_("username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AccessAction.choices,
                              default=AccessAction.VIEW)
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    address = models.CharField(_("client address"), max_length=64, blank=True)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    fields = models.CharField(_("fields"), max_length=200, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["username", "at"], name="accesslog_username_at"),
            models.Index(fields=["object_type", "object_id", "at"], name="accesslog_object_at"),
            models.Index(fields=["address", "at"], name="accesslog_address_at"),
            models.Index(fields=["action", "at"], name="accesslog_action_at"),
        ]

    def __str__(self) -> str:
        what = f"{self.object_type}:{self.object_id}" if self.object_id else self.action
        return f"{self.username or self.user_id} {what} {self.at:%Y-%m-%d %H:%M}"

    @classmethod
    def record(cls, *, action: str, request=None, user=None, username: str = "",
               obj: models.Model | None = None, fields: tuple[str, ...] | list[str] = (),
               reason: str = "") -> AccessLog:
        """Append one row; the address is the request's (``core.net.client_ip``)."""
        from .net import client_ip

        if user is not None and not getattr(user, "is_authenticated", False):
            user = None
        return cls.objects.create(
            user=user, username=(username or (user.get_username() if user else ""))[:150],
            action=action, address=client_ip(request)[:64] if request is not None else "",
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "", fields=",".join(fields)[:200],
            reason=reason[:200])


class Revision(models.Model):
    """A named counter that goes up with every change of what a process keeps
    in memory (see ``core.memo``)."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    number = models.PositiveBigIntegerField(_("number"), default=0)

    class Meta:
        verbose_name = _("revision")

    def __str__(self) -> str:
        return f"{self.name} {self.number}"
