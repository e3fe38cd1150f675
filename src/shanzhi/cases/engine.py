"""The one way a case changes, whatever its type (docs/cases.md).

:func:`apply` is the pipeline every workflow action goes through: the
type's table (state and role) → the actor's relation to the case → the
type's guard → compare-and-set on ``version`` → close the running stage and
open the next one with its deadline in working time → one immutable
timeline row (with its attachments) → notifications → hooks. The type's
services only add what is their own: the fields an action changes, who is
told, what the timeline row carries.

Also here, for every type: stage deadlines, photos, idempotency keys, the
inbox, the cases an actor may act on, and the four actions every case has
(supervision and extensions).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from shanzhi.accounts.scope import Scope
from shanzhi.core.calendar import get_calendar
from shanzhi.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    TooLarge,
    ValidationError,
)
from shanzhi.core.uploads import image_clean

from . import hooks
from .models import IdempotencyKey, Notification
from .registry import CaseType

#: The longest texts taken, in characters (the API's schema and the pages'
#: forms state the same numbers; the services alone refuse).
#: … a note of an action (accept, dispatch, sign, verify, supervise, call-back …)
MAX_NOTE = 2000
#: … a reason (reject, escalate, return, verify_fail, extension, reopen)
MAX_REASON = 2000
#: … a result report (what was done): as long as a description
MAX_RESULT = 4000
#: The free-text fields of the actions, with their limits and names.
ACTION_TEXTS = {"note": (MAX_NOTE, gettext_lazy("Note")),
                "reason": (MAX_REASON, gettext_lazy("Reason")),
                "result": (MAX_RESULT, gettext_lazy("Result"))}
#: The longest Idempotency-Key (and device event_id) kept: the column's length.
MAX_IDEMPOTENCY_KEY = IdempotencyKey._meta.get_field("key").max_length
#: The largest photo taken (the request's total: settings.UPLOAD_MAX_BYTES).
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: Units of a time limit.
UNITS = ("working_days", "working_hours", "natural_hours")
SUPERVISION_LEVELS = ("yellow", "red", "black")


class IdempotencyMismatch(DomainError):
    status = 422
    code = "idempotency_key_reused"


# ---------------------------------------------------------------- deadlines

@dataclass(frozen=True)
class Deadline:
    amount: float
    unit: str
    warn_at: dt.datetime
    due_at: dt.datetime
    warnings: tuple[str, ...]


def deadline(amount: float, unit: str, start: dt.datetime) -> Deadline:
    """``amount`` ``unit`` from ``start`` on the working calendar, with the
    moment the light turns yellow."""
    calendar = get_calendar()
    due = calendar.add(start, amount, unit)
    warn = calendar.warn_at(start, amount, unit)
    return Deadline(amount, unit, warn, due.at, tuple(due.warnings))


def next_stage(kind: CaseType, case, state: str,
               start: dt.datetime) -> tuple[dict, models.Model | None]:
    """The case fields to set on entering ``state``, and its stage row (if a
    stage runs in it) not yet saved."""
    stage = kind.stage_of_state.get(state)
    if stage is None:
        return ({"stage": "", "warn_at": None, "due_at": None, "overdue": False,
                 "warned": False}, None)
    limit = kind.limit(case, stage)
    due = deadline(float(limit["amount"]), limit["unit"], start)
    row = kind.stage_model(**{kind.parent: case}, stage=stage, started_at=start,
                           warn_at=due.warn_at, due_at=due.due_at, amount=due.amount,
                           unit=due.unit, warnings=list(due.warnings))
    return ({"stage": stage, "warn_at": due.warn_at, "due_at": due.due_at,
             "overdue": False, "warned": False}, row)


def close_stage(kind: CaseType, case, now: dt.datetime) -> None:
    """End the open stage; the case's ``due_at`` is that stage's."""
    late = case.due_at is not None and case.due_at < now
    kind.stage_model.objects.filter(**{f"{kind.parent}_id": case.pk},
                                    ended_at__isnull=True).update(ended_at=now, overdue=late)


def open_stage(kind: CaseType, case):
    return kind.stage_model.objects.filter(**{f"{kind.parent}_id": case.pk},
                                           ended_at__isnull=True).first()


# ---------------------------------------------------------------- the inbox

def notify(kind: CaseType, *, user_ids: Iterable[int], case, what: str, params: Mapping,
           now: dt.datetime | None = None, exclude: int | None = None) -> None:
    """Tell these users what happened to the case: a record (``what`` and
    ``params``), its text rendered when read, in the reader's language."""
    ids = sorted({u for u in user_ids if u != exclude})
    number = kind.number(case) if case is not None else ""
    Notification.objects.bulk_create([
        Notification(user_id=u, case_type=kind.name, case_id=case.pk if case else None,
                     number=number, kind=what, params=dict(params),
                     created_at=now or timezone.now()) for u in ids])


