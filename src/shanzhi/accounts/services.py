"""Writes to users, departments, grid workers and tokens."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.core.errors import NotAuthenticated, ValidationError
from shanzhi.geo.models import Grid
from shanzhi.geo.selectors import current_region

from .auth import forget_tokens
from .models import ApiToken, Department, GridWorker, Role, User


def department_create(*, code: str, name: str, region_code: str, kind: str = "") -> Department:
    if Department.objects.filter(code=code).exists():
        raise ValidationError(f"a department with code {code!r} exists", field="code")
    return Department.objects.create(code=code, name=name, region=current_region(region_code),
                                     kind=kind)


@transaction.atomic
def user_create(*, username: str, password: str, role: str, region_code: str | None = None,
                grid_codes: Sequence[str] = (), department_code: str | None = None,
                worker_kind: str = GridWorker.Kind.FULL_TIME, display_name: str = "",
                validate: bool = False) -> User:
    """Create a user with a role and a territory. Each role needs its own
    anchor: a region (city admin, operator, viewer), a department (handler) or
    grids (grid worker).

    ``validate=True`` checks the password against the password rules
    (``AUTH_PASSWORD_VALIDATORS``): callers pass it when a person chose the
    password (``shanzhi user create``); programs (the demo, the tests) do not."""
    if role not in Role.values:
        raise ValidationError(f"unknown role {role!r}: use one of {', '.join(Role.values)}",
                              field="role")
    if not username:
        raise ValidationError("the username is empty", field="username")
    if User.objects.filter(username=username).exists():
        raise ValidationError(f"a user named {username!r} exists", field="username")
    if validate:
        try:
            validate_password(password, User(username=username, display_name=display_name))
        except DjangoValidationError as exc:
            raise ValidationError(" ".join(exc.messages), field="password") from None
    region = current_region(region_code) if region_code else None
    department = None
    if department_code:
        department = Department.objects.filter(code=department_code).first()
        if department is None:
            raise ValidationError(f"no department with code {department_code!r}",
                                  field="department")
    grids: list[Grid] = []
    if grid_codes:
        grids = list(Grid.objects.current().filter(code__in=grid_codes))
        missing = sorted(set(grid_codes) - {g.code for g in grids})
        if missing:
            raise ValidationError(f"no current grid with code {', '.join(missing)}", field="grid")
    if role == Role.HANDLER and department is None:
        raise ValidationError("a handler needs --department", field="department")
    if role == Role.GRID_WORKER and not grids:
        raise ValidationError("a grid worker needs at least one --grid", field="grid")
    if role in (Role.CITY_ADMIN, Role.OPERATOR, Role.VIEWER) and region is None:
        raise ValidationError(f"a {role} needs --region", field="region")
    if role == Role.CITY_ADMIN and region is not None and region.parent_id is not None:
        raise ValidationError("a city administrator's --region must be a city", field="region")
    if worker_kind not in GridWorker.Kind.values:
        raise ValidationError(f"unknown grid worker kind {worker_kind!r}", field="kind")
    user = User(username=username, role=role, region=region, department=department,
                display_name=display_name, is_staff=role == Role.CITY_ADMIN)
    user.set_password(password)
    user.save()
    if role == Role.GRID_WORKER:
        worker = GridWorker.objects.create(user=user, kind=worker_kind)
        worker.grids.set(grids)
    return user


def tokens_revoke(tokens: QuerySet[ApiToken]) -> int:
    """Revoke tokens; no process takes them afterwards (auth.py)."""
    with transaction.atomic():
        count = tokens.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        forget_tokens()
    return count


def token_create(*, username: str, name: str = "") -> str:
    """Issue a bearer token; the key is shown once and only its hash is kept.
    It expires after ``SHANZHI_TOKEN_DAYS`` days."""
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError(gettext("No active user named %(username)s.")
                              % {"username": username}, field="username")
    _token, key = ApiToken.issue(user=user, name=name)
    return key


def token_renew(*, actor: User, key: str, request=None) -> tuple[str, ApiToken]:
    """Swap a valid token for a new one (new key, new expiry); the old one is
    revoked in the same transaction, so a retry with the old key is refused."""
    from shanzhi.core.models import AccessAction, AccessLog

    with transaction.atomic():
        old = (ApiToken.objects.select_for_update()
               .filter(key_hash=ApiToken.hash(key), user=actor, revoked_at__isnull=True).first())
        if old is None or old.expires_at <= timezone.now():
            raise NotAuthenticated(gettext("The token is no longer valid."), field="token")
        ApiToken.objects.filter(pk=old.pk).update(revoked_at=timezone.now())
        token, new_key = ApiToken.issue(user=actor, name=old.name)
        forget_tokens()
        AccessLog.record(action=AccessAction.TOKEN_RENEWED, request=request, user=actor,
                         obj=token, reason=f"replaces token {old.hint}…")
    return new_key, token
