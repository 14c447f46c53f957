"""The event stream's front door: a ticket for opening the websocket (docs/delivery.md)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from apps.delivery import services
from mobile_api.v1.base import AuthedRequest, V1View

STREAM_PATH = "/ws/v1/stream"


class StreamTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField(help_text="Single use. Open the websocket with `?ticket=<ticket>`.")
    expires_in = serializers.IntegerField(help_text="Seconds the ticket stays valid.")
    url = serializers.CharField(help_text="The websocket path on this host.")


class StreamTicketView(V1View):
    """A short-lived, single-use ticket to open the event stream websocket as this device session.

    The websocket cannot carry the Authorization header from a phone's websocket
    client reliably, and the long-lived bearer token must never be in a URL; this
    ticket is the accepted exception: it works once, for 30 seconds.
    """

    @extend_schema(request=None, responses={201: StreamTicketSerializer}, operation_id="stream_ticket_create")
    def post(self, request: AuthedRequest) -> Response:
        ticket = services.stream_ticket_issue(session=request.auth)
        body = {"ticket": ticket, "expires_in": settings.DELIVERY_TICKET_SECONDS, "url": STREAM_PATH}
        return Response(StreamTicketSerializer(body).data, status=status.HTTP_201_CREATED)
