"""巡查日志, the patrol log page: the day's patrols of the territory, a grid
worker only their own, the outsider nothing; one patrol with its track."""

from __future__ import annotations

import datetime as dt

from shanzhi.patrols import services

from .conftest import TUESDAY, WEST_001, WEST_002, new_id

MINUTE = dt.timedelta(minutes=1)


def walk(actor, place, minutes_before: int):
    started = TUESDAY - minutes_before * MINUTE
    patrol, _ = services.patrol_start(actor=actor, id=new_id(), started_at=started, **place)
    services.patrol_points(actor=actor, patrol_id=patrol.pk, points=[
        {"at": started + i * MINUTE, "lng": place["lng"] + i * 1e-4, "lat": place["lat"],
         "accuracy": 5} for i in range(1, 6)])
    services.patrol_checkin(actor=actor, patrol_id=patrol.pk, id=new_id(),
                            at=started + 3 * MINUTE, note="垃圾桶满溢", **place)
    return services.patrol_stop(actor=actor, patrol_id=patrol.pk, ended_at=started + 8 * MINUTE)


def page(client, user, url="/patrols/?day=2026-03-10"):
    client.force_login(user)
    return client.get(url)


def test_the_community_sees_the_days_patrols(client, personas, part_timer, community_operator,
                                            frozen):
    mine, theirs = walk(personas.worker, WEST_001, 60), walk(part_timer, WEST_002, 40)
    response = page(client, community_operator)
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/patrols/{mine.pk}/" in html and f"/patrols/{theirs.pk}/" in html
    assert 'data-menu="patrols"' in html


def test_a_worker_sees_only_their_own(client, personas, part_timer, frozen):
    mine, theirs = walk(personas.worker, WEST_001, 60), walk(part_timer, WEST_002, 40)
    html = page(client, personas.worker).content.decode()
    assert f"/patrols/{mine.pk}/" in html and f"/patrols/{theirs.pk}/" not in html
    assert page(client, personas.worker, f"/patrols/{theirs.pk}/").status_code == 404


def test_the_outsider_sees_nothing(client, personas, frozen):
    mine = walk(personas.worker, WEST_001, 60)
    response = page(client, personas.east_operator)
    assert response.status_code == 200
    assert f"/patrols/{mine.pk}/" not in response.content.decode()
    assert page(client, personas.east_operator, f"/patrols/{mine.pk}/").status_code == 404


def test_a_handler_is_refused(client, personas, frozen):
    assert page(client, personas.handler).status_code == 403


def test_a_patrol_page_draws_its_track(client, personas, frozen):
    mine = walk(personas.worker, WEST_001, 60)
    response = page(client, personas.west_operator, f"/patrols/{mine.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<polyline class="track-line"' in html and "垃圾桶满溢" in html


def test_a_bad_day_shows_today(client, personas, frozen):
    assert page(client, personas.west_operator, "/patrols/?day=yesterday").status_code == 200
