"""Open311 fixtures: the square city of ``tests/conftest.py`` with its
personas, the seeded taxonomy plus one service with every datatype, an API
key, and a few incidents in known states reached through the real services:
``app_report`` files what Open311 publishes (channel open311, a public
category), ``patrol`` what it never does (a grid worker's report).
The conformance tests drive a live server (pytest-django ``live_server``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests as http

from shanzhi.accounts.models import Department, Role, User
from shanzhi.accounts.services import user_create
from shanzhi.core.memo import reset_all
from shanzhi.incidents import services
from shanzhi.incidents.categories import category_rules_create
from shanzhi.incidents.models import Category, CategoryRules, Incident
from shanzhi.incidents.taxonomy import seed
from shanzhi.open311.models import ApiKey
from shanzhi.open311.services import key_create
from tests.conftest import PASSWORD

WEST_POINT = {"lat": "31.015", "long": "120.005"}   # west grid 001
EAST_POINT = {"lat": "31.005", "long": "120.035"}   # east grid 004
#: A service whose attributes have every GeoReport datatype.
SURVEY = "SJ9901"
SURVEY_FIELDS = [
    {"code": "size", "name": "面积（平方米）", "datatype": "number", "required": True,
     "values": [], "description": "估计的面积"},
    {"code": "kinds", "name": "垃圾种类", "datatype": "multivaluelist", "required": False,
     "values": [{"key": "food", "name": "厨余"}, {"key": "paper", "name": "纸张"},
                {"key": "glass", "name": "玻璃"}], "description": ""},
    {"code": "seen_at", "name": "发现时间", "datatype": "datetime", "required": False,
     "values": [], "description": ""},
    {"code": "where", "name": "位置描述", "datatype": "string", "required": False,
     "values": [], "description": ""},
    {"code": "notes", "name": "补充说明", "datatype": "text", "required": False,
     "values": [], "description": ""},
    {"code": "smell", "name": "气味", "datatype": "singlevaluelist", "required": False,
     "values": [{"key": "none", "name": "无"}, {"key": "strong", "name": "强烈"}],
     "description": ""},
]


@pytest.fixture
def taxonomy(db):
    """The seeded taxonomy (a transactional test flushes the migration's
    rows) and the survey service."""
    seed(Category, CategoryRules)
    parent = Category.objects.get(code="SJ01")
    survey = Category.objects.create(code=SURVEY, name="垃圾调查", kind=parent.kind,
                                     parent=parent, publication=Category.Publication.PUBLIC)
    category_rules_create(actor=None, category=survey, limits={}, departments={},
                          urgencies=[{"code": "normal", "name": "一般", "factor": 1}],
                          extra_fields=SURVEY_FIELDS)
    reset_all()
    return survey


@dataclass
class City:
    key: ApiKey
    secret: str
    town_operator: User
    handler: User
    worker: User
    east_operator: User


@pytest.fixture
def city(personas, territory, taxonomy) -> City:
    Department.objects.filter(code="320505-ZJJ").update(kind="ZJJ")
    town_operator = user_create(username="town_operator", password=PASSWORD,
                                role=Role.OPERATOR, region_code=territory.west_town.code)
    key, secret = key_create(name="随手拍 app")
    return City(key=key, secret=secret, town_operator=town_operator, handler=personas.handler,
                worker=personas.worker, east_operator=personas.east_operator)


def app_report(city: City, **fields) -> Incident:
    """A citizen app's 暴露垃圾 report at the west point, filed with the key
    (channel open311, a public category): one Open311 publishes."""
    fields = {"channel": "open311", "description": "路边有暴露垃圾", "category": "SJ0102",
              "lng": 120.005, "lat": 31.015, **fields}
    incident, _created = services.incident_report(actor=city.key.user, **fields)
    return incident


def patrol(city: City, **fields) -> Incident:
    """A grid worker's 暴露垃圾 report at the west point, through the service
    (channel grid_patrol: never published through Open311)."""
    fields = {"channel": "grid_patrol", "description": "路边有暴露垃圾", "category": "SJ0102",
              "lng": 120.005, "lat": 31.015, **fields}
    incident, _created = services.incident_report(actor=city.worker, **fields)
    return incident


def closed(city: City, incident: Incident, result: str = "已清理完毕") -> Incident:
    s = services
    incident = s.incident_accept(actor=city.town_operator, incident=incident)
    incident = s.incident_dispatch(actor=city.town_operator, incident=incident,
                                   department="320505-ZJJ", note="内部：请尽快")
    incident = s.incident_sign(actor=city.handler, incident=incident)
    incident = s.incident_report_result(actor=city.handler, incident=incident, result=result)
    return s.incident_verify_pass(actor=city.worker, incident=incident)


class Client:
    """Speaks GeoReport v2 to the live server, asking for English error
    descriptions (``language``; None sends no Accept-Language: the server's
    language, Chinese)."""

    def __init__(self, base: str, secret: str, language: str | None = "en"):
        self.base = base.rstrip("/") + "/open311/v2"
        self.secret = secret
        self.language = language

    @property
    def headers(self) -> dict[str, str]:
        return {"Accept-Language": self.language} if self.language else {}

    def get(self, path: str, fmt: str = "json", **params) -> http.Response:
        return http.get(f"{self.base}/{path}.{fmt}", params=params, headers=self.headers,
                        timeout=30)

    def post(self, fmt: str = "json", data=None, key: bool = True, **fields) -> http.Response:
        body = list(data or []) + list(fields.items())
        if key:
            body.append(("api_key", self.secret))
        return http.post(f"{self.base}/requests.{fmt}", data=body, headers=self.headers,
                         timeout=30)


@pytest.fixture
def o311(live_server, city) -> Client:
    return Client(live_server.url, city.secret)
