"""API keys: created by the command or in the admin (shown once, stored
hashed), revocable, each rate-limited in a window every process shares."""

from __future__ import annotations

import datetime as dt
import io
import re
import zoneinfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import translation

from shanzhi.accounts.models import Role
from shanzhi.accounts.scope import Scope
from shanzhi.open311.models import ApiKey, RateWindow
from shanzhi.open311.services import key_authenticate, key_create, rate_count
from tests.open311.conftest import WEST_POINT


def run(*args) -> str:
    out = io.StringIO()
    call_command("open311", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_prints_a_key_that_is_stored_only_as_its_hash(territory):
    secret = run("key", "create", "--name", "市民随手拍")
    assert secret.startswith("o311_") and len(secret) > 40
    key = ApiKey.objects.get()
    assert key.key_hash == ApiKey.hash(secret) and secret not in (key.hint + key.key_hash)
    assert key.jurisdiction == territory.city and key.name == "市民随手拍"
    assert key_authenticate(secret) == key


def test_a_key_reports_as_a_service_account_operating_the_jurisdiction(territory):
    key, _secret = key_create(name="app")
    user = key.user
    assert (user.role, user.region_id, user.has_usable_password()) == (
        Role.OPERATOR, territory.city.pk, False)
    assert Scope.for_user(user).paths == (territory.city.path,)


def test_the_command_lists_and_revokes(territory):
    secret = run("key", "create", "--name", "app", "--rate-limit", "5", "--tokens")
    key = ApiKey.objects.get()
    assert (key.rate_limit, key.answers_with_token) == (5, True)
    assert key.hint in run("key", "list") and "live" in run("key", "list")
    run("key", "revoke", secret[:10])
    assert "revoked" in run("key", "list")
    with translation.override("en"), pytest.raises(Exception, match="Invalid api_key"):
        key_authenticate(secret)


def test_a_key_needs_a_known_city(territory):
    with pytest.raises(CommandError, match="no current region"):
        run("key", "create", "--name", "x", "--jurisdiction", "999999")
    with pytest.raises(CommandError, match="not a current city"):
        run("key", "create", "--name", "x", "--jurisdiction", territory.west.code)
    assert not ApiKey.objects.exists()


def test_the_admin_creates_a_key_shows_it_once_and_revokes_it(admin_client, territory):
    response = admin_client.post("/admin/open311/apikey/add/", {
        "name": "网格通", "jurisdiction": territory.city.pk, "rate_limit": 30}, follow=True)
    assert response.status_code == 200
    secret = re.search(r"o311_[A-Za-z0-9_\-]+", response.content.decode()).group(0)
    key = ApiKey.objects.get()
    assert key_authenticate(secret) == key and key.rate_limit == 30
    listing = admin_client.get("/admin/open311/apikey/").content.decode()
    assert "网格通" in listing and secret not in listing
    admin_client.post("/admin/open311/apikey/", {"action": "revoke",
                                                 "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None


#: Five seconds into a minute: the window test has the rest of it, at any hour it runs.
MINUTE = dt.datetime(2026, 11, 25, 10, 0, 5, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def test_a_key_past_its_rate_limit_gets_429_in_the_error_format(o311, city):
    ApiKey.objects.filter(pk=city.key.pk).update(rate_limit=3)
    with time_machine.travel(MINUTE, tick=True):
        assert o311.post(service_code="SJ0102", **WEST_POINT).status_code == 200
        assert o311.get("requests", api_key=city.secret).status_code == 200
        city.key.refresh_from_db()
        rate_count(key=city.key)  # another server process counts in the same window
        response = o311.post("xml", service_code="SJ0102", **WEST_POINT)
        assert response.status_code == 429
        assert b"<errors><error><code>429</code>" in response.content
        assert 1 <= int(response.headers["Retry-After"]) <= 61
        assert o311.get("requests", api_key=city.secret).status_code == 429
        # reads without a key count against their address, not against the key
        assert o311.get("requests").status_code == 200
        assert RateWindow.objects.get(key=city.key).count == 5
    with time_machine.travel(MINUTE + dt.timedelta(minutes=1), tick=True):
        assert o311.get("requests", api_key=city.secret).status_code == 200  # a new window


def test_a_service_account_is_no_operator_to_notify(city):
    """It is an operator of the city only to carry the key's scope: it can
    never log in, so it gets no notifications."""
    from shanzhi.accounts.services import user_create
    from shanzhi.accounts.staff import centre_operators

    city_region = city.key.jurisdiction
    human = user_create(username="city_desk", password="x-Strong-pass-2026", role=Role.OPERATOR,
                        region_code=city_region.code)
    assert centre_operators([city_region.pk]) == [human.pk]
