"""A phone that lost the answer sends the same action again with the same
Idempotency-Key: it gets the incident as it is (200), not a conflict, and the
action happens once. The same key with other content is refused (422)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Attachment, TimelineEntry
from tests.incidents.conftest import incident_in
from tests.incidents.test_uploads import jpeg


def post(api, user, incident, action, data, key, **kwargs):
    return api.client.post(f"/api/v1/incidents/{incident.number}/{action}", data,
                           headers={**api.headers(user), "Idempotency-Key": key}, **kwargs)


def test_a_retried_action_with_its_key_is_taken_once(api, cast):
    incident = incident_in(cast, wf.HANDLED)
    data = {"version": incident.version}
    first = post(api, cast.worker, incident, "verify_pass", data, "k-1",
                 content_type="application/json")
    again = post(api, cast.worker, incident, "verify_pass", data, "k-1",
                 content_type="application/json")
    assert (first.status_code, again.status_code) == (200, 200), again.content
    assert again.json()["state"] == wf.CLOSED
    assert TimelineEntry.objects.filter(incident=incident, action="verify_pass").count() == 1


def test_without_a_key_the_same_retry_is_a_conflict(api, cast):
    incident = incident_in(cast, wf.HANDLED)
    data = {"version": incident.version}
    api.act(cast.worker, incident.number, "verify_pass", **data)
    api.act(cast.worker, incident.number, "verify_pass", expect=409, **data)


def test_the_same_key_with_other_content_is_refused(api, cast):
    incident = incident_in(cast, wf.HANDLED)
    post(api, cast.worker, incident, "verify_fail",
         {"version": incident.version, "reason": "仍有垃圾"}, "k-2",
         content_type="application/json")
    other = post(api, cast.worker, incident, "verify_fail",
                 {"version": incident.version, "reason": "另一个原因"}, "k-2",
                 content_type="application/json")
    assert other.status_code == 422, other.content
    assert other.json()["error"]["field"] == "Idempotency-Key"
    assert TimelineEntry.objects.filter(incident=incident, action="verify_fail").count() == 1


def test_a_retried_action_with_photos_stores_them_once(api, cast):
    incident = incident_in(cast, wf.HANDLED)

    def send():
        photo = SimpleUploadedFile("after.jpg", jpeg(), content_type="image/jpeg")
        return post(api, cast.worker, incident, "verify_fail",
                    {"version": incident.version, "reason": "仍有垃圾", "photos": [photo]},
                    "k-3")

    assert (send().status_code, send().status_code) == (200, 200)
    assert Attachment.objects.filter(incident=incident).count() == 1
