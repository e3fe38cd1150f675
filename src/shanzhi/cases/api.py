"""What every case type's API has: the inbox (``/me/notifications``), the
request parsing, and :func:`case_routes`, which gives a type its detail,
timeline, attachment and action endpoints from its services."""

from __future__ import annotations

import datetime as dt
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from django.http import FileResponse, HttpRequest
from django.utils.translation import gettext
from ninja import Header, Path, Query, Router
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from shanzhi.accounts.models import User
from shanzhi.core.errors import NotAuthenticated, NotFound, ValidationError
from shanzhi.core.input import MAX_ID, MAX_OFFSET, AsciiInt, Id, Out, errors

from . import engine, selectors
from .registry import CaseType

router = Router(tags=["notifications"])
MAX_PAGE = 500
Limit = Annotated[AsciiInt, Query(50, ge=1, le=MAX_PAGE, description="page size")]
Offset = Annotated[AsciiInt, Query(
    0, ge=0, le=MAX_OFFSET,
    description=f"rows to skip (at most {MAX_OFFSET:,}: narrow the filters instead)")]
#: Each text filter of a list is short.
Filter = Annotated[str, Query(max_length=100)]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=engine.MAX_IDEMPOTENCY_KEY,
    description="a retry with the same key and content returns the first case")]


# ---------------------------------------------------------------- input

def body(request: HttpRequest) -> tuple[dict, list]:
    """The request's fields and uploaded photos: JSON, or a multipart form whose
    ``extra`` field (if any) is JSON."""
    content_type = request.content_type or ""
    if content_type.startswith(("multipart/", "application/x-www-form-urlencoded")):
        data: dict[str, Any] = {k: v for k, v in request.POST.items() if v != ""}
        if "extra" in data:
            try:
                data["extra"] = json.loads(data["extra"])
            except ValueError:
                raise ValidationError(gettext("extra must be a JSON object."),
                                      field="extra") from None
        return data, request.FILES.getlist("photos")
    if not request.body:
        return {}, []
    try:
        data = json.loads(request.body)
    except ValueError:
        raise ValidationError(gettext("The body is not valid JSON."), field="body") from None
    if not isinstance(data, dict):
        raise ValidationError(gettext("The body must be a JSON object."), field="body")
    return data, []


def multipart(model: type[BaseModel]) -> dict:
    """The multipart form of a JSON body: the same fields as text (``extra``
    as JSON text), and ``photos``."""
    schema = model.model_json_schema()
    properties = {name: {"type": "string"} for name in schema["properties"]}
    # a file as OpenAPI 3.1 states it (contentMediaType, not 3.0's "format": "binary")
    properties["photos"] = {"type": "array", "items": {"type": "string",
                                                       "contentMediaType": "image/*"}}
    return {"type": "object", "properties": properties, "required": schema.get("required", []),
            "additionalProperties": False}


def validate(model: type[BaseModel], data: dict) -> BaseModel:
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        message = (gettext("unknown field") if first["type"] == "extra_forbidden"
                   else first["msg"])
        raise ValidationError(f"{field}: {message}" if field else message, field=field) from None