def notifications_read(*, user, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def excerpt(text: str) -> str:
    """What a notification quotes of a description or a reason."""
    return (text or "")[:60]


def actor_name(actor) -> str:
    return (actor.display_name or actor.username) if actor is not None else ""


# ---------------------------------------------------------------- texts and photos

def check_length(field: str, text: str | None, limit: int, label: object) -> None:
    """Refuse a text longer than ``limit`` characters, naming the field, the
    limit and how many too many (never cut it short in silence). A line break
    counts once, as the browser's counter counts it (a form sends CR LF)."""
    n = len(text.replace("\r\n", "\n")) if text else 0
    if n > limit:
        raise ValidationError(
            gettext("“%(field)s” may be at most %(max)d characters long: it has %(n)d, "
                    "%(over)d too many.")
            % {"field": label, "max": limit, "n": n, "over": n - limit}, field=field)


def action_texts_check(texts: Mapping) -> None:
    """Refuse a note, reason or result over its limit (the API checks every
    one it was sent, even one the action does not use)."""
    for name, (limit, label) in ACTION_TEXTS.items():
        check_length(name, texts.get(name), limit, label)


def check_photos(photos: Sequence[UploadedFile]) -> list[tuple[ContentFile, str, str, str]]:
    """Each photo decoded and encoded again (``core.uploads.image_clean``: no
    EXIF, no trailing bytes, at most 40 megapixels read, 4096 px kept) with the
    sha256 of what will be stored: (file, content_type, ext, sha256). The same
    upload gives the same bytes, so an idempotent retry hashes the same."""
    photos = list(photos)
    if len(photos) > settings.UPLOAD_MAX_FILES:
        raise TooLarge(gettext("At most %(n)s photos may be sent at once.")
                       % {"n": settings.UPLOAD_MAX_FILES}, field="photos")
    if sum(photo.size or 0 for photo in photos) > settings.UPLOAD_MAX_BYTES:
        raise TooLarge(gettext("The photos are larger than %(mb)s MB in all.")
                       % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}, field="photos")
    checked = []
    for i, photo in enumerate(photos):
        field = f"photos[{i}]"
        if photo.size is None or photo.size > MAX_PHOTO_BYTES:
            raise ValidationError(gettext("%(name)s: larger than %(mb)s MB")
                                  % {"name": photo.name, "mb": MAX_PHOTO_BYTES // (1024 * 1024)},
                                  field=field)
        clean, content_type, ext = image_clean(photo, field=field)
        clean.name = photo.name or ""
        checked.append((clean, content_type, ext,
                        hashlib.sha256(clean.file.getvalue()).hexdigest()))
    return checked


def save_files(kind: CaseType, case, entry, files) -> list:
    """Store checked photos (or documents: (file, content_type, ext, sha256))
    as the case's attachments, with the timeline entry they came with."""
    saved = []
    for upload, content_type, ext, sha in files:
        att = kind.attachment_model(**{kind.parent: case}, entry=entry,
                                    content_type=content_type, size=upload.size, sha256=sha,
                                    name=(upload.name or "")[:200])
        att.file.save(f"{sha[:32]}.{ext}", upload, save=False)
        att.save()
        saved.append(att)
    return saved


# ---------------------------------------------------------------- idempotency

def request_hash(fields: Mapping, photos=()) -> str:
    """The fingerprint of a request: its fields and its photos, checked
    ((file, content_type, ext, sha256) from :func:`check_photos`) or as
    uploaded."""
    body = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
    digest = hashlib.sha256(body.encode())
    for photo in photos:
        digest.update(photo[3].encode() if isinstance(photo, tuple) else _sha256(photo).encode())
    return digest.hexdigest()


def _sha256(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def check_idempotency_key(key: str | None) -> None:
    if key and len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValidationError(gettext("The Idempotency-Key is longer than %(max)d characters.")
                              % {"max": MAX_IDEMPOTENCY_KEY}, field="Idempotency-Key")


def create_once(kind: CaseType, *, owner: str, key: str | None, fingerprint: str,
                create: Callable[[], Any]) -> tuple[Any, bool]:
    """``create()`` (a new case, or an action on one) in a transaction, unless
    ``key`` was used before by this owner: then (the case as it is now, False)
    — or 422 when the key came with other content. A race on the same key
    answers the loser as a replay."""
    if key:
        replay = _replay(kind, owner, key, fingerprint)
        if replay is not None:
            return replay, False
    try:
        with transaction.atomic():
            case = create()
            if key:
                IdempotencyKey.objects.create(case_type=kind.name, owner=owner, key=key,
                                              request_hash=fingerprint, case_id=case.pk)
    except IntegrityError:
        replay = _replay(kind, owner, key, fingerprint) if key else None
        if replay is None:
            raise
        return replay, False
    return case, True


def _replay(kind: CaseType, owner: str, key: str, fingerprint: str):
    record = IdempotencyKey.objects.filter(case_type=kind.name, owner=owner, key=key).first()
    if record is None:
        return None
    case = kind.model.objects.get(pk=record.case_id)
    if record.request_hash != fingerprint:
        number = kind.number(case)
        raise IdempotencyMismatch(kind.message("key_reused") % {"number": number},
                                  field="Idempotency-Key", details={kind.name: number})
    return case


# ---------------------------------------------------------------- who may act

def roles(kind: CaseType, actor) -> list[str]:
    return list(kind.roles(actor))


def check_role(kind: CaseType, actor, action: str) -> None:
    """The table's role check alone, for a service that looks up its fields
    before :func:`apply`: whether a role may act must not depend on them."""
    if actor is not None and not kind.workflow.transition(action).roles & set(roles(kind, actor)):
        raise PermissionDenied(kind.message("role") % {"action": kind.action_label(action)},
                               field="action")


def case_for_actor(kind: CaseType, *, actor, key: int | str):
    """The case (by number, or by id when all digits) if the actor's scope
    reaches it; otherwise NotFound."""
    qs = kind.visible(Scope.for_user(actor)).select_related(*kind.related).defer(*kind.deferred)
    key = str(key)
    case = (qs.filter(**{kind.number_field: key}).first() if not key.isdigit()
            else qs.filter(pk=int(key)).first())
    if case is None:
        raise NotFound(kind.message("not_found") % {"id": key}, field="id")
    return case


def available_actions(kind: CaseType, *, actor, case) -> list[str]:
    scope = Scope.for_user(actor)
    return [t.action for t in kind.workflow.available(case.state, roles(kind, actor))
            if kind.relation_allows(actor, case, t.roles, scope)
            and kind.guard(t.action, case) is None]


# ---------------------------------------------------------------- the pipeline

def apply(kind: CaseType, *, actor, case, action: str, payload: Mapping,
          changes: Mapping | None = None, data: Mapping | None = None,
          notify_ids: Iterable[int] = (), notice: Mapping | None = None, photos=(),
          expected_version: int | None = None, now: dt.datetime | None = None,
          restart_stage: bool = False):
    """Check, compare-and-set, record. ``actor`` None is the system (the sweep)."""
    action_texts_check(payload)
    now = now or timezone.now()
    current = {"state": case.state, "version": case.version}  # what every 409 carries
    if actor is not None:
        try:
            t = kind.workflow.check(action, state=case.state, roles=roles(kind, actor),
                                    payload=payload)
        except DomainError as exc:
            raise _refusal(kind, exc, action=action, state=case.state,
                           current=current) from None
        if not kind.relation_allows(actor, case, t.roles, None):
            raise PermissionDenied(kind.message("relation")
                                   % {"action": kind.action_label(action)}, field="action")
    else:
        t = kind.workflow.transition(action)
        if case.state not in t.sources:
            raise Conflict(kind.message("state") % {"action": kind.action_label(action),
                                                    "state": kind.state_label(case.state)},
                           code="invalid_state", details=current)
    why_not = kind.guard(action, case)
    if why_not:
        raise Conflict(why_not, code="invalid_state", details=current)
    if expected_version is not None and expected_version != case.version:
        raise stale(kind, case)
    before = case.state
    target = t.leads_to(before)
    updates: dict = {"state": target, "version": F("version") + 1, "updated_at": now,
                     **(changes or {})}
    if t.counter:
        updates[t.counter] = F(t.counter) + 1
    new_stage = None
    moved = target != before or restart_stage
    if moved:
        # the next stage's deadline is set by the compare-and-set update itself
        stage_fields, new_stage = next_stage(kind, case, target, now)
        updates.update(stage_fields)
    with transaction.atomic():
        hooks.changing.send(kind.model, case=case, updates=updates)  # rolled back with a lost race
        rows = kind.model.objects.filter(pk=case.pk, version=case.version).update(**updates)
        if rows != 1:
            raise stale(kind, case)
        if moved:
            close_stage(kind, case, now)
            if new_stage is not None:
                new_stage.save(force_insert=True)
        entry = kind.entry_model.objects.create(
            **{kind.parent: case}, action=action, actor=actor, at=now, from_state=before,
            to_state=target,
            data={k: v for k, v in {**plain(payload), **(data or {})}.items() if v is not None})
        if photos:
            save_files(kind, case, entry, photos)
        if notice is not None:
            notify(kind, user_ids=notify_ids, case=case, what=action,
                   params={"number": kind.number(case), "actor": actor_name(actor), **notice},
                   now=now, exclude=actor.pk if actor else None)
    _refresh(kind, case, updates)
    return case


def _refusal(kind: CaseType, exc: DomainError, *, action: str, state: str,
             current: dict) -> DomainError:
    """The workflow table's refusal (``core.workflow``, in English: it knows no
    case words) told in the reader's language, with the same class, code and
    field; a conflict carries the case's state and version."""
    names = {"action": kind.action_label(action), "state": kind.state_label(state),
             "field": kind.field_label(exc.field or "")}
    if isinstance(exc, PermissionDenied):
        message = kind.message("role")
    elif isinstance(exc, Conflict):
        message = kind.message("state")
        exc.details = {**current, **exc.details}
    elif exc.field == "action":
        message, names = gettext("Unknown action %(action)s."), {"action": action}
    else:
        message = gettext("“%(action)s” needs: %(field)s.")
    return type(exc)(message % names, field=exc.field, code=exc.code, details=exc.details)


#: What the sweep changes without bumping the version (see ``cases.sla``).
SWEPT_FIELDS = ("warned", "overdue", "supervise_count")


def _refresh(kind: CaseType, case, updates: Mapping) -> None:
    """Bring the case in memory to the row the compare-and-set wrote: the
    values it set, the counters it moved, and the fields the sweep may have
    changed meanwhile (read again)."""
    for name, value in updates.items():
        if name == "version" or name.endswith("_count"):
            continue
        setattr(case, name, value)  # a model instance also keeps its relation cached
    case.version += 1
    for name in [name for name in updates if name.endswith("_count")]:
        setattr(case, name, getattr(case, name) + 1)
    swept = kind.model.objects.filter(pk=case.pk).values_list(*SWEPT_FIELDS).first()
    if swept is not None:
        for name, value in zip(SWEPT_FIELDS, swept, strict=True):
            setattr(case, name, value)


def plain(payload: Mapping) -> dict:
    """The payload as the timeline stores it: a model by its code or number."""
    out = {}
    for key, value in payload.items():
        if isinstance(value, models.Model):
            out[key] = getattr(value, "code", None) or getattr(value, "number", None) \
                or value.pk
        elif isinstance(value, dt.datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str | int | float | bool | list | dict) or value is None:
            out[key] = value
    return out


def stale(kind: CaseType, case) -> Conflict:
    current = kind.model.objects.filter(pk=case.pk).values("state", "version").first() or {}
    return Conflict(kind.message("stale"), code="conflict",
                    details={"state": current.get("state"), "version": current.get("version")})


# ---------------------------------------------------------------- what every case has

def supervise(kind: CaseType, *, actor, case, note: str, level: str = "yellow",
              **kw):
    """督办: flag and urge (counted); tells who acts and who oversees."""
    check_role(kind, actor, "supervise")
    if level not in SUPERVISION_LEVELS:
        raise ValidationError(gettext("The level must be yellow, red or black."), field="level")
    return apply(kind, actor=actor, case=case, action="supervise",
                 payload={"note": note, "level": level},
                 notify_ids=kind.assignees(case) + kind.overseers(case),
                 notice={"note": excerpt(note)}, **kw)


def request_extension(kind: CaseType, *, actor, case, reason: str, amount: float,
                      unit: str = "working_days", **kw):
    check_role(kind, actor, "request_extension")
    try:
        amount = float(amount)
    except (TypeError, ValueError):
        raise ValidationError(gettext("The amount must be a number."), field="amount") from None
    if not 0 < amount <= 100:
        raise ValidationError(gettext("The amount must be more than 0 and at most 100."),
                              field="amount")
    if unit not in UNITS:
        raise ValidationError(gettext("Unknown unit %(unit)s.") % {"unit": unit}, field="unit")
    request = {"amount": amount, "unit": unit, "reason": reason,
               "by": actor.username, "at": (kw.get("now") or timezone.now()).isoformat()}
    return apply(kind, actor=actor, case=case, action="request_extension",
                 payload={"reason": reason, "amount": amount, "unit": unit},
                 changes={"pending_extension": request}, notify_ids=kind.overseers(case),
                 notice={"amount": amount, "unit": unit}, **kw)


@transaction.atomic  # a refused approval must leave the stage's deadline alone
def approve_extension(kind: CaseType, *, actor, case, note: str = "", **kw):
    """Extend the running stage's deadline by what was asked, counted from
    its start in the same unit, else added to the old deadline."""
    request = case.pending_extension or {}
    changes: dict = {"pending_extension": None}
    data: dict = {}
    stage = open_stage(kind, case)
    if request and stage is not None:
        calendar = get_calendar()
        if request["unit"] == stage.unit:  # one longer limit, counted from the stage's start
            amount = stage.amount + float(request["amount"])
            due = calendar.add(stage.started_at, amount, stage.unit)
            warn = calendar.warn_at(stage.started_at, amount, stage.unit)
        else:  # a limit in another unit: added to the old deadline
            amount = stage.amount
            due = calendar.add(stage.due_at, request["amount"], request["unit"])
            warn = due.at
        kind.stage_model.objects.filter(pk=stage.pk).update(due_at=due.at, warn_at=warn,
                                                            amount=amount)
        changes.update(due_at=due.at, warn_at=warn, overdue=False, warned=False)
        data = {"due_at": due.at.isoformat(), "extension": request,
                "warnings": list(due.warnings)}
    return apply(kind, actor=actor, case=case, action="approve_extension",
                 payload={"note": note}, changes=changes, data=data,
                 notify_ids=kind.assignees(case), notice={}, **kw)


def refuse_extension(kind: CaseType, *, actor, case, reason: str, **kw):
    return apply(kind, actor=actor, case=case, action="refuse_extension",
                 payload={"reason": reason}, changes={"pending_extension": None},
                 notify_ids=kind.assignees(case), notice={"reason": excerpt(reason)}, **kw)


def extension_guard(action: str, case) -> str | None:
    """The extension actions' own rule, for a type's guard: one request at a time."""
    if action == "request_extension" and case.pending_extension:
        return gettext("An extension request is already waiting for a decision.")
    if action in ("approve_extension", "refuse_extension") and not case.pending_extension:
        return gettext("No extension request is waiting.")
    return None


# ---------------------------------------------------------------- links between cases

def link(*, source_kind: CaseType, source, target_kind: CaseType, target, actor=None,
         relation: str = "became"):
    """Record that ``source`` belongs with ``target`` (read from both sides)."""
    from .models import CaseLink

    return CaseLink.objects.get_or_create(
        from_type=source_kind.name, from_id=source.pk, to_type=target_kind.name, to_id=target.pk,
        defaults={"from_number": source_kind.number(source),
                  "to_number": target_kind.number(target), "relation": relation,
                  "created_by": actor})[0]
