"""The accounts services refuse in the language active when they are called
(the request's, through LocaleMiddleware); the command line, which has no
reader's language, speaks English."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

from shanzhi.accounts.services import token_create, token_renew
from shanzhi.core.errors import NotAuthenticated, ValidationError


@pytest.mark.parametrize(("language", "message"), [
    ("zh-hans", "没有名为 ghost 的在用用户。"), ("en", "No active user named ghost.")])
def test_a_token_for_an_unknown_user_is_refused_in_the_active_language(personas, language,
                                                                       message):
    with translation.override(language), pytest.raises(ValidationError) as refused:
        token_create(username="ghost")
    assert (refused.value.message, refused.value.code) == (message, "invalid")


@pytest.mark.parametrize(("language", "message"), [
    ("zh-hans", "该令牌已失效。"), ("en", "The token is no longer valid.")])
def test_a_renewal_of_an_unknown_token_is_refused_in_the_active_language(personas, language,
                                                                         message):
    with translation.override(language), pytest.raises(NotAuthenticated) as refused:
        token_renew(actor=personas.west_operator, key="tk_not-a-token")
    assert (refused.value.message, refused.value.code) == (message, "not_authenticated")


def test_the_command_line_speaks_english_whatever_the_sites_language(personas, settings):
    assert settings.LANGUAGE_CODE == "zh-hans"
    with pytest.raises(CommandError, match=r"^No active user named ghost\.$"):
        call_command("token", "create", "--username", "ghost")
