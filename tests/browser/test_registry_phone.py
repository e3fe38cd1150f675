"""A follow-up visit on the grid worker's phone (390×844, touch, a real
position): the task is in "my day" with its light, the worker opens it and
records the visit with a note, a photo and the position through the real
outbox (IndexedDB, Idempotency-Key, ``POST /api/v1/registry/visits/<n>/record``);
the database then holds the visit done once, with its photo and position,
and the next visit planned. Screenshots: registry/phone-day.png and
registry/phone-visit.png."""

from __future__ import annotations

import pytest

from shanzhi.registry.models import Visit
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_mobile_manager import FLUSH, fits, phone, shoot, sign_in_to_the_app
from tests.browser.test_mobile_report import a_photo, wait_until
from tests.browser.test_registry import town  # noqa: F401 (a fixture)
from tests.registry import conftest as registry_fixtures

pytestmark = pytest.mark.browser
places = registry_fixtures.places


def test_the_grid_worker_records_a_follow_up_visit_on_the_phone(browser, live_server, town,  # noqa: F811
                                                                 personas, tmp_path):
    visit = Visit.objects.filter(member__person=town[0], state="due").get()
    context, page = phone(browser)
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"latitude": 31.0151, "longitude": 120.0052, "accuracy": 12})
    sign_in_to_the_app(page, live_server.url, personas.worker.username)

    task = page.locator(f"a[href='/m/visits/{visit.number}/']")
    assert task.count() == 1 and town[0].name in task.inner_text()
    fits(page)
    folder = SCREENSHOTS / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    shoot(page, folder / "phone-day.png")

    task.click()
    page.wait_for_url(f"{live_server.url}/m/visits/{visit.number}/")
    page.wait_for_function("document.querySelector('#visit-form [name=lat]').value !== ''")
    page.check("#visit-form input[name=finding][value=concern]")
    page.fill("#v-note", "本人在家，情绪低落，已约定下周再访")
    page.set_input_files("#v-photos", str(a_photo(tmp_path)))
    fits(page)
    shoot(page, folder / "phone-visit.png")
    page.click("#visit-form button[type=submit]")

    done = wait_until(lambda: Visit.objects.filter(pk=visit.pk, state="done").first())
    if done is None:  # the outbox's first send may wait for its next round
        page.evaluate(FLUSH)
        done = wait_until(lambda: Visit.objects.filter(pk=visit.pk, state="done").first())
    assert done is not None
    assert done.finding == "concern" and "情绪低落" in done.note
    assert (round(done.lat, 4), round(done.lng, 4), done.accuracy) == (31.0151, 120.0052, 12)
    assert done.attachments.count() == 1
    assert Visit.objects.filter(member__person=town[0], state="due").count() == 1  # the next
    assert page.errors == []
    context.close()
