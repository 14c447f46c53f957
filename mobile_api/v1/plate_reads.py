"""Plate-read search: where a plate was read, for the analysts and supervisors of the agency that read it.

POST, so plates stay out of URLs and logs; every search records its purpose and case number on the audit trail.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.sensors import selectors
from apps.sensors.models import PlateRead
from mobile_api.v1.base import AuthedRequest, V1View, client_ip, valid_body
from mobile_api.v1.sensor_alerts import SourceBriefSerializer


class PlateReadSearchSerializer(serializers.Serializer):
    plate = serializers.CharField(max_length=20)
    region = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    purpose = serializers.CharField(max_length=300, help_text="Why you search: recorded on the audit trail.")
    case_number = serializers.CharField(max_length=40, help_text="The case this search is for.")
    confusable = serializers.BooleanField(required=False, default=False,
                                          help_text="Also reads that differ only by misread characters.")


class PlateReadSerializer(serializers.ModelSerializer):
    source = SourceBriefSerializer()  # type: ignore[assignment]

    class Meta:
        model = PlateRead
        fields = ["id", "plate", "region", "confidence", "read_at", "latitude", "longitude", "camera_label",
                  "vehicle", "has_hit", "source"]


class PlateReadSearchView(V1View):
    """Analysts and supervisors: where a plate was read (POST: plates stay out of URLs and logs).

    A purpose and a case number are required; both go on the audit trail with the plate.
    """

    @extend_schema(request=PlateReadSearchSerializer, responses=PlateReadSerializer(many=True),
                   operation_id="plate_reads_search")
    def post(self, request: AuthedRequest) -> Response:
        search = valid_body(request, PlateReadSearchSerializer)
        reads = selectors.plate_read_search(user=request.user, ip=client_ip(request), **search)
        return Response(PlateReadSerializer(reads, many=True).data)
