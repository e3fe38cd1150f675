"""The smart-intake tests read the messages in English (the msgids): the
zh-hans catalogue is checked whole by tests/web/test_translations.py."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield
