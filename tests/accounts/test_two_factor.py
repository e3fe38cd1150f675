"""The second factor (TOTP, RFC 6238): required for city admins, who enrol
right after their password and reach nothing else before; a code step for
every enrolled user, throttled like passwords; no code taken twice; the
account page to enrol and turn it off; an admin's reset. Bearer tokens are
not affected."""

from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
import time_machine
from django.test import Client

from shanzhi.accounts import twofactor
from shanzhi.accounts.models import TwoFactor, User
from shanzhi.core.models import AccessLog
from tests.conftest import PASSWORD

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
PENDING = "login_pending"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def code_for(secret: str, at: dt.datetime | None = None) -> str:
    moment = at or dt.datetime.now(dt.UTC)
    return pyotp.TOTP(secret).generate_otp(int(moment.timestamp()) // 30)


def enrolled(user: User) -> str:
    secret = pyotp.random_base32()
    TwoFactor.objects.create(user=user, secret=secret)
    return secret


def password_step(client: Client, user: User, next_url: str = "/"):
    return client.post(f"/login/?next={next_url}",
                       {"username": user.username, "password": PASSWORD},
                       HTTP_ACCEPT_LANGUAGE="zh-hans")


def code_step(client: Client, code: str):
    return client.post("/login/code/", {"code": code}, HTTP_ACCEPT_LANGUAGE="zh-hans")


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_a_city_admin_enrols_right_after_the_password_and_reaches_nothing_else_before(
        client, personas, clock):
    response = password_step(client, personas.admin, next_url="/map/")
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert not logged_in(client)
    assert client.get("/")["Location"].startswith("/login/")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    page = client.get("/login/code/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<svg" in page and "启用两步验证" in page
    secret = client.session[PENDING]["secret"]
    assert " ".join(re.findall(".{1,4}", secret)) in page  # the key to type, in groups of four
    response = code_step(client, code_for(secret))
    assert response.status_code == 302 and response["Location"] == "/map/"
    assert logged_in(client)
    assert TwoFactor.objects.get(user=personas.admin).secret == secret
    assert list(AccessLog.objects.filter(user=personas.admin).order_by("id")
                .values_list("action", flat=True)) == ["2fa_enrolled", "login"]


def test_the_enrolment_page_has_no_inline_script_or_style(client, personas, clock):
    password_step(client, personas.admin)
    page = client.get("/login/code/").content.decode()
    assert "<script>" not in page and " style=" not in page and " onclick=" not in page


def test_an_enrolled_user_gives_the_password_then_a_code(client, personas, clock):
    secret = enrolled(personas.west_operator)
    response = password_step(client, personas.west_operator)
    assert response["Location"] == "/login/code/"
    assert set(client.session.keys()) == {PENDING}  # half-authenticated: a marker only
    assert "请输入" in client.get("/login/code/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert code_step(client, "000000").status_code == 400
    assert not logged_in(client)
    assert code_step(client, code_for(secret)).status_code == 302
    assert logged_in(client)


def test_a_code_of_the_step_before_or_after_is_taken_but_not_older(client, personas, clock):
    secret = enrolled(personas.west_operator)
    password_step(client, personas.west_operator)
    assert code_step(client, code_for(secret, NOW - dt.timedelta(seconds=90))).status_code == 400
    assert code_step(client, code_for(secret, NOW - dt.timedelta(seconds=30))).status_code == 302


def test_a_code_cannot_be_used_twice(client, personas, clock):
    secret = enrolled(personas.west_operator)
    code = code_for(secret)
    password_step(client, personas.west_operator)
    assert code_step(client, code).status_code == 302
    other = Client()
    password_step(other, personas.west_operator)
    body = code_step(other, code).content.decode()
    assert "已使用" in body and not logged_in(other)
    clock.shift(dt.timedelta(seconds=30))
    assert code_step(other, code_for(secret)).status_code == 302


def test_wrong_codes_count_like_wrong_passwords_and_lock_the_account(client, personas, clock,
                                                                    settings):
    settings.LOGIN_ACCOUNT_FAILURES = 5
    secret = enrolled(personas.west_operator)
    password_step(client, personas.west_operator)
    for _ in range(4):
        code_step(client, "123456")
    assert "账号已临时锁定" in code_step(client, "654321").content.decode()
    assert "账号已临时锁定" in code_step(client, code_for(secret)).content.decode()
    assert not logged_in(client)


def test_the_password_step_waits_five_minutes_for_the_code(client, personas, clock):
    secret = enrolled(personas.west_operator)
    password_step(client, personas.west_operator)
    clock.shift(dt.timedelta(minutes=5, seconds=1))
    response = code_step(client, code_for(secret))
    assert response["Location"] == "/login/" and not logged_in(client)


def test_a_user_enrols_on_the_account_page_and_turns_it_off_with_password_and_code(
        client, personas, clock):
    client.force_login(personas.west_operator)
    page = client.get("/account/security/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<svg" in page and "账号安全" in page
    assert "<script>" not in page and " style=" not in page  # CSP-strict
    secret = client.session["two_factor_candidate"]
    assert client.post("/account/security/", {"action": "enrol", "code": "000000"}
                       ).status_code == 400
    response = client.post("/account/security/", {"action": "enrol", "code": code_for(secret)})
    assert response.status_code == 302 and twofactor.is_enrolled(personas.west_operator)
    clock.shift(dt.timedelta(seconds=30))
    assert client.post("/account/security/", {"action": "disable", "password": "wrong",
                                              "code": code_for(secret)}).status_code == 400
    assert twofactor.is_enrolled(personas.west_operator)
    clock.shift(dt.timedelta(seconds=30))
    response = client.post("/account/security/", {"action": "disable", "password": PASSWORD,
                                                  "code": code_for(secret)})
    assert response.status_code == 302 and not twofactor.is_enrolled(personas.west_operator)
    assert list(AccessLog.objects.filter(action__startswith="2fa").values_list(
        "action", flat=True).order_by("id")) == ["2fa_enrolled", "2fa_disabled"]


def test_a_city_admin_cannot_turn_the_required_second_factor_off(client, personas, clock):
    secret = enrolled(personas.admin)
    client.force_login(personas.admin)
    response = client.post("/account/security/", {"action": "disable", "password": PASSWORD,
                                                  "code": code_for(secret)})
    assert response.status_code == 403 and twofactor.is_enrolled(personas.admin)


def test_the_account_page_changes_the_password_under_the_rules(client, personas, clock):
    client.force_login(personas.west_operator)
    weak = client.post("/account/security/", {
        "action": "password", "old_password": PASSWORD, "new_password1": "alllowercase",
        "new_password2": "alllowercase"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert weak.status_code == 400 and "至少包含" in weak.content.decode()
    strong = client.post("/account/security/", {
        "action": "password", "old_password": PASSWORD, "new_password1": "Grid-Desk-2026",
        "new_password2": "Grid-Desk-2026"})
    assert strong.status_code == 302
    assert User.objects.get(pk=personas.west_operator.pk).check_password("Grid-Desk-2026")
    assert logged_in(client)


def test_an_admin_resets_a_second_factor_and_the_city_admin_enrols_again(client, personas,
                                                                        clock):
    enrolled(personas.admin)
    root = User.objects.create_superuser("root", password=PASSWORD)
    staff = Client()
    staff.force_login(root)
    response = staff.post("/admin/accounts/user/", {
        "action": "reset_two_factor", "_selected_action": [personas.admin.pk]})
    assert response.status_code == 302 and not twofactor.is_enrolled(personas.admin)
    reset = AccessLog.objects.get(action="2fa_reset")
    assert (reset.user, reset.object_id) == (root, str(personas.admin.pk))
    password_step(client, personas.admin)
    assert client.session[PENDING]["step"] == "enrol"


def test_bearer_tokens_are_not_affected(client, personas, bearer):
    enrolled(personas.admin)
    response = client.get("/api/v1/geo/territory", headers=bearer(personas.admin))
    assert response.status_code == 200


def test_every_page_leads_to_the_account_page_from_the_users_name(client, personas):
    client.force_login(personas.west_operator)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert re.search(r'<a class="whoami-name" href="/account/security/"[^>]*>', page)
