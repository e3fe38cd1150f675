"""What the page of any case type needs (``cases.registry.CaseType``): its
timeline as the page shows it, one Django form per action the user may take
now (built from the action's fields), and the answer to a posted action —
success, a kind explanation of a conflict (someone acted first), or the
form's errors by field. A type's page module only names its fields' widgets
and choices and lays the page out (see ``web/mediation.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from shanzhi.cases import selectors as case_selectors
from shanzhi.cases.engine import ACTION_TEXTS
from shanzhi.cases.notices import UNIT_LABELS
from shanzhi.cases.registry import CaseType
from shanzhi.core.errors import Conflict, DomainError, PermissionDenied
from shanzhi.core.errors import ValidationError as DomainValidationError

# ---------------------------------------------------------------- the timeline

@dataclass
class TimelineItem:
    at: dt.datetime
    action: str
    label: str
    actor: str
    system: bool
    moved: str = ""  # "已受理 → 调解中" when the state changed
    details: list[tuple[str, str]] = field(default_factory=list)
    photos: list[Any] = field(default_factory=list)


def when(value: dt.datetime | str | None) -> str:
    """A moment as the pages write it (local time), from a datetime or ISO text."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if value is None:
        return ""
    if timezone.is_naive(value):
        return date_format(value, "Y-m-d H:i")
    return date_format(timezone.localtime(value), "Y-m-d H:i")


