"""The smart-intake tests read the messages in English (the msgids): the
zh-hans catalogue is checked whole by tests/web/test_translations.py."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def gaz(territory):
    """The hand-built gazetteer of tests/intake/test_places.py on the test territory."""
    from shanzhi.intake.gazetteer import import_features

    from .test_places import GAZETTEER

    import_features(GAZETTEER, source="test")
    return territory


@pytest.fixture
def flat(gaz, personas):
    from .test_places import make_flat

    return make_flat(personas)
