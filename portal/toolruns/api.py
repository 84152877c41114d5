"""REST API for tool runs and the tools a project can run; the same services as the pages."""

from __future__ import annotations

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action, conditions_hold
from portal.access.scope import PROJECT_PK
from portal.core.api import StrictSerializer, takes_no_body
from portal.toolruns import selectors, services
from portal.toolruns.models import ToolRun, ToolRunOutput
from portal.toolruns.registry import UnknownTool, all_tools, get_tool


class ToolRunOutputSerializer(serializers.ModelSerializer):
    asset = serializers.IntegerField(source="version.asset_id", read_only=True)
    version = serializers.IntegerField(source="version_id", read_only=True)
    status = serializers.CharField(source="version.status", read_only=True)
    sha256 = serializers.CharField(source="version.sha256", read_only=True)
    number = serializers.IntegerField(
        source="version.number", read_only=True, help_text="Its version number: 2 when it stacks on an earlier run's v1."
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = ToolRunOutput
        fields = ["name", "kind", "media_type", "label", "asset", "version", "number", "status", "sha256", "links"]
        read_only_fields = fields

    def get_links(self, output) -> dict[str, str]:
        project = output.run.project
        kwargs = {"studio": project.studio.slug, "project": project.code}
        return {"asset": reverse("footage:asset", kwargs={**kwargs, "asset_id": output.version.asset_id})}


class ToolRunSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)
    outputs = ToolRunOutputSerializer(many=True, read_only=True)
    new_version_of = serializers.IntegerField(
        source="new_version_of_id",
        read_only=True,
        allow_null=True,
        help_text="The earlier run of this tool whose outputs this run's outputs are the next versions of (null: new assets).",
    )
    eta_seconds = serializers.SerializerMethodField()
    summary = serializers.ListField(
        child=serializers.CharField(), source="summary_lines", read_only=True, help_text="The report's summary in plain lines."
    )
    warnings = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Where the run fell short of the request (a shortfall, a fallback, a check not made), in the tool's words.",
    )
    summary_messages = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="The summary lines as {code, params, text}: a stable code and its params, to word in another language.",
    )
    warning_messages = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="The warnings as {code, params, text}: a stable code and its params, to word in another language.",
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = ToolRun
        fields = [
            "id",
            "project",
            "tool",
            "tool_version",
            "params",
            "inputs",
            "new_version_of",
            "status",
            "progress",
            "stage",
            "message",
            "attempts",
            "cancel_requested",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "eta_seconds",
            "metrics",
            "summary",
            "warnings",
            "summary_messages",
            "warning_messages",
            "report",
            "provenance",
            "outputs",
            "links",
        ]
        read_only_fields = fields

    def get_eta_seconds(self, run) -> float | None:
        eta = run.eta_seconds()
        return round(eta, 1) if eta is not None else None

    def get_links(self, run) -> dict[str, str]:
        project = run.project
        return {
            "page": reverse("toolruns:run", kwargs={"studio": project.studio.slug, "project": project.code, "run_id": run.pk})
        }


class ToolRunCreateSerializer(StrictSerializer):
    tool = serializers.CharField(max_length=64)
    params = serializers.DictField(required=False, default=dict, help_text="Parameter values; see the tool's params_schema.")
    inputs = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1)),
        required=False,
        help_text="Version ids per input slot: {slot: [version ids]}.",
    )
    input_version_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        help_text="Version ids, when each one fits exactly one input slot of the tool.",
    )

    characters = serializers.JSONField(
        required=False,
        help_text='Check the run against the project\'s character sheet: "all", or a list of character ids. '
        "Their reference stills join the inputs (kind reference, with the character's name, costume and scene); "
        "only for tools that take reference stills (continuity).",
    )
    new_version_of = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="What the outputs become. Left out: the next versions of the newest succeeded run of this tool on the "
        "same input assets, if there is one. A run id: the next versions of that run's outputs (an earlier, succeeded run "
        "of the same tool in this project), matched by output name; outputs with no match are new assets. null: new assets.",
    )

    def validate(self, attrs):
        if ("inputs" in attrs) == ("input_version_ids" in attrs):
            raise serializers.ValidationError({"inputs": "Give either inputs ({slot: [version ids]}) or input_version_ids."})
        return attrs


class RecapEditSerializer(StrictSerializer):
    moments = serializers.ListField(
        child=serializers.DictField(),
        help_text="Moments in playing order: {episode (1-based), start, end} in seconds from the episode's start.",
    )
    sentences = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text="Narration sentences: {text, cues: [subtitle line ids such as e1c4]}; each is verified again.",
    )


class RecapSignoffCreateSerializer(StrictSerializer):
    sentence = serializers.RegexField(r"^[A-Za-z0-9_-]{1,16}$", help_text="The sentence's id in the run report (such as s3).")
    text_sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", help_text="SHA-256 of the sentence text you read: a sign-off is for exactly those words."
    )


class RecapNarrationSerializer(serializers.Serializer):
    sentences = serializers.ListField(child=serializers.DictField())
    gate = serializers.DictField(help_text="unverified, signed, pending (sentence ids), approvable, message.")
    shortfall = serializers.DictField(allow_null=True, help_text="When the cut is shorter than the target: by how much and why.")
    duration = serializers.FloatField(allow_null=True)
    target = serializers.FloatField(allow_null=True)


