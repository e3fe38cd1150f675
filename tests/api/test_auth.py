"""The API takes the page's session or a bearer token; anything else is 401 in
the one error format."""

from django.utils import timezone

from shanzhi.accounts import auth
from shanzhi.accounts.models import ApiToken
from shanzhi.accounts.services import token_create, tokens_revoke
from shanzhi.core.models import Revision

URL = "/api/v1/geo/territory"


def test_without_credentials_the_api_answers_401_in_the_error_format(client, territory):
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_bearer_token_authenticates(client, personas):
    key = token_create(username="west_operator")
    response = client.get(URL, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["roots"]] == ["320505"]


def test_a_wrong_or_revoked_token_is_refused(client, personas):
    key = token_create(username="west_operator")
    assert client.get(URL, headers={"Authorization": "Bearer sz_wrong"}).status_code == 401
    assert client.get(URL, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert tokens_revoke(ApiToken.objects.all()) == 1
    assert client.get(URL, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(client, personas):
    key = token_create(username="west_operator")
    assert client.get(URL, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    personas.west_operator.is_active = False
    personas.west_operator.save()
    assert client.get(URL, headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_the_session_of_a_logged_in_user_authenticates(client, personas):
    client.force_login(personas.east_operator)
    response = client.get(URL)
    assert response.status_code == 200
    assert [r["code"] for r in response.json()["roots"]] == ["320506"]


def test_using_a_token_records_when(client, personas):
    key = token_create(username="viewer")
    client.get(URL, headers={"Authorization": f"Bearer {key}"})
    assert ApiToken.objects.get().last_used_at is not None


def test_a_known_token_costs_one_read_of_the_revisions_and_a_revocation_elsewhere_holds_at_once(
        client, personas, django_assert_num_queries):
    key = token_create(username="west_operator")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(URL, headers=headers).status_code == 200
    with django_assert_num_queries(1):  # the revisions: no read of the token
        assert auth.user_for_token(key) == personas.west_operator
    # another process revokes it (a bare UPDATE and its revision, no signal here)
    ApiToken.objects.update(revoked_at=timezone.now())
    Revision.objects.update_or_create(name=auth.REVISION, defaults={"number": 99})
    assert auth.user_for_token(key) is None  # at once: no ttl to wait for
    assert client.get(URL, headers=headers).status_code == 401


def test_a_deleted_token_is_forgotten_at_once(client, personas):
    key = token_create(username="viewer")
    headers = {"Authorization": f"Bearer {key}"}
    assert client.get(URL, headers=headers).status_code == 200
    ApiToken.objects.get().delete()
    assert client.get(URL, headers=headers).status_code == 401
