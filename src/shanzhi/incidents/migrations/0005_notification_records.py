"""Notifications become records: a kind and its params, rendered when read in
the reader's language. Rows written before keep their Chinese sentence only
when it cannot be read back into params (``message``, the fallback)."""

import re

from django.db import migrations, models

#: kind → the sentence the services wrote until now (zh-hans), read back.
OLD_SENTENCES = {
    "new": r"新事件 (?P<number>\S+)：(?P<description>.*)",
    "assign_down": r"(?P<number>\S+) 由(?P<holder>.*)下派",
    "dispatch": r"新派遣 (?P<number>\S+)：(?P<description>.*)",
    "escalate": r"(?P<number>\S+) 上报至(?P<centre>[^：]*)：(?P<reason>.*)",
    "return": r"(?P<number>\S+) 被退单：(?P<reason>.*)",
    "report_result": r"(?P<number>\S+) 已处置，待核查",
    "verify_pass": r"(?P<number>\S+) 核查通过，已结案",
    "verify_fail": r"(?P<number>\S+) 核查未通过，返工：(?P<reason>.*)",
    "request_extension": r"(?P<number>\S+) 申请延期 (?P<amount>\d+(?:\.\d+)?) "
                         r"(?P<unit>working_days|working_hours|natural_hours)",
    "approve_extension": r"(?P<number>\S+) 延期已批准",
    "refuse_extension": r"(?P<number>\S+) 延期未批准：(?P<reason>.*)",
    "supervise": r"(?P<number>\S+) 被督办：(?P<note>.*)",
    "reopen": r"(?P<number>\S+) 回访不满意，重新办理",
    "warn": r"(?P<number>\S+) 即将超期（(?P<stage>[^）]*)）",
    "overdue": r"(?P<number>\S+) 已超期（(?P<stage>[^）]*)）",
}
#: The stage names the sweep wrote → the stage codes.
STAGES = {"受理": "accept", "派遣": "dispatch", "签收": "sign", "处置": "handle",
          "核查": "verify"}
CHUNK = 1000


def parse(kind: str, message: str) -> dict | None:
    """The params of an old sentence, or None when it does not read as its kind's."""
    pattern = OLD_SENTENCES.get(kind)
    match = re.fullmatch(pattern, message, re.DOTALL) if pattern else None
    if match is None:
        return None
    params = match.groupdict()
    if "amount" in params:
        params["amount"] = float(params["amount"])
    if "stage" in params:
        if params["stage"] not in STAGES:
            return None
        params["stage"] = STAGES[params["stage"]]
    return params


def to_records(apps, schema_editor):
    Notification = apps.get_model("incidents", "Notification")
    last = 0
    while True:
        rows = list(Notification.objects.filter(pk__gt=last)
                    .exclude(message="").order_by("pk")[:CHUNK])
        if not rows:
            break
        changed = []
        for row in rows:
            params = parse(row.kind, row.message)
            if params is not None:
                row.params, row.message = params, ""
                changed.append(row)
        Notification.objects.bulk_update(changed, ["params", "message"])
        last = rows[-1].pk


def to_sentences(apps, schema_editor):
    """Back: every record written out as its Chinese sentence again."""
    from django.utils import translation

    from shanzhi.incidents.notices import render

    Notification = apps.get_model("incidents", "Notification")
    with translation.override("zh-hans"):
        for row in Notification.objects.filter(message="").iterator(chunk_size=CHUNK):
            row.message = render(row.kind, row.params, row.kind)[:300]
            row.save(update_fields=["message"])


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0004_category_publication'),
    ]

    operations = [
        migrations.AddField(
            model_name='notification',
            name='params',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name='notification',
            name='message',
            field=models.CharField(blank=True, default='', max_length=300),
        ),
        migrations.RunPython(to_records, to_sentences, elidable=True),
    ]