def _recap_narration(run) -> dict:
    from portal.toolruns import recap

    data = recap.page_data(run)
    if data is None:
        raise recap.NotEditable("Only a finished recap run has a narration to read.")
    return {k: data[k] for k in ("sentences", "gate", "shortfall", "duration", "target")}


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=ToolRun.Status.values, description="only runs in this state"),
            OpenApiParameter("tool", str, description="only runs of this tool"),
        ]
    )
)
class ToolRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The project's tool runs, newest first (filter with ?status= and ?tool=); start one with POST."""

    serializer_class = ToolRunSerializer
    queryset = ToolRun.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = {"GET": Action.FOOTAGE_VIEW, "POST": Action.TOOLRUN_START}
    policy_actions_by_view_action = {
        "cancel": Action.TOOLRUN_CANCEL,
        "rerender": Action.TOOLRUN_START,
        "signoff": Action.PLATE_APPROVE,
        "narration": Action.FOOTAGE_VIEW,
    }
    # a run that already ended; a sentence changed or already signed; a run that is not a finished recap
    error_statuses = {"cancel": {409}, "signoff": {409}, "narration": {400}}

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        qs = selectors.runs_for_project(scope)
        wanted = self.request.query_params.get("status")
        if wanted:
            if wanted not in ToolRun.Status.values:
                raise serializers.ValidationError({"status": f"Choose one of {', '.join(ToolRun.Status.values)}."})
            qs = qs.filter(status=wanted)
        tool = self.request.query_params.get("tool")
        if tool:
            qs = qs.filter(tool=tool)
        return qs

    @extend_schema(request=ToolRunCreateSerializer, responses={201: ToolRunSerializer})
    def create(self, request, project_pk=None):
        serializer = ToolRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = services.toolrun_create(
            actor=request.user,
            project=self.scope,
            tool=data["tool"],
            params=data.get("params") or {},
            input_version_ids=data["inputs"] if "inputs" in data else data["input_version_ids"],
            characters=data.get("characters"),
            new_version_of=data["new_version_of"] if "new_version_of" in data else services.AUTO,
        )
        run = selectors.run_get(self.scope, run.pk)
        return Response(ToolRunSerializer(run, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RecapEditSerializer, responses={201: ToolRunSerializer})
    @action(detail=True, methods=["post"])
    def rerender(self, request, project_pk=None, pk=None):
        """Render a reviewer's edit of a finished recap (removed, added, reordered moments; edited
        sentences) as a new run, from the cached analysis."""
        from portal.toolruns import recap

        RecapEditSerializer(data=request.data).is_valid(raise_exception=True)
        run = recap.rerender(actor=request.user, run=self.get_object(), edit=request.data)
        run = selectors.run_get(self.scope, run.pk)
        return Response(ToolRunSerializer(run, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=RecapNarrationSerializer)
    @action(detail=True, methods=["get"])
    def narration(self, request, project_pk=None, pk=None):
        """A finished recap's narration: each sentence with its verdict, claims, cited lines and sign-off,
        whether the recap may be approved (and why not), and how far the cut falls short of its target."""
        return Response(_recap_narration(self.get_object()))

    @extend_schema(request=RecapSignoffCreateSerializer, responses={201: RecapNarrationSerializer})
    @action(detail=True, methods=["post"])
    def signoff(self, request, project_pk=None, pk=None):
        """A producer signs off one unverified narration sentence of a finished recap (audited, by name)."""
        from portal.toolruns import recap

        serializer = RecapSignoffCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = self.get_object()
        recap.signoff(actor=request.user, run=run, **serializer.validated_data)
        run = selectors.run_get(self.scope, run.pk)
        return Response(_recap_narration(run), status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ToolRunSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def cancel(self, request, project_pk=None, pk=None):
        run = services.toolrun_cancel(actor=request.user, run=self.get_object())
        run = selectors.run_get(self.scope, run.pk)
        return Response(ToolRunSerializer(run, context=self.get_serializer_context()).data)


class ToolSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    uses_external_ai = serializers.BooleanField()
    allowed = serializers.BooleanField(help_text="False when the studio does not allow external AI providers.")
    inputs = serializers.ListField(child=serializers.DictField())
    params_schema = serializers.JSONField(help_text="JSON Schema of the parameters.")


def tool_data(tool, project) -> dict:
    spec = tool.spec
    # The studio's consent is the policy's condition on external AI (whoever asks).
    return {**spec.to_dict(), "allowed": not spec.uses_external_ai or conditions_hold(Action.EXTERNAL_AI_USE, project)}


class ToolViewSet(ScopedViewSet):
    """The tools a run can be started with, each with its inputs and the JSON Schema of its parameters."""

    lookup_field = "name"
    lookup_value_regex = "[a-z][a-z0-9_]{0,63}"
    policy_actions = {"GET": Action.FOOTAGE_VIEW}
    pagination_class = None

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):  # tools are not rows; nothing reads this
        return ToolRun.objects.none()

    @extend_schema(responses=ToolSerializer(many=True))
    def list(self, request, project_pk=None):
        return Response([tool_data(t, self.scope) for t in all_tools()])

    @extend_schema(responses=ToolSerializer)
    def retrieve(self, request, project_pk=None, name=None):
        try:
            tool = get_tool(name)
        except UnknownTool:
            raise Http404("Not found") from None
        return Response(tool_data(tool, self.scope))
