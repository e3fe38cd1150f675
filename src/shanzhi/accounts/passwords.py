"""Our password rule beside Django's four (settings.AUTH_PASSWORD_VALIDATORS):
at least three of the four character classes (等保 2.0 level 3: 口令复杂度).

The validators apply wherever a person chooses a password: the admin's forms,
the change-password page and ``shanzhi user create``. The service
``accounts.services.user_create`` applies them only when told
(``validate=True``), so programs (the demo, the tests, Open311 service
accounts) keep their own passwords."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def character_classes(password: str) -> int:
    """How many of upper-case letters, lower-case letters, digits and other
    characters (anything else: punctuation, spaces, Chinese) it has."""
    kinds = {"upper" if "A" <= c <= "Z" else "lower" if "a" <= c <= "z"
             else "digit" if "0" <= c <= "9" else "other" for c in password}
    return len(kinds)


class CharacterClassValidator:
    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user=None) -> None:
        if character_classes(password) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return _("Your password must contain at least %(count)d of these four: upper-case "
                 "letters, lower-case letters, digits, other characters.") % {
                     "count": self.min_classes}
