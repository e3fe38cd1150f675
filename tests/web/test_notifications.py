"""The notifications page: all of the user's own notifications, newest first,
50 a page, the unread ones marked; following one marks it read, one or all
can be marked read (POST), someone else's is a 404; the menu's badge counts
the unread ones."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from shanzhi.cases.models import Notification
from shanzhi.incidents import workflow as wf
from tests.incidents.conftest import incident_in

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}


def notify(user, text: str, *, incident=None, minutes_ago: int = 0, read: bool = False):
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    case = {"case_type": "incident", "case_id": incident.pk, "number": incident.number} \
        if incident else {}
    return Notification.objects.create(user=user, **case, kind="test", message=text,
                                       created_at=at, read_at=at if read else None)


def listed(html: str) -> list[str]:
    """The texts the page lists, in order."""
    return re.findall(r'class="note-text" href="[^"]+">([^<]+)</a>', html)


def unread_items(html: str) -> list[str]:
    return re.findall(r'<li class="unread" data-note="(\d+)">', html)


def badge(html: str) -> int | None:
    found = re.search(r'data-menu="notifications"[^>]*>[^<]*<span class="menu-badge" '
                      r'data-unread="(\d+)"', html)
    return int(found.group(1)) if found else None


@pytest.fixture
def inbox(cast):
    incident = incident_in(cast, wf.REGISTERED)
    notes = [notify(cast.west_operator, "最旧的通知", incident=incident, minutes_ago=30, read=True),
             notify(cast.west_operator, "较新的通知", incident=incident, minutes_ago=20),
             notify(cast.west_operator, "最新的通知", incident=incident, minutes_ago=10)]
    other = notify(cast.east_operator, "别人的通知", incident=incident)
    return incident, notes, other


def page(client, user, query: str = "") -> str:
    client.force_login(user)
    response = client.get(f"/notifications/{query}", **ZH)
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_lists_my_notifications_newest_first_and_no_one_else_s(client, cast, inbox):
    html = page(client, cast.west_operator)
    assert listed(html) == ["最新的通知", "较新的通知", "最旧的通知"]
    assert "别人的通知" not in html
    assert "2 条未读" in html


def test_the_unread_ones_are_marked_and_offer_mark_as_read(client, cast, inbox):
    _incident, (old, newer, newest), _other = inbox
    html = page(client, cast.west_operator)
    assert unread_items(html) == [str(newest.pk), str(newer.pk)]
    assert f'action="/notifications/{newer.pk}/read/"' in html
    assert f'action="/notifications/{old.pk}/read/"' not in html
    assert "全部标为已读" in html and "已读" in html


def test_someone_out_of_territory_sees_only_their_own(client, cast, inbox):
    assert listed(page(client, cast.east_operator)) == ["别人的通知"]


def test_the_page_shows_50_at_a_time(client, cast):
    for i in range(51):
        notify(cast.west_operator, f"通知{i:02d}", minutes_ago=100 - i)
    first = page(client, cast.west_operator)
    assert len(listed(first)) == 50 and listed(first)[0] == "通知50"
    assert 'href="?page=2"' in first and "第 1 / 2 页" in first
    assert listed(page(client, cast.west_operator, "?page=2")) == ["通知00"]


def test_following_a_notification_marks_it_read_and_opens_its_incident(client, cast, inbox):
    incident, (_old, newer, _newest), _other = inbox
    client.force_login(cast.west_operator)
    response = client.get(f"/notifications/{newer.pk}/")
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.number}/"
    newer.refresh_from_db()
    assert newer.read_at is not None


def test_marking_one_read_marks_only_that_one(client, cast, inbox):
    _incident, (_old, newer, newest), _other = inbox
    client.force_login(cast.west_operator)
    response = client.post(f"/notifications/{newer.pk}/read/", {"page": "1"})
    assert response.status_code == 302 and response["Location"] == "/notifications/?page=1"
    newer.refresh_from_db()
    newest.refresh_from_db()
    assert newer.read_at is not None and newest.read_at is None


def test_marking_all_read_marks_only_mine(client, cast, inbox):
    _incident, _notes, other = inbox
    client.force_login(cast.west_operator)
    response = client.post("/notifications/read/", follow=True, **ZH)
    assert "已将 2 条通知标为已读。" in response.content.decode()
    assert not Notification.objects.filter(user=cast.west_operator, read_at__isnull=True).exists()
    other.refresh_from_db()
    assert other.read_at is None


def test_someone_else_s_notification_is_not_found(client, cast, inbox):
    _incident, _notes, other = inbox
    client.force_login(cast.west_operator)
    assert client.post(f"/notifications/{other.pk}/read/").status_code == 404
    assert client.get(f"/notifications/{other.pk}/").status_code == 404
    assert client.post("/notifications/999999/read/").status_code == 404
    other.refresh_from_db()
    assert other.read_at is None


def test_marking_read_takes_a_post_only(client, cast, inbox):
    _incident, (_old, newer, _newest), _other = inbox
    client.force_login(cast.west_operator)
    assert client.get(f"/notifications/{newer.pk}/read/").status_code == 405
    assert client.get("/notifications/read/").status_code == 405


def test_the_menu_shows_the_unread_count_as_a_badge(client, cast, inbox):
    _incident, (_old, newer, _newest), _other = inbox
    client.force_login(cast.west_operator)
    assert badge(client.get("/", **ZH).content.decode()) == 2
    client.post(f"/notifications/{newer.pk}/read/")
    assert badge(client.get("/incidents/", **ZH).content.decode()) == 1
    client.post("/notifications/read/")
    assert badge(client.get("/", **ZH).content.decode()) is None


def test_the_home_page_links_all_notifications(client, cast, inbox):
    client.force_login(cast.west_operator)
    html = client.get("/", **ZH).content.decode()
    assert 'href="/notifications/"' in html and "全部通知" in html


def test_an_anonymous_visitor_is_sent_to_log_in(client, db):
    response = client.get("/notifications/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
