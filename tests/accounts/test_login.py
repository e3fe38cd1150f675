"""Log-in security (等保 2.0 level 3): argon2 hashes, throttling and lockout per
account and per client address — checked before any password is hashed, kept
in the database, lifted by time or by an administrator — and every step in
the access log. ``/admin/login/`` goes through the same page."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
import time_machine
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import make_password
from django.test import Client

from shanzhi import settings as production
from shanzhi.accounts.models import LoginThrottle, User
from shanzhi.core.models import AccessLog
from tests.conftest import PASSWORD

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LOCKED = "账号已临时锁定，请 15 分钟后再试或联系管理员"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_ACCOUNT_FAILURES = 5
    settings.LOGIN_ADDRESS_FAILURES = 20
    settings.LOGIN_WINDOW_MINUTES = 15
    settings.LOGIN_LOCK_MINUTES = 15


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def log_in(client: Client, username: str, password: str, address: str = "127.0.0.1",
           path: str = "/login/"):
    return client.post(path, {"username": username, "password": password},
                       REMOTE_ADDR=address, HTTP_ACCEPT_LANGUAGE="zh-hans")


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, personas, clock):
    for _ in range(5):
        assert log_in(client, "west_operator", "wrong").status_code == 200
    response = log_in(client, "west_operator", PASSWORD)
    assert LOCKED in response.content.decode()
    assert not logged_in(client)
    clock.shift(dt.timedelta(minutes=14))
    assert "请 1 分钟后再试" in log_in(client, "west_operator", PASSWORD).content.decode()
    clock.shift(dt.timedelta(minutes=1, seconds=1))  # the lock lifts itself
    assert log_in(client, "west_operator", PASSWORD).status_code == 302
    assert logged_in(client)


def test_the_fifth_failure_already_says_the_account_is_locked(client, personas, clock):
    for _ in range(4):
        assert "账号已临时锁定" not in log_in(client, "west_operator", "wrong").content.decode()
    assert LOCKED in log_in(client, "west_operator", "wrong").content.decode()


def test_failures_outside_the_window_do_not_add_up(client, personas, clock):
    for _ in range(4):
        log_in(client, "west_operator", "wrong")
    clock.shift(dt.timedelta(minutes=16))
    log_in(client, "west_operator", "wrong")
    assert log_in(client, "west_operator", PASSWORD).status_code == 302


def test_a_log_in_forgets_the_accounts_failures(client, personas, clock):
    for _ in range(4):
        log_in(client, "west_operator", "wrong")
    assert log_in(client, "west_operator", PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        log_in(client, "west_operator", "wrong")
    assert log_in(client, "west_operator", PASSWORD).status_code == 302


def test_a_locked_account_costs_no_password_hashing(client, personas, clock):
    for _ in range(5):
        log_in(client, "west_operator", "wrong")
    with mock.patch.object(ModelBackend, "authenticate", autospec=True) as hashing:
        for password in ("wrong", PASSWORD):
            assert LOCKED in log_in(client, "west_operator", password).content.decode()
    assert hashing.call_count == 0


def test_a_name_that_belongs_to_nobody_locks_like_a_real_one(client, personas, clock):
    for _ in range(5):
        log_in(client, "ghost", "wrong")
    assert LOCKED in log_in(client, "ghost", "wrong").content.decode()
    assert AccessLog.objects.filter(action="locked", username="ghost", user=None).count() == 1


def test_twenty_failures_from_one_address_refuse_it_and_not_the_others(client, personas, clock):
    for i in range(20):  # five names, four tries each: no account is locked
        log_in(client, f"guess{i % 5}", "wrong", address="203.0.113.9")
    assert not LoginThrottle.objects.filter(kind="account", locked_until__isnull=False,
                                            key="west_operator").exists()
    with mock.patch.object(ModelBackend, "authenticate", autospec=True) as hashing:
        body = log_in(client, "west_operator", PASSWORD, address="203.0.113.9").content.decode()
    assert "此地址登录失败次数过多，请 15 分钟后再试" in body and hashing.call_count == 0
    assert not logged_in(client)
    assert log_in(Client(), "west_operator", PASSWORD, address="198.51.100.7").status_code == 302


def test_the_lock_is_kept_in_the_database_for_every_server_process(client, personas, clock):
    for _ in range(5):
        log_in(client, "west_operator", "wrong")
    row = LoginThrottle.objects.get(kind="account", key="west_operator")
    assert row.locked_until == NOW + dt.timedelta(minutes=15)
    other_process = Client()  # nothing shared but the database
    assert LOCKED in log_in(other_process, "west_operator", PASSWORD).content.decode()


def test_an_admin_lifts_a_lock_at_once_from_the_user_admin(client, personas, clock):
    for _ in range(5):
        log_in(client, "west_operator", "wrong")
    root = User.objects.create_superuser("root", password=PASSWORD)
    staff = Client()
    staff.force_login(root)
    response = staff.post("/admin/accounts/user/", {
        "action": "unlock", "_selected_action": [personas.west_operator.pk]})
    assert response.status_code == 302
    assert log_in(client, "west_operator", PASSWORD).status_code == 302
    unlock = AccessLog.objects.get(action="unlock")
    assert (unlock.user, unlock.object_id) == (root, str(personas.west_operator.pk))


def test_every_log_in_failure_lock_refusal_and_log_out_is_in_the_access_log(client, personas,
                                                                           clock):
    log_in(client, "west_operator", PASSWORD, address="10.1.2.3")
    client.post("/logout/", REMOTE_ADDR="10.1.2.3")
    for _ in range(6):
        log_in(client, "west_operator", "wrong", address="10.1.2.3")
    rows = list(AccessLog.objects.order_by("id").values_list("action", "username", "address"))
    assert rows == [("login", "west_operator", "10.1.2.3"), ("logout", "west_operator", "10.1.2.3"),
                    *[("login_failed", "west_operator", "10.1.2.3")] * 5,
                    ("locked", "west_operator", "10.1.2.3"),
                    ("login_refused", "west_operator", "10.1.2.3")]
    assert AccessLog.objects.filter(action="login", user=personas.west_operator).exists()


def test_the_admin_logs_in_through_our_page(client, personas, clock):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/admin/"
    with mock.patch.object(ModelBackend, "authenticate", autospec=True) as hashing:
        response = client.post("/admin/login/", {"username": "root", "password": "x"})
    assert response.status_code == 302 and hashing.call_count == 0  # no form to guess at
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_a_logged_in_user_who_is_not_staff_gets_403_at_the_admin_not_a_loop(client, personas):
    client.force_login(personas.west_operator)
    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_the_production_setting_puts_argon2_first_and_a_log_in_upgrades_a_pbkdf2_hash(
        client, personas, settings):
    assert production.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert any(h.endswith(".PBKDF2PasswordHasher") for h in production.PASSWORD_HASHERS)
    settings.PASSWORD_HASHERS = production.PASSWORD_HASHERS
    User.objects.filter(pk=personas.west_operator.pk).update(
        password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    assert log_in(client, "west_operator", PASSWORD).status_code == 302
    assert User.objects.get(pk=personas.west_operator.pk).password.startswith("argon2")


def test_the_production_validators_are_djangos_four_and_ours():
    names = [v["NAME"].rsplit(".", 1)[1] for v in production.AUTH_PASSWORD_VALIDATORS]
    assert names == ["UserAttributeSimilarityValidator", "MinimumLengthValidator",
                     "CommonPasswordValidator", "NumericPasswordValidator",
                     "CharacterClassValidator"]
    assert production.AUTH_PASSWORD_VALIDATORS[1]["OPTIONS"]["min_length"] >= 8


def test_the_counts_of_names_and_addresses_long_quiet_are_forgotten(client, personas, clock):
    log_in(client, "ghost", "wrong", address="203.0.113.9")
    clock.shift(dt.timedelta(minutes=31))
    log_in(client, "west_operator", "wrong", address="198.51.100.7")
    assert set(LoginThrottle.objects.values_list("key", flat=True)) == {
        "west_operator", "198.51.100.7"}