def shown(value: Any) -> str:
    """A timeline value as text: clauses one per line, yes/no, moments."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list | tuple):
        return "\n".join(f"{i}. {item}" for i, item in enumerate(value, start=1))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and "T" in value:
        return when(value)
    return str(value)


def entry_details(kind: CaseType, entry, *, names: Mapping[str, Mapping] | None = None,
                  labels: Mapping[str, Any] | None = None,
                  skip: Sequence[str] = ()) -> list[tuple[str, str]]:
    """What a timeline row carried, named in the reader's language: each
    plain value of its data under ``labels[key]`` or the type's field label,
    a code turned into its name through ``names`` (field → code → name)."""
    names = names or {}
    labels = labels or {}
    out: list[tuple[str, str]] = []
    for key, value in (entry.data or {}).items():
        if key in skip or value is None or value == "" or isinstance(value, dict):
            continue
        if key in names:
            value = names[key].get(value, value) if not isinstance(value, list) else value
        out.append((str(labels.get(key) or kind.field_label(key)), shown(value)))
    return out


def moved(kind: CaseType, entry) -> str:
    if not entry.from_state or entry.from_state == entry.to_state:
        return ""
    return f"{kind.state_label(entry.from_state)} → {kind.state_label(entry.to_state)}"


def timeline_items(kind: CaseType, case, *,
                   details: Callable[[Any], list[tuple[str, str]]] | None = None,
                   entries: Sequence | None = None) -> list[TimelineItem]:
    """The case's timeline (``entries``, else ``cases.selectors.timeline``),
    oldest first; ``details(entry)`` says what each row carried (default: its
    data, named by the type's field labels)."""
    details = details or (lambda entry: entry_details(kind, entry))
    if entries is None:
        entries = list(case_selectors.timeline(kind, case))
    return [TimelineItem(at=e.at, action=e.action, label=kind.action_label(e.action),
                         actor=str(e.actor) if e.actor else _("System"),
                         system=e.actor_id is None, moved=moved(kind, e),
                         details=details(e),
                         photos=[kind.attachment_url(case, a) for a in e.attachments.all()])
            for e in entries]


# ---------------------------------------------------------------- the action forms

TEXTAREA, LINES, SELECT, CHECKBOX, DATETIME, NUMBER, TEXT, FILE = (
    "textarea", "lines", "select", "checkbox", "datetime", "number", "text", "file")
#: A clause list's longest clause and most clauses.
MAX_LINE = 1000
MAX_LINES = 50
#: A number field's first value (an extension: one unit of time).
NUMBER_DEFAULT = 1


class ActionBoundField(forms.BoundField):
    """A field as drawn: a text with a limit is also described by the
    sentence that states it (``<p id="…-limit">``, web/parts/case_field.html)."""

    @property
    def aria_describedby(self):
        described = super().aria_describedby
        if self.auto_id and getattr(self.field, "limit", 0):
            described = " ".join(filter(None, [f"{self.auto_id}-limit", described]))
        return described


class ActionForm(forms.Form):
    """Every action's form carries the version of the case the user saw: the
    service refuses it (a conflict) if someone else acted in between."""

    bound_field_class = ActionBoundField
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    #: Set by :func:`action_form_class`.
    action = ""
    label = ""
    tone = "plain"
    #: A sentence drawn above the fields (what the action decides on).
    intro = ""

    def arguments(self) -> dict:
        """The service's keyword arguments: every field but the version, the
        empty optional ones left out (the service's defaults apply)."""
        return {name: value for name, value in self.cleaned_data.items()
                if name != "version" and value not in (None, "", [])}


class LinesField(forms.CharField):
    """A textarea whose non-blank lines are a list (a clause per line)."""

    widget = forms.Textarea

    def to_python(self, value):
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")

    def run_validators(self, value):
        if len(value) > MAX_LINES:
            raise forms.ValidationError(_("At most %(n)d lines.") % {"n": MAX_LINES})
        for line in value:
            if len(line) > MAX_LINE:
                raise forms.ValidationError(_("A line is longer than %(n)d characters.")
                                            % {"n": MAX_LINE})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class TextArea(forms.Textarea):
    """A textarea whose text is exactly what was typed (no line break added
    before it) and whose id comes first."""

    template_name = "web/parts/case_textarea.html"

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.attrs.pop("cols", None)  # the page's style sets the width


class LimitedTextField(forms.CharField):
    """A text whose limit the page states (``data-max-length``, a hint) but
    leaves to the service: its refusal names the field, the limit and how
    many characters too many, and a browser's ``maxlength`` would cut a
    paste short in silence."""

    def __init__(self, *, limit: int = 0, rows: int = 3, **kwargs):
        attrs = {"rows": rows, **({"data-max-length": str(limit)} if limit else {})}
        super().__init__(widget=TextArea(attrs=attrs), **kwargs)
        self.limit = limit


class PhotosInput(forms.FileInput):
    """Several photos in one input (``name="photos" multiple``), drawn by
    web/parts/photo_pick.html: the picker states and checks the limits."""

    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """The photos sent (a list, maybe empty); the service decodes and checks them."""

    widget = PhotosInput

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if not files:
            super().clean(None, initial)  # "required" when it is
            return []
        single = super().clean
        return [single(f, initial) for f in files]


def _field(kind: str, *, label, required: bool, choices=(), max_length: int = 0,
           blank: str = "", placeholder: str = "") -> forms.Field:
    if kind == LINES:
        return LinesField(label=label, required=required,
                          widget=forms.Textarea(attrs={"rows": 4}))
    if kind == TEXTAREA:
        return LimitedTextField(label=label, required=required, limit=max_length)
    if kind == SELECT:
        options = list(choices)
        if blank:
            options = [("", blank), *options]
        return forms.ChoiceField(label=label, required=required, choices=options)
    if kind == FILE:
        return PhotosField(label=label, required=required)
    if kind == CHECKBOX:  # unticked is an answer too (False), never "missing"
        return forms.BooleanField(label=label, required=False)
    if kind == DATETIME:
        return forms.DateTimeField(label=label, required=required, widget=LocalDateTimeInput,
                                   input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
                                                  "%Y-%m-%dT%H:%M:%S"])
    if kind == NUMBER:
        return forms.FloatField(label=label, required=required, min_value=0.5, max_value=100,
                                initial=NUMBER_DEFAULT,
                                widget=forms.NumberInput(attrs={"step": "0.5"}))
    attrs = {"placeholder": placeholder} if placeholder else {}
    return forms.CharField(label=label, required=required, max_length=max_length or 200,
                           widget=forms.TextInput(attrs=attrs))


def pending_extension(case) -> dict | None:
    """The extension a case's handler asked for and nobody has decided yet,
    ready to show (amount, unit's name, who, why)."""
    request = case.pending_extension
    if not request:
        return None
    unit = request.get("unit", "")
    return {"amount": f"{float(request.get('amount', 0)):g}",
            "unit": str(UNIT_LABELS.get(unit, unit)),
            "by": request.get("by", ""), "reason": request.get("reason", "")}


