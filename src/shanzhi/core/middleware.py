"""Middleware of our own."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to sit in an async chain. WhiteNoise's own middleware is
    synchronous only: under ASGI every request — the API's too — went from the
    event loop to a thread for it and back for the rest of the chain, which
    cost a third of a report's time (benchmarks/intake.py). Here a request
    that is not for a static file passes straight on; a static file is
    served from a thread as before."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        static_file = (self.find_file(request.path_info) if self.autorefresh
                       else self.files.get(request.path_info))
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
