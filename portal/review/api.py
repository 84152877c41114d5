"""REST API for notes, drawings, finding decisions, approvals and notifications."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK
from portal.core import page_cache
from portal.core.api import StrictSerializer, takes_no_body
from portal.core.fastread import FastReadMixin
from portal.footage import selectors as footage_selectors
from portal.review import exports, selectors, services
from portal.review.models import Decision, Note, Notification


def _author(note) -> dict | None:
    if note.author is None:
        return None
    return {"id": note.author_id, "email": note.author.email, "name": note.author.full_name}


class _ReplyList(serializers.ListSerializer):
    def get_attribute(self, instance):
        # a note from notes_for_version(as_lists=True) carries its replies as a list; any other (one just
        # made, one read alone) asks its manager
        listed = getattr(instance, "reply_list", None)
        return listed if listed is not None else instance.replies.all()


class ReplySerializer(FastReadMixin, serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    def get_author(self, note) -> dict | None:
        return _author(note)

    class Meta:
        model = Note
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields
        list_serializer_class = _ReplyList


class NoteSerializer(FastReadMixin, serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    shapes = serializers.SerializerMethodField()
    replies = ReplySerializer(many=True, read_only=True)
    mentions = serializers.SerializerMethodField()
    timecode = serializers.SerializerMethodField()
    resolved_by = serializers.EmailField(source="resolved_by.email", read_only=True, default=None)

    class Meta:
        model = Note
        fields = [
            "id",
            "source",
            "author",
            "frame_start",
            "frame_end",
            "timecode",
            "text",
            "shapes",
            "mentions",
            "resolved",
            "resolved_by",
            "finding_type",
            "confidence",
            "finding_state",
            "finding_data",
            "tool_run",
            "replies",
            "created_at",
        ]
        read_only_fields = fields

    def get_author(self, note) -> dict | None:
        return _author(note)

    def get_shapes(self, note) -> list:
        drawing = getattr(note, "drawing", None)
        return drawing.shapes if drawing is not None else []

    def get_mentions(self, note) -> list[str]:
        listed = getattr(note, "mention_list", None)
        return [u.email for u in (listed if listed is not None else note.mentions.all())]

    def get_timecode(self, note) -> str:
        # the version's rate and start timecode are read once per version, not once per note
        counters = self.__dict__.setdefault("_timecode_counters", {})
        version = note.version
        counter = counters.get(version.pk)
        if counter is None:
            counter = counters[version.pk] = exports.timecode_counter(version)
        return counter(note.frame_start)


class NoteCreateSerializer(StrictSerializer):
    frame_start = serializers.IntegerField(required=False)
    frame_end = serializers.IntegerField(required=False, allow_null=True)
    text = serializers.CharField(max_length=services.MAX_TEXT, trim_whitespace=True)
    parent = serializers.IntegerField(required=False, allow_null=True)
    shapes = serializers.JSONField(required=False)

    def validate(self, attrs):
        if attrs.get("parent") is None and attrs.get("frame_start") is None:
            raise serializers.ValidationError({"frame_start": "Say which frame the note is about."})
        return attrs


class _VersionScoped(ScopedViewSet, abstract=True):
    lookup_value_regex = "[0-9]+"

    url_scope = PROJECT_PK

    @property
    def version(self):
        if not hasattr(self, "_version"):
            version = footage_selectors.version_get(self.scope, self.kwargs["version_pk"])
            if version is None:
                raise Http404("Not found")
            self._version = version
        return self._version


@extend_schema_view(
    list=extend_schema(parameters=[OpenApiParameter("source", str, enum=Note.Source.values, description="human or machine")])
)
class NoteViewSet(page_cache.SharedListMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, _VersionScoped):
    """Notes on one version: people's notes and machine findings (filter with ?source=human|machine).
    The list is the same for everyone allowed to see it (checked first): kept once for all of them."""

    page_cache_actions = ("list", "retrieve")  # kept per person until a table it read changes (portal/core/page_cache.py)

    serializer_class = NoteSerializer
    queryset = Note.objects.none()
    policy_actions = {"GET": Action.FOOTAGE_VIEW, "POST": Action.REVIEW_COMMENT}

    def scoped_queryset(self, scope):
        source = self.request.query_params.get("source")
        if source and source not in Note.Source.values:
            raise serializers.ValidationError({"source": "Choose human or machine."})
        qs = selectors.notes_for_version(self.version, source=source, as_lists=True)
        if self.action == "retrieve":
            return qs.model.objects.filter(version=self.version).select_related("author", "drawing")
        return qs

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if page is not None:
            # every note (and reply) is on this one version: its timecode needs no query of its own
            for note in page:
                note.version = self.version
                for reply in note.reply_list:
                    reply.version = self.version
        return page

    @extend_schema(request=NoteCreateSerializer, responses={201: NoteSerializer})
    def create(self, request, project_pk=None, version_pk=None):
        serializer = NoteCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        parent = None
        if data.get("parent"):
            parent = selectors.note_get(self.version, data["parent"])
            if parent is None:
                raise serializers.ValidationError({"parent": "No such note on this version."})
        note = services.note_create(
            actor=request.user,
            version=self.version,
            frame_start=data.get("frame_start"),
            frame_end=data.get("frame_end"),
            text=data["text"],
            parent=parent,
            shapes=data.get("shapes"),
        )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)

    def _act(self, request, pk, fn):
        note = selectors.note_get(self.version, pk)
        if note is None:
            raise Http404("Not found")
        return Response(NoteSerializer(fn(note)).data)

    @extend_schema(request=None, responses=NoteSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def resolve(self, request, project_pk=None, version_pk=None, pk=None):
        return self._act(request, pk, lambda n: services.note_set_resolved(actor=request.user, note=n, resolved=True))

    @extend_schema(request=None, responses=NoteSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def reopen(self, request, project_pk=None, version_pk=None, pk=None):
        return self._act(request, pk, lambda n: services.note_set_resolved(actor=request.user, note=n, resolved=False))

    @extend_schema(request=None, responses=NoteSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def accept(self, request, project_pk=None, version_pk=None, pk=None):
        return self._act(request, pk, lambda n: services.finding_decide(actor=request.user, note=n, accept=True))

    @extend_schema(request=None, responses=NoteSerializer)
    @action(detail=True, methods=["post"])
    @takes_no_body
    def dismiss(self, request, project_pk=None, version_pk=None, pk=None):
        return self._act(request, pk, lambda n: services.finding_decide(actor=request.user, note=n, accept=False))


class DecisionSerializer(serializers.ModelSerializer):
    decided_by = serializers.EmailField(source="decided_by.email", read_only=True, default=None)
    set = serializers.IntegerField(
        source="decision_set_id", read_only=True, allow_null=True, help_text="The run's output-set decision it came with, if any."
    )

    class Meta:
        model = Decision
        fields = ["id", "verdict", "sha256", "note", "decided_by", "created_at", "set"]
        read_only_fields = ["id", "sha256", "decided_by", "created_at", "set"]


class DecisionCreateSerializer(StrictSerializer):
    verdict = serializers.ChoiceField(choices=Decision.Verdict.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=services.MAX_TEXT)
    sha256 = serializers.RegexField(
        r"^[0-9a-f]{64}$", required=False, help_text="The SHA-256 you reviewed: refused if the version changed."
    )


class DecisionViewSet(mixins.ListModelMixin, _VersionScoped):
    """Approval of a generated version: approve, request changes, reject (producers only)."""

    serializer_class = DecisionSerializer
    queryset = Decision.objects.none()
    policy_actions = {"GET": Action.FOOTAGE_VIEW, "POST": Action.PLATE_APPROVE}
    error_statuses = {"create": {409}}  # the version changed since the producer looked

    def scoped_queryset(self, scope):
        return selectors.decisions_for_version(self.version)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        response.data["state"] = services.approval_state(self.version)
        response.data["released"] = services.is_released(self.version)
        # The C2PA credentials of the approval in force (null when none apply): status, what the
        # library read back (tool, source type, ingredients, approver, training-and-mining), hashes.
        response.data["credentials"] = services.credentials_view(self.version)
        response.data["downloadable"] = services.released_original(self.version) is not None
        return response

    @extend_schema(request=DecisionCreateSerializer, responses={201: DecisionSerializer})
    def create(self, request, project_pk=None, version_pk=None):
        serializer = DecisionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        decision = services.decision_create(
            actor=request.user,
            version=self.version,
            verdict=data["verdict"],
            note=data.get("note", ""),
            expected_sha256=data.get("sha256"),
        )
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


class NotificationSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "project", "verb", "text", "link", "created_at", "read_at"]
        read_only_fields = fields


class MarkReadSerializer(StrictSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(), required=False)


@extend_schema_view(list=extend_schema(parameters=[OpenApiParameter("unread", str, enum=["1"], description="1: unread only")]))
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own notifications (?unread=1 for unread only)."""

    serializer_class = NotificationSerializer
    queryset = Notification.objects.none()

    def get_queryset(self):
        return selectors.notifications_for(self.request.user, unread_only=self.request.query_params.get("unread") == "1")

    @extend_schema(request=MarkReadSerializer, responses={200: None})
    @action(detail=False, methods=["post"])
    def read(self, request):
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        count = services.notifications_mark_read(actor=request.user, ids=serializer.validated_data.get("ids"))
        return Response({"marked": count})
