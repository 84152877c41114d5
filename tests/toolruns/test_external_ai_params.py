"""A parameter that would send material to an external AI provider (marked "x-external-ai" in the
tool's schema) is policed like a tool that always does: refused where the studio does not allow it."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from portal.toolruns.models import ToolRun
from portal.toolruns.services import ExternalAINotAllowed, external_ai_params, toolrun_create
from studio_tools.core import get


def test_recap_marks_its_external_ai_switch():
    spec = get("recap").spec
    assert external_ai_params(spec, {"external_ai": True}) == ["external_ai"]
    assert external_ai_params(spec, {"external_ai": False}) == []


@pytest.mark.django_db
def test_external_ai_param_refused_where_the_studio_forbids_it(world):
    artist = world.a.users["artist"]
    assert not world.a.studio.allow_external_ai
    with pytest.raises(ExternalAINotAllowed, match="external AI"):
        toolrun_create(actor=artist, project=world.a.project, tool="recap", params={"external_ai": True}, input_version_ids=[])
    assert not ToolRun.objects.exists()
    assert AuditEvent.objects.filter(action="access.denied", actor=artist, project=world.a.project).exists()
