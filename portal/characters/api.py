"""REST API for the character sheet: the same services as the page, scoped to the project like
every project API (another studio's project, character or still answers 404)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from portal.access.api import ScopedViewSet
from portal.access.policy import Action
from portal.access.scope import PROJECT_PK
from portal.characters import selectors, services
from portal.characters.models import Character, CharacterReference
from portal.characters.views import poster_url
from portal.core.api import StrictSerializer


class CharacterReferenceSerializer(serializers.ModelSerializer):
    character = serializers.IntegerField(source="character_id", read_only=True)
    version = serializers.IntegerField(source="version_id", read_only=True)
    asset = serializers.IntegerField(source="version.asset_id", read_only=True)
    name = serializers.CharField(source="version.asset.name", read_only=True)
    sha256 = serializers.CharField(source="version.sha256", read_only=True)
    poster = serializers.SerializerMethodField()

    class Meta:
        model = CharacterReference
        fields = [
            "id",
            "character",
            "version",
            "asset",
            "name",
            "sha256",
            "scene",
            "costume",
            "poster",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_poster(self, reference) -> str | None:
        return poster_url(reference.character.project, reference.version) or None


class CharacterSerializer(serializers.ModelSerializer):
    references = CharacterReferenceSerializer(many=True, read_only=True)

    class Meta:
        model = Character
        fields = ["id", "name", "notes", "references", "created_at", "updated_at"]
        read_only_fields = fields


class CharacterWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=services.NAME_MAX, required=False)
    notes = serializers.CharField(max_length=services.NOTES_MAX, required=False, allow_blank=True)


class ReferenceCreateSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1, required=False, help_text="A ready still image version of the project.")
    image = serializers.FileField(
        required=False, help_text="Or upload an image (multipart/form-data): stored as a reference asset of the project."
    )
    scene = serializers.CharField(max_length=services.SCENE_MAX, required=False, allow_blank=True, default="")
    costume = serializers.CharField(max_length=services.COSTUME_MAX, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if ("version" in attrs) == ("image" in attrs):
            raise serializers.ValidationError({"version": "Give either version (an image of the project) or image (an upload)."})
        return attrs


class ReferenceUpdateSerializer(StrictSerializer):
    scene = serializers.CharField(max_length=services.SCENE_MAX, required=False, allow_blank=True)
    costume = serializers.CharField(max_length=services.COSTUME_MAX, required=False, allow_blank=True)


_POLICY = {
    "GET": Action.FOOTAGE_VIEW,
    "POST": Action.CHARACTERS_EDIT,
    "PATCH": Action.CHARACTERS_EDIT,
    "DELETE": Action.CHARACTERS_EDIT,
}


class CharacterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """The project's character sheet: characters with their reference stills and costume per scene."""

    serializer_class = CharacterSerializer
    queryset = Character.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = _POLICY

    url_scope = PROJECT_PK

    def scoped_queryset(self, scope):
        return selectors.characters_for_project(scope)

    @extend_schema(request=CharacterWriteSerializer, responses={201: CharacterSerializer})
    def create(self, request, project_pk=None):
        serializer = CharacterWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "name" not in data:
            raise serializers.ValidationError({"name": "Give the character's name."})
        character = services.character_create(
            actor=request.user, project=self.scope, name=data["name"], notes=data.get("notes", "")
        )
        return Response(CharacterSerializer(self.get_queryset().get(pk=character.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CharacterWriteSerializer, responses=CharacterSerializer)
    def partial_update(self, request, project_pk=None, pk=None):
        character = self.get_object()
        serializer = CharacterWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.character_update(actor=request.user, character=character, **serializer.validated_data)
        return Response(CharacterSerializer(self.get_queryset().get(pk=character.pk)).data)

    def destroy(self, request, project_pk=None, pk=None):
        services.character_delete(actor=request.user, character=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class CharacterReferenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ScopedViewSet):
    """A character's reference stills. POST JSON {version} to use an image already in the project, or
    multipart {image} to upload one; with the scene and the costume worn in it."""

    serializer_class = CharacterReferenceSerializer
    queryset = CharacterReference.objects.none()
    lookup_value_regex = "[0-9]+"
    policy_actions = _POLICY
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    url_scope = PROJECT_PK

    def character(self) -> Character:
        character = selectors.character_get(self.scope, self.kwargs["character_pk"])
        if character is None:
            raise Http404("Not found")
        return character

    def scoped_queryset(self, scope):
        return CharacterReference.objects.filter(character=self.character()).select_related(
            "version__asset", "character__project__studio"
        )

    @extend_schema(request=ReferenceCreateSerializer, responses={201: CharacterReferenceSerializer})
    def create(self, request, project_pk=None, character_pk=None):
        character = self.character()
        serializer = ReferenceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "image" in data:
            reference = services.reference_upload(
                actor=request.user, character=character, upload=data["image"], costume=data["costume"], scene=data["scene"]
            )
        else:
            reference = services.reference_add(
                actor=request.user, character=character, version_id=data["version"], costume=data["costume"], scene=data["scene"]
            )
        return Response(
            CharacterReferenceSerializer(self.get_queryset().get(pk=reference.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=ReferenceUpdateSerializer, responses=CharacterReferenceSerializer)
    def partial_update(self, request, project_pk=None, character_pk=None, pk=None):
        reference = self.get_object()
        serializer = ReferenceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.reference_update(actor=request.user, reference=reference, **serializer.validated_data)
        return Response(CharacterReferenceSerializer(self.get_queryset().get(pk=reference.pk)).data)

    def destroy(self, request, project_pk=None, character_pk=None, pk=None):
        services.reference_delete(actor=request.user, reference=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
