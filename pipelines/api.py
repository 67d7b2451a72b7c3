"""REST API: pipelines with their stages, read-only (deals: campaigns/api.py)."""

from rest_framework import serializers, viewsets

from pipelines.models import Pipeline, Stage


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "position", "kind"]
        read_only_fields = fields


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "stages"]
        read_only_fields = fields


class PipelineViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PipelineSerializer
    queryset = Pipeline.objects.prefetch_related("stages").order_by("name")
