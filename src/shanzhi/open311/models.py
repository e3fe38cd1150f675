"""Open311 GeoReport v2: the API keys of client applications, what each
request filed through them carried beyond the incident, and the rate
windows. See ``docs/open311.md``."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.geo.models import Region
from shanzhi.incidents.models import Incident


class ApiKey(models.Model):
    """The key of one client application (a citizen app, a 311 tool). It
    reports as its own service-account user (an operator of the
    jurisdiction) and reads inside the jurisdiction. Only the SHA-256 of the
    key is stored."""

    PREFIX = "o311_"

    name = models.CharField(_("name"), max_length=100)
    jurisdiction = models.ForeignKey(Region, verbose_name=_("jurisdiction"),
                                     on_delete=models.PROTECT, related_name="+",
                                     help_text=_("The city this key reports to and reads from."))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("service account"),
                                on_delete=models.PROTECT, related_name="open311_key",
                                editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(_("first characters"), max_length=12, editable=False)
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"), default=60,
        help_text=_("Requests with this key allowed in one minute; more are answered 429."))
    answers_with_token = models.BooleanField(
        _("answers with a token"), default=False,
        help_text=_("Answer a new request with a token (as a batch service would) instead "
                    "of its service_request_id; the client resolves it at tokens/{token}."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("Open311 API key")
        verbose_name_plural = _("Open311 API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @staticmethod
    def hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class ServiceRequest(models.Model):
    """What an Open311 POST carried beyond the incident: the token, the
    client's ids and the contact e-mail (never shown by the API), the media URL."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE,
                                    related_name="open311_request")
    key = models.ForeignKey(ApiKey, verbose_name=_("API key"), on_delete=models.PROTECT,
                            related_name="requests")
    token = models.CharField(_("token"), max_length=40, unique=True)
    account_id = models.CharField(_("account id"), max_length=100, blank=True)
    device_id = models.CharField(_("device id"), max_length=100, blank=True)
    email = models.EmailField(_("e-mail"), max_length=254, blank=True)
    address_id = models.CharField(_("address id"), max_length=100, blank=True)
    media_url = models.URLField(_("media URL"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("Open311 service request")
        verbose_name_plural = _("Open311 service requests")

    def __str__(self) -> str:
        return self.token


class RateWindow(models.Model):
    """Requests counted in one fixed minute for one key, or (without a key)
    for one client address: shared by every server process through the
    database."""

    key = models.ForeignKey(ApiKey, null=True, on_delete=models.CASCADE, related_name="+")
    #: The client's address (``core.net.client_ip``) of a read without a key.
    client = models.CharField(max_length=64, blank=True, default="")
    start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "start"], name="open311_rate_window_unique",
                                    condition=models.Q(key__isnull=False)),
            models.UniqueConstraint(fields=["client", "start"],
                                    name="open311_rate_window_client_unique",
                                    condition=models.Q(key__isnull=True)),
        ]
        indexes = [models.Index(fields=["start"], name="open311_rate_window_start")]

    def __str__(self) -> str:
        return f"{self.key_id or self.client} {self.start:%H:%M} {self.count}"
