"""The whole loop through the API: report → accept → dispatch → sign → handle →
verify → close → call-back."""

from shanzhi.accounts.models import User
from shanzhi.incidents.models import Incident, TimelineEntry


def test_a_patrol_report_goes_the_whole_loop(api, desk, territory):
    worker = desk.worker
    operator = User.objects.get(username="town_operator")
    handler = User.objects.get(username="cgj_handler")

    incident = api.report(worker)
    assert incident["state"] == "reported"
    assert incident["grid"]["code"] == territory.west_grids[0].code
    assert incident["holder"]["code"] == territory.west_town.code
    assert incident["stage"] == "accept" and incident["due_at"]

    detail = api.get(operator, f"/api/v1/incidents/{incident['number']}")
    assert "accept" in detail["actions"] and "dispatch" not in detail["actions"]

    registered = api.act(operator, incident, "accept")
    assert registered["state"] == "registered"
    assert registered["suggested_department"]["department"] == "320505001-ZHZF"

    dispatched = api.act(operator, incident, "dispatch", department="320505-CGJ")
    assert dispatched["state"] == "dispatched" and dispatched["stage"] == "sign"
    assert api.act(handler, incident, "sign")["state"] == "in_progress"
    handled = api.act(handler, incident, "report_result", result="已清理")
    assert handled["state"] == "handled"
    closed = api.act(worker, incident, "verify_pass")
    assert closed["state"] == "closed" and closed["closed_at"]
    called = api.act(operator, incident, "callback", satisfaction="satisfied")
    assert called["satisfaction"] == 3

    actions = list(TimelineEntry.objects.filter(incident__number=incident["number"])
                   .values_list("action", flat=True))
    assert actions == ["report", "accept", "dispatch", "sign", "report_result", "verify_pass",
                       "callback"]
    timeline = api.get(operator, f"/api/v1/incidents/{incident['number']}/timeline")
    assert [e["to_state"] for e in timeline] == ["reported", "registered", "dispatched",
                                                 "in_progress", "handled", "closed", "closed"]
    assert Incident.objects.get(number=incident["number"]).stages.count() == 5


def test_a_stale_version_gets_409_with_the_current_state(api, desk):
    operator = User.objects.get(username="town_operator")
    incident = api.report(desk.worker)
    api.act(operator, incident, "accept", version=incident["version"])
    body = api.act(desk.west_operator, incident, "reject", expect=409, reason="重复",
                   version=incident["version"])
    assert body["error"]["details"]["state"] == "registered"


def test_a_photo_is_served_only_inside_the_incidents_scope(client, bearer, desk):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shanzhi.incidents.models import Attachment
    from tests.incidents.test_uploads import jpeg as a_jpeg

    jpeg = a_jpeg()
    response = client.post("/api/v1/incidents", {
        "channel": "grid_patrol", "description": "井盖破损", "category": "BJ0101",
        "lng": "120.005", "lat": "31.015", "extra": '{"component_state": "damaged"}',
        "photos": [SimpleUploadedFile("a.jpg", jpeg, content_type="image/jpeg")]},
        headers=bearer(desk.worker))
    assert response.status_code == 201, response.content
    url = response.json()["attachments"][0]["url"]
    photo = client.get(url, headers=bearer(desk.west_operator))
    assert photo.status_code == 200
    kept = Attachment.objects.get()
    assert b"".join(photo.streaming_content) == kept.file.read()
    assert client.get(url, headers=bearer(desk.east_operator)).status_code == 404


def test_the_timeline_and_the_access_log_cannot_be_rewritten(api, desk):
    import pytest

    from shanzhi.core.models import AccessLog

    incident = api.report(desk.worker)
    entry = TimelineEntry.objects.get(incident__number=incident["number"])
    entry.data = {"forged": True}
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()
    api.get(desk.west_operator, f"/api/v1/incidents/{incident['number']}")  # no contact: no log
    log = AccessLog.objects.create(user=desk.west_operator, object_type="incidents.incident",
                                   object_id="1", fields="contact_phone")
    with pytest.raises(RuntimeError):
        log.delete()
    assert TimelineEntry.objects.filter(incident__number=incident["number"]).count() == 1
