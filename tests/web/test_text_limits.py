"""The pages state the services' text limits and show their refusals with
everything typed kept: an action's note, reason or result, and the intake's
description (which has no maxlength: a browser would cut a paste in silence)."""

from __future__ import annotations

import html as html_lib
import re

from shanzhi.incidents import services
from shanzhi.incidents import workflow as wf
from shanzhi.incidents.models import Incident
from tests.incidents.conftest import incident_in

from .test_incident_page import page_of, post_form
from .test_intake_page import call, field_error, intake_page


def textarea(html: str, field_id: str) -> tuple[str, str]:
    """(the attributes, the text) of a textarea."""
    found = re.search(rf'<textarea id="{field_id}"([^>]*)>([^<]*)</textarea>', html)
    assert found, field_id
    return found.group(1), html_lib.unescape(found.group(2))


def test_the_action_forms_state_the_limits_of_the_service(client, cast):
    incident = incident_in(cast, wf.REPORTED)
    html = page_of(client, cast.town_operator, incident)
    attributes, _ = textarea(html, "accept-note")
    assert f'data-max-length="{services.MAX_NOTE}"' in attributes
    assert "maxlength" not in attributes
    assert '<p class="hint" id="accept-note-limit">最多 2000 个字。</p>' in html
    attributes, _ = textarea(html, "reject-reason")
    assert f'data-max-length="{services.MAX_REASON}"' in attributes


def test_a_twenty_thousand_character_note_is_refused_on_the_page_and_kept(client, cast):
    incident = incident_in(cast, wf.REPORTED)
    html = page_of(client, cast.town_operator, incident)
    note = "巡查情况说明" * 3334  # 20,004 characters
    response = post_form(client, html, "accept", note=note)
    assert response.status_code == 400
    answer = response.content.decode()
    assert "请检查“备注”。" in answer
    assert "“备注”最多 2000 个字，现有 20004 个字，超出 18004 个字。" in answer
    assert textarea(answer, "accept-note")[1] == note
    incident.refresh_from_db()
    assert incident.state == wf.REPORTED


def test_the_intake_description_states_the_limit_and_has_no_maxlength(client, cast):
    html = intake_page(client, cast.town_operator)
    attributes, _ = textarea(html, "i-description")
    assert f'data-max-length="{services.MAX_DESCRIPTION}"' in attributes
    assert "maxlength" not in attributes
    assert f"</span> / {services.MAX_DESCRIPTION}<" in html
    assert 'data-over="{n} characters too many"' not in html  # in Chinese
    assert 'data-over="超出 {n} 个字"' in html


def test_an_intake_description_over_the_limit_is_refused_and_kept_whole(client, cast):
    before = Incident.objects.count()
    description = "述" * 4500
    response = call(client, cast.town_operator, description=description)
    assert response.status_code == 400
    html = response.content.decode()
    assert field_error(html) == ["“事件描述”最多 4000 个字，现有 4500 个字，超出 500 个字。"]
    assert textarea(html, "i-description")[1] == description
    assert Incident.objects.count() == before
