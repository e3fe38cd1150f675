"""The one authentication backend: Django's ModelBackend behind the log-in
throttle (``throttle.py``). A locked account or address is refused before the
password is hashed, so it costs no hashing time; every failure is counted and
logged. Whoever asked (the log-in form) finds the lock on ``request.login_lock``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import throttle


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        lock = throttle.login_lock(request=request, username=username)
        if lock is None:
            user = super().authenticate(request, username=username, password=password, **kwargs)
            if user is not None:
                return user
            lock = throttle.login_failed(request=request, username=username,
                                         reason="wrong password")
            if lock is None:
                return None
        else:
            throttle.login_refused(request=request, username=username, lock=lock)
        if request is not None:
            request.login_lock = lock
        raise PermissionDenied  # authenticate() tries no other backend and answers None
