"""What the city's category model learns from (docs/intake.md, "Category
suggestion"): the incidents the city closed, each labelled with the category
an operator finally confirmed — so the model learns the city's own decisions,
not the first guess of whoever typed the report.

Only words typed by people count: IoT and video alerts carry their device's
category and a generated text. Rejected and merged reports never closed, so
they are left out by the state. The nightly retraining runs from the worker's
planning hook (``cases.hooks.sweeping``) once the current version is a day old.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter

from django.utils import timezone
from django.utils.translation import gettext

from shanzhi.core.errors import ValidationError
from shanzhi.intake import textclass

from . import workflow as wf
from .models import Channel, Incident

log = logging.getLogger(__name__)

#: the newest closed incidents a model learns from: enough for the categories
#: a city uses; training time grows with the rows (about 3 min for 30,000 short
#: reports of 16 categories on one core, benchmarks/classify.py and docs/intake.md)
ROWS = 20_000
#: the worker retrains when the current version is older than this
RETRAIN_AFTER = dt.timedelta(days=1)
MACHINE_CHANNELS = (Channel.IOT, Channel.VIDEO)


def incident_rows(*, since: dt.datetime | None = None, reported_before: dt.datetime | None = None,
                  limit: int = ROWS) -> list[tuple[str, str]]:
    """(description, final category code) of the closed, people-typed incidents,
    newest closed first; ``since``: closed at or after it; ``reported_before``:
    reported before it (what came later is held out)."""
    closed = (Incident.objects.filter(state=wf.CLOSED, merged_into__isnull=True,
                                      category__isnull=False, device__isnull=True)
              .exclude(channel__in=MACHINE_CHANNELS))
    if since is not None:
        closed = closed.filter(closed_at__gte=since)
    if reported_before is not None:
        closed = closed.filter(reported_at__lt=reported_before)
    rows = closed.order_by("-closed_at", "-id").values_list("description", "category__code")
    return [(text, code) for text, code in rows[:limit] if text and text.strip()]


def learnable(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The rows of the categories with at least 2 of them (a category seen
    once cannot be cross-validated; it is suggested once it has more)."""
    counts = Counter(code for _text, code in rows)
    return [(text, code) for text, code in rows if counts[code] >= 2]


def train_from_incidents(*, model: str = textclass.DEFAULT_MODEL,
                         since: dt.datetime | None = None,
                         reported_before: dt.datetime | None = None, limit: int = ROWS,
                         folds: int = 5, now: dt.datetime | None = None) -> dict:
    """Train the model's next version on :func:`incident_rows`; the report."""
    rows = learnable(incident_rows(since=since, reported_before=reported_before, limit=limit))
    if len({code for _text, code in rows}) < 2:
        raise ValidationError(gettext("There are not yet closed incidents of two categories "
                                      "(each at least twice) to learn from."),
                              field="incidents", code="too_few_incidents")
    texts, labels = zip(*rows, strict=True)
    return textclass.train(list(texts), list(labels), model=model, folds=folds, now=now,
                           source=f"{len(rows)} closed incidents (people-typed), "
                                  "labelled with their final category")


def retrain_if_due(*, now: dt.datetime | None = None,
                   model: str = textclass.DEFAULT_MODEL) -> dict | None:
    """The nightly retraining: when the model was never trained or its current
    version is older than :data:`RETRAIN_AFTER` at ``now``, train it again
    (nothing when too few incidents are closed yet, or when another worker is
    training it). The report, or None."""
    now = now or timezone.now()
    age = textclass.age(model, now=now)
    if age is not None and age < RETRAIN_AFTER:
        return None
    with textclass.training(model) as alone:
        age = textclass.age(model, now=now)  # another worker may have just trained it
        if not alone or (age is not None and age < RETRAIN_AFTER):
            return None
        try:
            return train_from_incidents(model=model, now=now)
        except ValidationError as exc:
            if exc.code != "too_few_incidents":
                raise
            return None


def on_sweeping(sender, *, now: dt.datetime, **kwargs) -> dict[str, int] | None:
    """``cases.hooks.sweeping`` receiver (connected in ``IncidentsConfig.ready``)."""
    report = retrain_if_due(now=now)
    if report is None:
        return None
    log.info("category model %s v%s trained on %s rows: accuracy %.3f, macro-F1 %.3f",
             report["name"], report["version"], report["rows"], report["accuracy"],
             report["macro_f1"])
    return {"model_trained": report["version"]}
