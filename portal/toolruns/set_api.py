"""REST API for a run's output set: read the set (GET), decide on it as a whole (POST); the same
service as the run page's "Approve all outputs" form (portal/toolruns/output_sets.py)."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK
from portal.core.api import StrictSerializer
from portal.review.models import Decision, DecisionSet
from portal.review.services import MAX_TEXT
from portal.toolruns import output_sets, selectors
from portal.toolruns.models import ToolRun

SET_STATES = ["empty", "pending", "approved", "partly_approved", "changes_requested", "rejected", "mixed"]
MEMBER_STATES = ["pending", "approved", "changes_requested", "rejected", "superseded"]


class NewerVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    number = serializers.IntegerField()


class SetMemberSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The output's name in the tool (comp, layer, matte...).")
    label = serializers.CharField()
    asset = serializers.IntegerField()
    version = serializers.IntegerField()
    number = serializers.IntegerField(help_text="The version number (v1, v2...).")
    sha256 = serializers.CharField()
    state = serializers.ChoiceField(
        choices=MEMBER_STATES,
        help_text="This version's approval, for its exact bytes; superseded: the output has a newer version "
        "(in `newer`), which awaits its own approval.",
    )
    released = serializers.BooleanField(help_text="Its original may be downloaded now.")
    download = serializers.CharField(allow_null=True, source="download_url", help_text="The download link once released.")
    review = serializers.CharField(source="review_url")
    newer = NewerVersionSerializer(allow_null=True)


class SetDecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None)
    members = serializers.ListField(
        child=serializers.DictField(), help_text="What was decided: each member's version, number, output name and SHA-256."
    )

    class Meta:
        model = DecisionSet
        fields = ["id", "verdict", "note", "decided_by", "created_at", "members"]
        read_only_fields = fields


class OutputSetSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    key = serializers.CharField()
    label = serializers.CharField()
    state = serializers.ChoiceField(
        choices=SET_STATES,
        help_text="approved: every member approved; partly_approved: some are (a member changed since, or was "
        "decided alone); pending: none decided; mixed: decided differently.",
    )
    decidable = serializers.BooleanField(help_text="The run succeeded and no member has a newer version.")
    members = SetMemberSerializer(many=True)
    decisions = SetDecisionSerializer(many=True, help_text="The set's last decisions, newest first.")


class SetDecisionCreateSerializer(StrictSerializer):
    verdict = serializers.ChoiceField(choices=Decision.Verdict.choices)
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT, help_text="Required to reject or request changes."
    )
    expected = serializers.DictField(
        child=serializers.RegexField(r"^[0-9a-f]{64}$"),
        required=False,
        help_text="{version id: SHA-256} of every member as you reviewed it: refused (409) if one changed since.",
    )

    def validate_expected(self, value):
        cleaned = {}
        for key, sha in value.items():
            if not str(key).isdigit():
                raise serializers.ValidationError(_("Keys are version ids."))
            cleaned[int(key)] = sha
        return cleaned


def set_data(run: ToolRun) -> dict:
    data = output_sets.output_set(run)
    return {
        "run": run.pk,
        **{k: data[k] for k in ("key", "label", "state", "decidable", "members")},
        "decisions": data["decisions"],
    }


class ToolRunSetViewSet(ScopedViewSet):
    """A run's outputs as one set for approval: each member (output, version, SHA-256, approval state,
    released, download link once released) and the set's state; POST decides on every member at once."""

    queryset = ToolRun.objects.none()
    serializer_class = OutputSetSerializer
    pagination_class = None
    policy_actions = {"GET": Action.FOOTAGE_VIEW, "POST": Action.PLATE_APPROVE}
    # a member changed since it was looked at (stale), or the run has not succeeded
    error_statuses = {"create": {409}}

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        return selectors.runs_for_project(scope)

    def _run(self) -> ToolRun:
        run = selectors.run_get(self.scope, self.kwargs["run_pk"])
        if run is None:
            raise Http404("Not found")
        return run

    @extend_schema(responses=OutputSetSerializer)
    def list(self, request, project_pk=None, run_pk=None):
        return Response(OutputSetSerializer(set_data(self._run())).data)

    @extend_schema(request=SetDecisionCreateSerializer, responses={201: OutputSetSerializer})
    def create(self, request, project_pk=None, run_pk=None):
        serializer = SetDecisionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = self._run()
        output_sets.run_set_decide(
            actor=request.user, run=run, verdict=data["verdict"], note=data.get("note", ""), expected=data.get("expected") or None
        )
        run = selectors.run_get(self.scope, run.pk)
        return Response(OutputSetSerializer(set_data(run)).data, status=status.HTTP_201_CREATED)
