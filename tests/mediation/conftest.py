"""Mediation fixtures: the incident cast (tests/incidents/conftest.py) plus a
mediator, the mediation centres of the west town, the west district and the
east district, the town centre's roster, and helpers that drive a dispute
through the real services."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.services import user_create
from shanzhi.mediation import services
from shanzhi.mediation.models import Centre, MediationCase, RosterEntry
from tests.conftest import PASSWORD
from tests.incidents.conftest import (  # noqa: F401  (fixtures)
    WEST_POINT,
    ZJJ,
    Cast,
    _fresh_calendar,
    at,
    cast,
    desk,
)

#: Monday 2 March 2026, 10:00 in Suzhou: a working day with working days after it.
T0 = at(2026, 3, 2, 10)
#: A valid GB 11643 identity number (check character X) and a valid GB 32100 credit code.
ID_NUMBER = "11010519491231002X"
CREDIT_CODE = "91350100M000100Y43"


@dataclass
class Mediation:
    cast: Cast
    mediator: User           # 人民调解员 of the west district
    town: Centre             # the west town's centre: where west disputes are taken in
    district: Centre         # the west district's centre: the one above the town's
    east: Centre             # the east district's centre: out of territory


@pytest.fixture
def med(cast, territory) -> Mediation:  # noqa: F811  (the imported fixture)
    mediator = user_create(username="mediator", password=PASSWORD, role=Role.MEDIATOR,
                           region_code=territory.west.code)
    town = Centre.objects.create(code="C-320505001", name="西街道矛调中心",
                                 region=territory.west_town)
    district = Centre.objects.create(code="C-320505", name="虎丘区矛调中心", region=territory.west)
    east = Centre.objects.create(code="C-320506", name="吴中区矛调中心", region=territory.east)
    RosterEntry.objects.create(centre=town, department=Department.objects.get(code=ZJJ),
                               mode=RosterEntry.Mode.PERMANENT)
    return Mediation(cast, mediator, town, district, east)


def party(**fields) -> dict:
    return {"role": "applicant", "name": "张三", "id_number": ID_NUMBER,
            "phone": "13812345678", **fields}


def register(med: Mediation, *, actor: User | None = None, **fields) -> MediationCase:
    """A neighbourhood dispute at WEST_POINT taken in at the town centre by its operator."""
    fields = {"source": "walk_in", "centre": med.town.code, "dispute_type": "neighbour",
              "title": "楼上漏水", "description": "楼上漏水，协商不成。",
              "parties": [party(), party(role="respondent", name="李四", id_number="",
                                         phone="13900001111")],
              **WEST_POINT, "now": T0, **fields}
    case, _created = services.case_register(actor=actor or med.cast.town_operator, **fields)
    return case


def mediating(med: Mediation, **fields) -> MediationCase:
    case = register(med, **fields)
    return services.case_assign(actor=med.cast.town_operator, case=case,
                                assignee=med.mediator.username, now=T0)


def agreed(med: Mediation, **fields) -> MediationCase:
    case = mediating(med, **fields)
    return services.case_agree(actor=med.mediator, case=case,
                               terms=["李四于3月10日前修复管道", "李四赔偿张三2000元"],
                               performance="当场支付", now=T0 + dt.timedelta(hours=2))


def jpeg_upload() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (120, 90, 60)).save(out, format="JPEG")
    return SimpleUploadedFile("visit.jpg", out.getvalue(), content_type="image/jpeg")
