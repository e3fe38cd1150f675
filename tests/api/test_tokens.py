"""API tokens expire (``SHANZHI_TOKEN_DAYS``), are renewed by the program
before that, and a revocation holds at once in every server process."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from shanzhi.accounts import auth
from shanzhi.accounts.models import ApiToken, User
from shanzhi.accounts.services import token_create, tokens_revoke
from shanzhi.core.memo import Memo, revision_stamp
from shanzhi.core.models import AccessLog, Revision

URL = "/api/v1/geo/territory"
RENEW = "/api/v1/tokens/renew"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(settings):
    settings.TOKEN_DAYS = 30
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_token_expires_after_token_days_with_the_code_token_expired(client, personas, clock):
    key = token_create(username="west_operator")
    assert ApiToken.objects.get().expires_at == NOW + dt.timedelta(days=30)
    clock.shift(dt.timedelta(days=30) - dt.timedelta(seconds=1))
    assert client.get(URL, headers=bearer(key)).status_code == 200
    clock.shift(dt.timedelta(seconds=1))
    response = client.get(URL, headers=bearer(key))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_renewal_gives_a_new_key_and_a_new_expiry_and_revokes_the_old_key_at_once(
        client, personas, clock):
    old = token_create(username="west_operator")
    clock.shift(dt.timedelta(days=20))
    response = client.post(RENEW, headers=bearer(old))
    assert response.status_code == 200
    body = response.json()
    new = body["token"]
    assert new != old and new.startswith("sz_")
    assert dt.datetime.fromisoformat(body["expires_at"]) == NOW + dt.timedelta(days=50)
    assert client.get(URL, headers=bearer(old)).status_code == 401
    assert client.get(URL, headers=bearer(new)).status_code == 200
    assert ApiToken.objects.filter(revoked_at__isnull=True).get().key_hash == ApiToken.hash(new)
    log = AccessLog.objects.get(action="token_renewed")
    assert log.user == personas.west_operator and log.address == "127.0.0.1"


def test_a_retried_renewal_with_the_old_key_is_refused(client, personas, clock):
    old = token_create(username="west_operator")
    assert client.post(RENEW, headers=bearer(old)).status_code == 200
    retry = client.post(RENEW, headers=bearer(old))
    assert retry.status_code == 401
    assert retry.json()["error"]["code"] == "not_authenticated"
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


def test_an_expired_token_cannot_be_renewed(client, personas, clock):
    key = token_create(username="west_operator")
    clock.shift(dt.timedelta(days=31))
    response = client.post(RENEW, headers=bearer(key))
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"


def test_renewal_takes_a_bearer_token_not_the_session(client, personas, clock):
    client.force_login(personas.west_operator)
    assert client.post(RENEW).status_code == 401


def test_a_revocation_in_one_process_holds_at_once_in_another(client, personas):
    """Two memos of the tokens, as two processes would have, each with its own
    look at the revisions: a revocation through either is seen by the other
    on its next request, with no ttl to wait for."""
    key = token_create(username="viewer")
    other = Memo(dict, stamp=revision_stamp(auth.REVISION), ttl=auth.TTL,
                 revision=())  # another process: never reset from here
    other.get()[ApiToken.hash(key)] = "known"
    assert client.get(URL, headers=bearer(key)).status_code == 200
    before = Revision.objects.get(name=auth.REVISION).number if Revision.objects.filter(
        name=auth.REVISION).exists() else 0
    tokens_revoke(ApiToken.objects.all())
    assert Revision.objects.get(name=auth.REVISION).number == before + 1
    assert ApiToken.hash(key) not in other.get()  # rebuilt at its next look
    assert client.get(URL, headers=bearer(key)).status_code == 401


def test_the_admin_and_the_token_list_show_the_expiry(client, personas, clock):
    token_create(username="viewer")
    root = User.objects.create_superuser("root", password="x")
    client.force_login(root)
    page = client.get("/admin/accounts/apitoken/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "expires at" in page.lower()
