"""The client's address, directly and behind trusted proxies."""

from django.test import RequestFactory

from shanzhi.core.net import client_ip


def _request(remote="10.0.0.9", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_proxies_a_forwarded_header_is_ignored(settings):
    settings.PROXY_COUNT = 0
    assert client_ip(_request(forwarded="1.2.3.4")) == "10.0.0.9"


def test_behind_one_proxy_the_address_it_saw_is_taken(settings):
    settings.PROXY_COUNT = 1
    assert client_ip(_request(forwarded="6.6.6.6, 203.0.113.7")) == "203.0.113.7"


def test_behind_two_proxies_a_forged_leftmost_entry_is_not_believed(settings):
    settings.PROXY_COUNT = 2
    forwarded = "6.6.6.6, 203.0.113.7, 192.168.1.2"
    assert client_ip(_request(forwarded=forwarded)) == "203.0.113.7"
