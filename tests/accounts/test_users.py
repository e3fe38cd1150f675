"""Creating users, departments and tokens from the command line and through services."""

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import translation

from shanzhi.accounts.models import ApiToken, GridWorker, Role, User
from shanzhi.accounts.services import token_create, user_create
from shanzhi.core.errors import ValidationError
from tests.conftest import PASSWORD

#: A password a person may choose (the password rules: three character classes).
STRONG = "Grid-Desk-2026"


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


def test_user_create_makes_an_operator_of_a_region(territory):
    out = run("user", "create", "--username", "op", "--password", STRONG, "--role", "operator",
              "--region", "320505")
    assert "created operator op" in out
    user = User.objects.get(username="op")
    assert user.role == Role.OPERATOR and user.region == territory.west
    assert user.check_password(STRONG)


def test_user_create_makes_a_part_time_grid_worker_with_several_grids(territory):
    codes = [g.code for g in territory.west_grids[:2]]
    run("user", "create", "--username", "gw", "--password", STRONG, "--role", "grid_worker",
        "--grid", codes[0], "--grid", codes[1], "--kind", "part_time")
    worker = User.objects.get(username="gw").grid_worker
    assert worker.kind == GridWorker.Kind.PART_TIME
    assert sorted(worker.grids.values_list("code", flat=True)) == codes


@pytest.mark.parametrize(("args", "field"), [
    (["--role", "operator"], "region"),
    (["--role", "operator", "--region", "999999"], "region"),
    (["--role", "handler"], "department"),
    (["--role", "handler", "--department", "NOPE"], "department"),
    (["--role", "grid_worker"], "grid"),
    (["--role", "grid_worker", "--grid", "320505001001999"], "grid"),
    (["--role", "city_admin", "--region", "320505"], "region"),
])
def test_user_create_refuses_a_role_without_its_territory(territory, args, field):
    with pytest.raises(ValidationError) as exc:
        user_create(username="x", password=PASSWORD, role=args[1],
                    region_code=args[3] if "--region" in args else None,
                    department_code=args[3] if "--department" in args else None,
                    grid_codes=[args[3]] if "--grid" in args else [])
    assert exc.value.field == field
    assert not User.objects.filter(username="x").exists()


def test_user_create_on_the_command_line_exits_1_with_one_clear_line(territory):
    with pytest.raises(CommandError) as exc:
        run("user", "create", "--username", "x", "--password", STRONG, "--role", "operator")
    assert exc.value.returncode == 1
    assert "needs --region" in str(exc.value)


def test_a_short_password_is_refused_when_the_caller_asks_for_the_rules(territory):
    with pytest.raises(ValidationError) as exc:
        user_create(username="x", password="short", role="viewer", region_code="320500",
                    validate=True)
    assert exc.value.field == "password"


@pytest.mark.parametrize("password", [
    "correct horse battery staple",  # two classes: lower case and spaces
    "Sh0rt-1",                       # seven characters
    "12345678901",                   # all digits
    "Password1",                     # a common password
    "operator-2026",                 # too close to the username
])
def test_the_command_line_refuses_a_password_that_breaks_the_rules(territory, password):
    with pytest.raises(CommandError) as exc:
        run("user", "create", "--username", "operator", "--password", password,
            "--role", "viewer", "--region", "320500")
    assert exc.value.returncode == 1
    assert not User.objects.filter(username="operator").exists()


def test_the_rules_speak_chinese(territory):
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        user_create(username="x", password="alllowercase", role="viewer",
                    region_code="320500", validate=True)
    assert "至少包含" in exc.value.message


def test_programs_keep_their_own_passwords_without_the_rules(territory):
    user = user_create(username="x", password=PASSWORD, role="viewer", region_code="320500")
    assert user.check_password(PASSWORD)


def test_a_duplicate_username_is_refused(personas):
    with pytest.raises(ValidationError) as exc:
        user_create(username="admin", password=PASSWORD, role="viewer", region_code="320500")
    assert exc.value.field == "username"


def test_token_create_prints_a_key_whose_hash_alone_is_stored(personas):
    key = run("token", "create", "--username", "viewer").strip()
    assert key.startswith("sz_")
    token = ApiToken.objects.get(user=personas.viewer)
    assert token.key_hash == ApiToken.hash(key) and key not in token.key_hash


def test_token_create_tells_when_the_token_expires(personas, settings):
    settings.TOKEN_DAYS = 30
    err = io.StringIO()
    with time_machine.travel(dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC), tick=False):
        call_command("token", "create", "--username", "viewer", stdout=io.StringIO(),
                     stderr=err)
    token = ApiToken.objects.get(user=personas.viewer)
    assert token.expires_at == dt.datetime(2026, 12, 31, 10, 0, tzinfo=dt.UTC)
    assert "expires 2026-12-31 18:00" in err.getvalue()  # Asia/Shanghai


def test_token_create_for_an_unknown_user_fails(db):
    with pytest.raises(ValidationError):
        token_create(username="ghost")


def test_department_create_and_its_errors(territory):
    assert "created department" in run("department", "create", "--code", "D1", "--name", "城管局",
                                       "--region", "320500")
    with pytest.raises(CommandError):
        run("department", "create", "--code", "D1", "--name", "again", "--region", "320500")
