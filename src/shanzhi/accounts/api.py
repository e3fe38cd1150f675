"""The token API: a program swaps its bearer token for a new one before it expires."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router

from shanzhi.core.input import Out, errors

from .auth import BearerToken
from .services import token_renew

router = Router(tags=["tokens"])


class TokenOut(Out):
    token: str
    hint: str
    name: str
    expires_at: dt.datetime


@router.post("/renew", auth=BearerToken(), response={200: TokenOut, **errors()},
             summary="Swap my bearer token for a new one")
def renew(request: HttpRequest):
    """Send the token to renew as ``Authorization: Bearer <token>``; the answer
    holds a new key with a new expiry (``SHANZHI_TOKEN_DAYS`` days), and the
    old key is revoked at once. Keep the new key before anything else: a
    retry with the old key is refused (401 ``not_authenticated``), and a lost
    answer means asking an administrator for a new token."""
    key, token = token_renew(actor=request.auth, key=request.bearer_token, request=request)
    return {"token": key, "hint": token.hint, "name": token.name,
            "expires_at": token.expires_at}
