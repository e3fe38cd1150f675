"""The inbox and the idempotency keys move to the case engine (``cases``):
one table each for every case type. The rows are copied, then the incident
tables dropped."""

from django.db import migrations

BATCH = 5000


def copy_rows(apps, schema_editor):
    old_note = apps.get_model("incidents", "Notification")
    new_note = apps.get_model("cases", "Notification")
    old_key = apps.get_model("incidents", "IdempotencyKey")
    new_key = apps.get_model("cases", "IdempotencyKey")
    batch = []
    for n in old_note.objects.select_related("incident").order_by("pk").iterator(BATCH):
        batch.append(new_note(
            pk=n.pk, user_id=n.user_id, case_type="incident" if n.incident_id else "",
            case_id=n.incident_id, number=n.incident.number if n.incident_id else "",
            kind=n.kind, params=n.params, message=n.message, created_at=n.created_at,
            read_at=n.read_at))
        if len(batch) >= BATCH:
            new_note.objects.bulk_create(batch)
            batch = []
    new_note.objects.bulk_create(batch)
    new_key.objects.bulk_create(
        [new_key(case_type="incident", owner=k.owner, key=k.key, request_hash=k.request_hash,
                 case_id=k.incident_id, created_at=k.created_at)
         for k in old_key.objects.order_by("pk").iterator(BATCH)], batch_size=BATCH)
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:  # after the copied ids
            cursor.execute("SELECT setval(pg_get_serial_sequence('cases_notification', 'id'), "
                           "COALESCE((SELECT MAX(id) FROM cases_notification), 0) + 1, false)")


class Migration(migrations.Migration):

    dependencies = [
        ("incidents", "0005_notification_records"),
        ("cases", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(copy_rows, migrations.RunPython.noop, elidable=True),
        migrations.DeleteModel(name="IdempotencyKey"),
        migrations.DeleteModel(name="Notification"),
    ]
