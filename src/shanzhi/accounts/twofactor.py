"""The second factor: time-based one-time codes (TOTP, RFC 6238) from any
authenticator app (e.g. 微信小程序「腾讯身份验证器」, Google/Microsoft
Authenticator). The secret stays on the server (``TwoFactor``); a code is
taken for its own 30-second step or the one before or after, and never twice
(the last step used is kept and moved on with a compare-and-set update).

Roles in ``TWO_FACTOR_REQUIRED_ROLES`` must enrol before their first log-in
completes; anyone else may enrol from the account page."""

from __future__ import annotations

import hmac

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core.errors import PermissionDenied, ValidationError
from shanzhi.core.models import AccessAction, AccessLog

from . import throttle
from .models import TwoFactor, User

#: seconds of one TOTP step (RFC 6238's default, what every app uses)
STEP = 30
#: steps before and after the current one still accepted (clock drift)
DRIFT = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(*, user: User, secret: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.get_username(),
                                               issuer_name=settings.TWO_FACTOR_ISSUER)


def qr_svg(uri: str) -> str:
    """The QR code as inline SVG markup (no script, no style attribute)."""
    return segno.make(uri, error="m", micro=False).svg_inline(
        scale=4, dark="#1f2d3d", light="#ffffff", title=_("QR code for your authenticator app"))


def is_required(user: User) -> bool:
    return user.role in settings.TWO_FACTOR_REQUIRED_ROLES


def is_enrolled(user: User) -> bool:
    return TwoFactor.objects.filter(user=user).exists()


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code this is (now, or one step either side)."""
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp, now = pyotp.TOTP(secret), int(timezone.now().timestamp()) // STEP
    for step in sorted(range(now - DRIFT, now + DRIFT + 1), key=lambda s: abs(s - now)):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_verify(*, user: User, code: str) -> bool:
    """Whether the code is right and not used before; a right one is spent."""
    factor = TwoFactor.objects.filter(user=user).first()
    if factor is None:
        return False
    step = _matching_step(factor.secret, code)
    return step is not None and bool(
        TwoFactor.objects.filter(pk=factor.pk, last_step__lt=step).update(last_step=step))


@transaction.atomic
def two_factor_enrol(*, actor: User, request: HttpRequest | None, secret: str,
                     code: str) -> TwoFactor:
    """Keep the secret the actor's app shows codes for, once one code proves it
    (a second factor enrolled before is replaced)."""
    step = _matching_step(secret, code)
    if step is None:
        raise ValidationError(_("The code is not right: check the time on your phone and "
                                "type the code your app shows now."), field="code")
    TwoFactor.objects.filter(user=actor).delete()
    factor = TwoFactor.objects.create(user=actor, secret=secret, last_step=step)
    AccessLog.record(action=AccessAction.TWO_FACTOR_ENROLLED, request=request, user=actor,
                     obj=actor)
    return factor


def two_factor_disable(*, actor: User, request: HttpRequest, password: str, code: str) -> None:
    """The actor turns their second factor off, proving it with their password
    and a code (wrong ones count as failed log-ins). Roles that require a
    second factor cannot."""
    if is_required(actor):
        raise PermissionDenied(_("Your role requires a second factor. To change your phone, "
                                 "ask an administrator to reset it, then enrol again at your "
                                 "next log-in."))
    username = actor.get_username()
    lock = throttle.login_lock(request=request, username=username)
    if lock is not None:
        throttle.login_refused(request=request, username=username, lock=lock)
        raise PermissionDenied(lock.message(), code="locked")
    if not (actor.check_password(password) and code_verify(user=actor, code=code)):
        lock = throttle.login_failed(request=request, username=username, user=actor,
                                     reason="turning the second factor off")
        raise ValidationError(lock.message() if lock else
                              _("The password or the code is not right."), field="code")
    TwoFactor.objects.filter(user=actor).delete()
    AccessLog.record(action=AccessAction.TWO_FACTOR_DISABLED, request=request, user=actor,
                     obj=actor)


@transaction.atomic
def two_factor_reset(*, actor: User, request: HttpRequest | None, users) -> int:
    """An administrator removes the second factor of these users (a lost
    phone); each must enrol again (at their next log-in if their role
    requires it)."""
    count = 0
    for user in users:
        deleted, _rows = TwoFactor.objects.filter(user=user).delete()
        AccessLog.record(action=AccessAction.TWO_FACTOR_RESET, request=request, user=actor,
                         obj=user, reason=f"second factor of {user.get_username()} reset")
        count += bool(deleted)
    return count
