"""Every entry of every role's menu opens (no 403, no 404): the menu offers a
role only the pages it may read (docs/desks.md, "The menu")."""

from __future__ import annotations

import re

import pytest

from shanzhi.accounts.models import User

#: Every persona of tests/conftest.py and tests/incidents/conftest.py, one of
#: each role, the out-of-territory operator and the operator without territory.
PERSONAS = ["admin", "west_operator", "east_operator", "town_operator", "handler",
            "cgj_handler", "worker", "viewer", "nobody"]


def links(html: str) -> list[str]:
    """The menu's links, then the home page's tiles and entrances."""
    menu = re.findall(r'<a href="([^"]+)" data-menu="[a-z_]+"', html)
    body = re.findall(r'<a class="(?:tile|entrance)[^"]*" href="([^"]+)"', html)
    return [url.replace("&amp;", "&") for url in dict.fromkeys(menu + body)]


@pytest.mark.parametrize("username", PERSONAS)
def test_every_menu_entry_of_every_role_opens(client, cast, username):
    client.force_login(User.objects.get(username=username))
    home = client.get("/")
    assert home.status_code == 200
    found = links(home.content.decode())
    assert "/notifications/" in found and "/map/" in found
    refused = {url: status for url in found
               if (status := client.get(url).status_code) != 200}
    assert refused == {}


def test_a_grid_worker_reads_the_incidents_of_their_grids_without_the_desk_s_tools(client,
                                                                                   cast):
    client.force_login(cast.worker)
    html = client.get("/").content.decode()
    assert re.findall(r'data-menu="([a-z_]+)"', html) == [
        "home", "incidents", "command", "registry", "map", "notifications"]
    desk = client.get("/incidents/").content.decode()
    assert "<h1>事件</h1>" in desk or ">事件<" in desk
    assert 'href="/incidents/new/"' not in desk
