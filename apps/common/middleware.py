"""Static files for the browser pages without splitting Django's ASGI middleware chain."""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, async-capable.

    WhiteNoise 6 is sync-only. Under Daphne one sync-only middleware between
    async-capable ones makes Django hop to a thread, back to the event loop for
    the rest of the chain, and to the thread again for the view: on every API
    request, while the loop is busy with a thousand sockets. In async mode this
    looks the path up in WhiteNoise's table on the loop and leaves the thread
    only to serve a static file.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any, settings: Any = settings) -> None:
        super().__init__(get_response, settings=settings)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        response: HttpResponseBase = await self.get_response(request)
        return response
