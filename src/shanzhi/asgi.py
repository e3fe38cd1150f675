"""The ASGI application (what ``shanzhi serve`` runs under uvicorn).

Django's own ASGI handler runs each synchronous middleware in async mode, and
Django's built-in middleware call their ``process_request`` and
``process_response`` through ``sync_to_async``: about twenty hops between the
event loop and the thread of synchronous code per request, which cost a
report more CPU than its SQL (benchmarks/intake.py). Here the whole chain —
middleware and view — is built synchronous, as under WSGI, and each request
crosses to that thread once. An async view (the live feed) still streams from
the event loop: the chain hands its response back to the handler, which sends
its async content as before.
"""

import os

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


django.setup(set_prefix=False)
application = OneHopASGIHandler()

# each server process loads the category model (scikit-learn, jieba's dictionary:
# seconds) in the background at start, not when its first report comes in
from shanzhi.intake import textclass  # noqa: E402

textclass.preload()