def actor_of(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated(gettext("Log in, or send Authorization: Bearer <token>."))
    return user


def page(qs, limit: int, offset: int, present) -> dict:
    """One page of a list (``limit`` and ``offset`` are checked by their types)."""
    return {"count": qs.count(), "limit": limit, "offset": offset,
            "items": [present(item) for item in qs[offset:offset + limit]]}


# ---------------------------------------------------------------- output

class AttachmentOut(Out):
    url: str
    content_type: str
    size: int
    sha256: str


class StageOut(Out):
    stage: str
    started_at: dt.datetime
    due_at: dt.datetime | None
    ended_at: dt.datetime | None
    overdue: bool
    amount: float | None
    unit: str
    warnings: Any


class ActorOut(Out):
    username: str | None
    name: str


class TimelineEntryOut(Out):
    action: str
    at: dt.datetime
    from_state: str | None
    to_state: str | None
    actor: ActorOut
    data: dict[str, Any]
    attachments: list[str]


def case_parts(kind: CaseType, case) -> dict:
    """What every case's detail shows: its attachments and its stages."""
    return {
        "attachments": [{"url": kind.attachment_url(case, a), "content_type": a.content_type,
                         "size": a.size, "sha256": a.sha256} for a in case.attachments.all()],
        "stages": [{"stage": s.stage, "started_at": s.started_at, "due_at": s.due_at,
                    "ended_at": s.ended_at, "overdue": s.overdue, "amount": s.amount,
                    "unit": s.unit, "warnings": s.warnings} for s in case.stages.all()],
    }


# ---------------------------------------------------------------- a type's routes

def _keyed(view: Callable, key: str, types: Mapping[str, Any]) -> Callable:
    """``view`` (whose case parameter is ``case_key``) with that parameter
    named ``key`` in the schema and the URL (``incident_id`` …), and the
    parameters' types given (they are local to :func:`case_routes`)."""
    signature = inspect.signature(view)
    params = [p.replace(name=key if p.name == "case_key" else p.name,
                        annotation=types.get(p.name, p.annotation))
              for p in signature.parameters.values()]

    def keyed(request, **kwargs):
        kwargs["case_key"] = kwargs.pop(key)
        return view(request, **kwargs)

    keyed.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    keyed.__doc__ = view.__doc__
    keyed.__name__ = view.__name__
    return keyed


def case_routes(router: Router, kind: CaseType, *, key: str, detail_out: type[Out],
                present: Callable[..., dict], action_in: type[BaseModel],
                action_fields: Mapping[str, list[str]], photo_actions: set[str],
                services: Mapping[str, Callable], name: str, noun: str) -> None:
    """Add a case type's detail, timeline, attachment and action endpoints
    under ``/{kind.api_prefix}/{key}``: ``present(case, actor=, detail=)`` is
    the type's answer; ``services`` its action services (``kind.parent`` =
    the case); ``name`` names the routes (``incident`` → ``incident_detail``, the
    URL name, and ``shanzhi_incidents_api_incident_detail``, the operation id)."""
    operation = f"shanzhi_{kind.model._meta.app_label}_api_{name}"
    prefix = f"/{kind.api_prefix}/{{{key}}}"
    case_key = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,40}$",
                                   description=f"the {noun}'s number or id")]
    action_name = Literal[tuple(action_fields)]  # type: ignore[valid-type]

    def detail(request: HttpRequest, case_key: str):
        actor = actor_of(request)
        case = engine.case_for_actor(kind, actor=actor, key=case_key)
        return present(case, actor=actor, detail=True)

    def timeline(request: HttpRequest, case_key: str):
        actor = actor_of(request)
        case = engine.case_for_actor(kind, actor=actor, key=case_key)
        return [{"action": e.action, "at": e.at, "from_state": e.from_state or None,
                 "to_state": e.to_state or None,
                 "actor": ({"username": e.actor.username, "name": str(e.actor)}
                           if e.actor else {"username": None, "name": "system"}),
                 "data": e.data,
                 "attachments": [kind.attachment_url(case, a) for a in e.attachments.all()]}
                for e in selectors.timeline(kind, case)]

    attachment_key = Annotated[AsciiInt, Path(ge=1, le=MAX_ID)]

    def attachment(request: HttpRequest, case_key: str, attachment_id: int):
        actor = actor_of(request)
        case = engine.case_for_actor(kind, actor=actor, key=case_key)
        found = case.attachments.filter(pk=attachment_id).first()
        if found is None:
            raise NotFound(gettext("No such attachment."), field="attachment_id")
        response = FileResponse(found.file.open("rb"), content_type=found.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def act(request: HttpRequest, case_key: str, action: str,
            idempotency_key: IdempotencyKey = None):
        """Send ``version`` (from the case) to act only on what you saw: if
        someone else acted first the answer is 409 with the current state.
        Send an ``Idempotency-Key`` to retry safely (a phone that lost the
        answer): the same key and content answer the case as it is now (200)
        instead of a conflict; the same key with other content, 422."""
        actor = actor_of(request)
        service = services.get(action)
        if service is None:
            raise ValidationError(gettext("Unknown action %(action)s.") % {"action": action},
                                  field="action")
        case = engine.case_for_actor(kind, actor=actor, key=case_key)
        data, photos = body(request)
        sent = validate(action_in, data)
        engine.action_texts_check(sent.model_dump())  # also the texts the action ignores
        fields = {name: getattr(sent, name) for name in action_fields[action]}
        if action in photo_actions:
            fields["photos"] = photos
        elif photos:
            raise ValidationError(gettext("The action “%(action)s” takes no photos.")
                                  % {"action": kind.action_label(action)}, field="photos")
        fingerprint = engine.request_hash(
            {"case": case.pk, "action": action, **sent.model_dump()}, photos)
        case, _done = engine.create_once(
            kind, owner=f"user:{actor.pk}:act", key=idempotency_key, fingerprint=fingerprint,
            create=lambda: service(actor=actor, **{kind.parent: case},
                                   expected_version=sent.version, **fields))
        return present(case, actor=actor, detail=True)

    router.get(f"{prefix}", response={200: detail_out, **errors(404)},
               operation_id=f"{operation}_detail", url_name=f"{name}_detail",
               summary=f"One {noun}, with the actions I may take now")(
        _keyed(detail, key, {"case_key": case_key}))
    router.get(f"{prefix}/timeline", response={200: list[TimelineEntryOut], **errors(404)},
               operation_id=f"{operation}_timeline", url_name=f"{name}_timeline",
               summary=f"Every action taken on a {noun}")(
        _keyed(timeline, key, {"case_key": case_key}))
    router.get(f"{prefix}/attachments/{{attachment_id}}", response={200: None, **errors(404)},
               operation_id=f"{operation}_attachment", url_name=f"{name}_attachment",
               openapi_extra={"responses": {200: {"description": "the file", "content": {
                   t: {"schema": {"type": "string", "format": "binary"}}
                   for t in ("image/jpeg", "image/png", "image/gif")}}}},
               summary=f"A photo of a {noun} (as scoped as the {noun})")(
        _keyed(attachment, key, {"case_key": case_key, "attachment_id": attachment_key}))
    router.post(f"{prefix}/{{action}}",
                response={200: detail_out, **errors(403, 404, 409, 413, 422)},
                operation_id=f"{operation}_action", url_name=f"{name}_action",
                openapi_extra={"requestBody": {"content": {
                    "application/json": {"schema": action_in.model_json_schema()},
                    "multipart/form-data": {"schema": multipart(action_in)}}}},
                summary="Take a workflow action")(
        _keyed(act, key, {"case_key": case_key, "action": action_name}))


# ---------------------------------------------------------------- the inbox

class NotificationOut(Out):
    id: int
    #: What happened: a workflow action, or ``new``, ``warn``, ``overdue``.
    kind: str
    #: The text, in the request's language (``Accept-Language``).
    message: str
    #: The particulars the text is rendered from (case number, reason …).
    params: dict[str, Any]
    created_at: dt.datetime
    read_at: dt.datetime | None
    #: The case's type (``incident``, ``mediation`` …) and number.
    case_type: str | None
    number: str | None
    #: The incident's number, for a notification about an incident.
    incident: str | None


class NotificationPage(Out):
    count: int
    limit: int
    offset: int
    items: list[NotificationOut]


class MarkedOut(Out):
    marked: int


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[Id] | None = Field(None, max_length=MAX_PAGE)


@router.get("/me/notifications", response={200: NotificationPage, **errors()},
            summary="My notification inbox")
def my_notifications(request: HttpRequest, unread: bool = False, limit: Limit = 50,
                     offset: Offset = 0):
    """Newest first. ``kind`` and ``params`` say what happened (the case
    number, the reason …); ``message`` is its text in the request's language
    (``Accept-Language``; Chinese without one)."""
    actor = actor_of(request)
    return page(selectors.notifications(user=actor, unread_only=unread), limit, offset,
                lambda n: {"id": n.pk, "kind": n.kind, "message": n.text, "params": n.params,
                           "created_at": n.created_at, "read_at": n.read_at,
                           "case_type": n.case_type or None, "number": n.number or None,
                           "incident": n.number if n.case_type == "incident" else None})


@router.post("/me/notifications/read", response={200: MarkedOut, **errors(413)},
             openapi_extra={"requestBody": {"content": {
                 "application/json": {"schema": ReadIn.model_json_schema()}}}},
             summary="Mark my notifications read (all of them without ids)")
def read_notifications(request: HttpRequest):
    actor = actor_of(request)
    data, _ = body(request)
    sent = validate(ReadIn, data)
    return {"marked": engine.notifications_read(user=actor, ids=sent.ids)}
