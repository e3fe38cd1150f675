"""Users, their roles and territory, departments, grid workers, API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.geo.models import Grid, Region


class Role(models.TextChoices):
    CITY_ADMIN = "city_admin", _("City administrator")
    OPERATOR = "operator", _("Linkage-centre operator")
    HANDLER = "handler", _("Department handler")
    GRID_WORKER = "grid_worker", _("Grid worker")
    MEDIATOR = "mediator", _("Mediator")
    VIEWER = "viewer", _("Viewer")


class Department(models.Model):
    """A handling unit at some level (city 城管局, district 住建局 …)."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.ForeignKey(Region, verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="departments")
    #: The function shared by the same department at each level (e.g. "CGJ"
    #: for 城管局); category rules name their default department by kind.
    kind = models.CharField(_("kind"), max_length=32, blank=True, db_index=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.region.name}）"


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.VIEWER)
    region = models.ForeignKey(
        Region, verbose_name=_("territory"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="users",
        help_text=_("The region this user serves; grid workers serve their grids instead."))
    department = models.ForeignKey(Department, verbose_name=_("department"), null=True,
                                   blank=True, on_delete=models.PROTECT, related_name="members")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username


class GridWorker(models.Model):
    class Kind(models.TextChoices):
        FULL_TIME = "full_time", _("Full-time grid worker")
        PART_TIME = "part_time", _("Part-time grid worker")

    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE,
                                related_name="grid_worker")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.FULL_TIME)
    grids = models.ManyToManyField(Grid, verbose_name=_("grids"), related_name="workers")

    class Meta:
        verbose_name = _("grid worker")
        verbose_name_plural = _("grid workers")

    def __str__(self) -> str:
        return f"{self.user}（{self.get_kind_display()}）"


class ApiToken(models.Model):
    """A bearer token for programs. Only its SHA-256 is stored."""

    PREFIX = "sz_"

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(_("first characters"), max_length=12, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.hint}… ({self.user})"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(cls, *, user: User, name: str = "") -> tuple[ApiToken, str]:
        key = cls.PREFIX + secrets.token_urlsafe(32)
        now = timezone.now()
        token = cls.objects.create(user=user, name=name, key_hash=cls.hash(key), hint=key[:8],
                                   created_at=now, expires_at=now + token_lifetime())
        return token, key


def token_lifetime() -> dt.timedelta:
    """How long a new token lives: ``SHANZHI_TOKEN_DAYS`` days."""
    return dt.timedelta(days=settings.TOKEN_DAYS)


class TwoFactor(models.Model):
    """A user's second factor: a TOTP secret (RFC 6238) kept on the server, and
    the last time step a code was accepted for (no code is taken twice)."""

    user = models.OneToOneField(User, verbose_name=_("user"), on_delete=models.CASCADE,
                                related_name="two_factor")
    secret = models.CharField(max_length=64, editable=False)
    last_step = models.BigIntegerField(default=0, editable=False)
    enrolled_at = models.DateTimeField(_("enrolled at"), default=timezone.now)

    class Meta:
        verbose_name = _("second factor")
        verbose_name_plural = _("second factors")

    def __str__(self) -> str:
        return str(self.user)


class LoginThrottle(models.Model):
    """Failed log-ins counted per account (the name typed) and per client
    address, in the database so every server process sees them. A key with
    too many failures in the window is locked until ``locked_until``."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", _("account")
        ADDRESS = "address", _("client address")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=150)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    window_start = models.DateTimeField(_("first failure"), default=timezone.now)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("log-in throttle")
        verbose_name_plural = _("log-in throttles")
        constraints = [models.UniqueConstraint(fields=["kind", "key"],
                                               name="login_throttle_kind_key")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"