def action_form_class(kind: CaseType, action: str, fields: Sequence[str], *,
                      widgets: Mapping[str, str], choices: Mapping[str, Sequence] | None = None,
                      labels: Mapping[Any, Any] | None = None, tone: str = "plain",
                      required: Sequence[str] = (), defaulted: Sequence[str] = (),
                      placeholders: Mapping[str, str] | None = None,
                      hints: Mapping[Any, Any] | None = None) -> type[ActionForm]:
    """A form class for ``action``: one field per name in ``fields``, drawn
    as ``widgets[name]`` (textarea, lines, select, checkbox, datetime,
    number, text, file), required when the workflow table requires it (or it
    is in ``required``), labelled ``labels[(action, name)]`` or
    ``labels[name]`` or the type's field label, a select offering
    ``choices[name]`` after an empty choice (none for the selects in
    ``defaulted``: their first choice is the service's default), explained
    by ``hints[(action, name)]`` or ``hints[name]``."""
    choices = choices or {}
    labels = labels or {}
    placeholders = placeholders or {}
    hints = hints or {}
    needs = set(kind.workflow.transition(action).requires) | set(required)
    attrs: dict[str, Any] = {}
    for name in fields:
        widget = widgets.get(name, TEXT)
        is_required = name in needs and widget != CHECKBOX
        label = labels.get((action, name)) or labels.get(name) or kind.field_label(name)
        blank = ""
        if widget == SELECT and name not in defaulted:
            blank = str(_("Choose…")) if is_required else "—"
        attrs[name] = _field(
            widget, label=label, required=is_required, choices=choices.get(name, ()),
            max_length=ACTION_TEXTS[name][0] if name in ACTION_TEXTS else 0, blank=blank,
            placeholder=placeholders.get(name, ""))
        attrs[name].help_text = hints.get((action, name)) or hints.get(name) or ""
    attrs.update(action=action, label=kind.action_label(action), tone=tone)
    return type(f"{action.title().replace('_', '')}Form", (ActionForm,), attrs)


# ---------------------------------------------------------------- taking an action

@dataclass(frozen=True)
class Outcome:
    """What an action's answer tells the user."""

    level: str  # success, warning (a conflict), error
    text: str
    status: int = 200
    detail: str = ""
    action: str = ""  # the form to open again, with the values sent


def _check(kind: CaseType, form: ActionForm, name: str) -> str:
    """What to ask of a refused form: to check the field ``name`` (in the
    type's word for it; the form's label may say more)."""
    label = kind.field_labels.get(name) or form.fields[name].label
    return _("Please check “%(field)s”.") % {"field": label}


def _first_error(form: ActionForm) -> str:
    return next((name for name in form.fields if name != "version" and form.has_error(name)),
                "")


def take(kind: CaseType, service: Callable[..., Any], *, actor, case, form: ActionForm,
         success: str, conflict: str = "", forbidden: str = "") -> Outcome:
    """Validate ``form`` and call the action's service with the version the
    user saw; a refusal of the service becomes the form's error on its field
    (or the outcome's), a conflict a kind explanation (``conflict``, in the
    type's words; ``forbidden`` says a refusal of the user's right)."""
    if not form.is_valid():
        name = _first_error(form)
        return Outcome("error", _check(kind, form, name) if name else _("Please check the form."),
                       400, action=form.action)
    try:
        service(actor=actor, **{kind.parent: case},
                expected_version=form.cleaned_data.get("version"), **form.arguments())
    except Conflict as exc:
        return Outcome("warning", conflict or _(
            "This case has just been handled by someone else, or its state has changed. The "
            "page now shows it as it is: please check before you act."), 409, exc.message)
    except DomainValidationError as exc:
        name = (exc.field or "").split("[")[0].split(".")[0]
        if name in form.fields and name != "version":
            form.add_error(name, exc.message)
            return Outcome("error", _check(kind, form, name), 400, action=form.action)
        return Outcome("error", _("The form could not be accepted."), 400, exc.message,
                       form.action)
    except PermissionDenied as exc:
        return Outcome("error", forbidden or _("You may not take this action on this case."),
                       403, exc.message)
    except DomainError as exc:
        return Outcome("error", _("The action could not be taken."), exc.status, exc.message,
                       form.action)
    return Outcome("success", success)

