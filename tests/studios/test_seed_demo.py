"""The demo seed (`manage.py seed_demo`): two studios with a login per role, made without mailing anyone;
with its content, footage generated and ingested for real, one finished run of each tool and a few
notes; idempotent (a second run changes nothing and prints the same logins)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from portal.footage.models import Asset, AssetVersion
from portal.review.models import Note
from portal.studios import demo
from portal.studios.models import Invitation, Studio, StudioMembership
from portal.toolruns.models import ToolRun
from tests.studios.helpers import counts

EMAIL = re.compile(r"\b[\w.+-]+@[\w.-]+\.test\b")


def seed(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def content_counts() -> dict[str, int]:
    return {
        **counts(),
        "assets": Asset.objects.count(),
        "versions": AssetVersion.objects.count(),
        "runs": ToolRun.objects.count(),
        "notes": Note.objects.count(),
    }


def check_logins(printed: str) -> None:
    """Every printed login signs in with the printed password; studio people open their studio, and only theirs."""
    assert demo.DEMO_PASSWORD in printed
    emails = EMAIL.findall(printed)
    assert len(emails) == 11  # five roles in each of two studios, and platform staff
    for i, email in enumerate(emails):
        client = Client()
        credentials = {"username": email, "password": demo.DEMO_PASSWORD}
        response = client.post("/account/sign-in/", credentials, REMOTE_ADDR=f"10.5.0.{i}")
        assert response.status_code == 302, email
        if email == demo.STAFF[0]:
            continue
        own, other = ("demo", "northwind") if email.endswith("@demo.test") else ("northwind", "demo")
        assert client.get(f"/s/{own}/").status_code == 200, email
        assert client.get(f"/s/{other}/").status_code == 404, email  # the other studio does not exist for them


def check_accounts() -> None:
    assert set(Studio.objects.values_list("slug", "status")) == {("demo", "active"), ("northwind", "active")}
    for spec in demo.STUDIOS:
        studio = Studio.objects.get(slug=spec.slug)
        roles = dict(StudioMembership.objects.filter(studio=studio).values_list("user__email", "role"))
        assert roles == {p.email: p.studio_role for p in spec.people}
        project = studio.projects.get(code=spec.project_code)
        assert dict(project.memberships.values_list("user__email", "role")) == {
            p.email: p.project_role for p in spec.people if p.project_role
        }
    # every account came through an invitation, accepted, with its audit rows; none was mailed
    assert Invitation.objects.filter(accepted_at__isnull=False).count() == 10
    sent = AuditEvent.objects.filter(action="invitation.send")
    assert sent.count() == 10 and all(e.details["emailed"] is False for e in sent)
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 10
    assert verify_all()[1] is None


def test_accounts_only_makes_two_studios_without_mail_and_is_idempotent(db, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first, progress = seed("--accounts-only")
    after_first = content_counts()
    with django_capture_on_commit_callbacks(execute=True):
        second, _ = seed("--accounts-only")
    assert content_counts() == after_first
    assert first == second
    assert mailoutbox == []  # no "You are invited" for accounts the command made itself
    assert progress == ""  # accounts only: no content, no progress lines
    assert not Asset.objects.exists() and not ToolRun.objects.exists()
    check_accounts()
    check_logins(first)


def test_quiet_prints_nothing(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert seed("--quiet", "--accounts-only") == ("", "")
    assert Studio.objects.count() == 2


def test_invitation_without_email_is_recorded_as_such(world, mailoutbox, django_capture_on_commit_callbacks):
    from portal.studios import services

    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = services.invitation_send(
            actor=world.a.users["studio_admin"], studio=world.a.studio, email="quiet@a.test", send_email=False
        )
    assert mailoutbox == []
    event = AuditEvent.objects.filter(action="invitation.send").latest("id")
    assert event.details == {"email": "quiet@a.test", "studio_role": "member", "project_role": None, "emailed": False}
    member = services.invitation_accept(raw_token=token, password="quiet-person-passphrase-1", full_name="Quiet")
    assert StudioMembership.objects.filter(studio=world.a.studio, user=member).exists()


@pytest.fixture
def seed_settings(settings, tmp_path, monkeypatch):
    settings.FOOTAGE_TEMP_DIR = str(tmp_path / "scratch")
    (tmp_path / "scratch").mkdir()
    # the heartbeat stays quiet (the embedded test database is one SQLite file shared by the threads)
    settings.TOOLRUN_LEASE_SECONDS = 600
    monkeypatch.setenv("STUDIO_TOOLS_CACHE", str(tmp_path / "tools-cache"))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return settings


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_full_demo_has_footage_finished_runs_and_notes_and_a_second_seed_changes_nothing(seed_settings, mailoutbox):
    printed, progress = seed()
    check_accounts()
    check_logins(printed)
    assert mailoutbox == []
    # progress lines while it works, and the time it took
    assert "running recap" in progress and re.search(r"Demo seeded in \d+\.\d s", progress)

    # footage: every file of the plan uploaded (tus) and ingested (the job engine), ready, in its own studio's project
    for plan in demo.PLANS:
        project = Studio.objects.get(slug=plan.spec.slug).projects.get(code=plan.spec.project_code)
        for item in plan.footage:
            version = AssetVersion.objects.get(asset__project=project, asset__name=item.name)
            assert version.status == "ready" and version.asset.kind == item.kind, item.name
            assert len(version.sha256) == 64 and version.size > 0
            if item.kind == Asset.Kind.SUBTITLES:
                assert version.media_info["kind"] == "subtitles" and version.media_info["cues"] >= 5
            else:
                assert version.media_info["kind"] == "video" and version.proxy_key and version.poster_key
        assert AuditEvent.objects.filter(project=project, action="footage.ingest.ready").count() == len(plan.footage)

    # one succeeded run of each tool in the demo studio's project, with generated outputs
    project = Studio.objects.get(slug="demo").projects.get(code="DEMO_S1")
    runs = {r.tool: r for r in ToolRun.objects.filter(project=project)}
    assert set(runs) == {"contactsheet", "crowd", "continuity", "recap"}
    for tool, run in runs.items():
        assert run.status == "succeeded", (tool, run.error)
        outputs = AssetVersion.objects.filter(asset__project=project, provenance__run=run.pk)
        assert outputs.exists() and all(v.status == "ready" and v.asset.kind == "generated" for v in outputs), tool
    # the walkers are drawn figures: the crowd run says so by turning the whole-people check off, and copies them all
    crowd = runs["crowd"]
    assert crowd.params["completeness"] == "off"
    assert crowd.report["placement_summary"]["copies_placed"] >= 1 and crowd.report["warnings"] == []
    assert "drawn figures" in AssetVersion.objects.get(asset__name="Market square – crowd plate").note
    # continuity: the jacket and the vanished prop are machine findings on the incoming shot
    shot_b = AssetVersion.objects.get(asset__name="SC12 – shot 020")
    machine = set(Note.objects.filter(source=Note.Source.MACHINE, version=shot_b).values_list("finding_type", flat=True))
    assert machine == {"costume", "prop"}
    # recap: cut from both episodes, to the length asked for
    recap = runs["recap"]
    assert {m["episode"] for m in recap.report["moments"]} == {1, 2}
    assert abs(recap.report["render"]["duration_seconds"] - 30) <= 1.0
    # the second studio has its own footage and run: isolation has something to show
    northwind = Studio.objects.get(slug="northwind").projects.get(code="NW_PILOT")
    assert ToolRun.objects.get(project=northwind).status == "succeeded"

    # people's notes, apart from the machine's
    human = Note.objects.filter(source=Note.Source.HUMAN)
    assert sorted(human.values_list("text", flat=True)) == sorted(n.text for n in demo.DEMO_NOTES)
    assert human.filter(drawing__isnull=False).count() == 1

    # the pages open on it: the project, a run, a review
    director = Client()
    director.post("/account/sign-in/", {"username": "director@demo.test", "password": demo.DEMO_PASSWORD}, REMOTE_ADDR="10.6.0.1")
    page = director.get("/s/demo/p/DEMO_S1/").content.decode()
    assert 'id="footage"' in page and f"data-asset-count>{Asset.objects.filter(project=project).count()}<" in page
    # the project page shows the latest few; the asset list pages through them all
    listed = "".join(director.get("/s/demo/p/DEMO_S1/assets/", {"q": q}).content.decode() for q in ("Episode 1", "Market square"))
    assert "Episode 1" in listed and "Market square – crowd plate" in listed
    run_page = director.get(f"/s/demo/p/DEMO_S1/runs/{runs['crowd'].pk}/")
    assert run_page.status_code == 200 and "Asked: 6 added people per frame" in run_page.content.decode()
    assert director.get(f"/s/demo/p/DEMO_S1/review/{shot_b.pk}/").status_code == 200
    notes = director.get(f"/api/v1/projects/{project.pk}/versions/{shot_b.pk}/notes/").json()["results"]
    assert {n["text"] for n in notes} >= {"Her jacket changed colour since 010: wardrobe, or do we reshoot?"}

    # a second seed changes nothing, says so, and prints the same logins
    before = content_counts()
    again, progress_again = seed()
    assert content_counts() == before
    assert again == printed
    assert "already there, nothing to do" in progress_again
    assert mailoutbox == []
    assert verify_all()[1] is None


@pytest.mark.django_db(transaction=True)
def test_a_demo_run_that_is_refused_says_why_still_prints_the_logins_and_the_next_seed_finishes(seed_settings, monkeypatch):
    plate = demo.NORTHWIND_FOOTAGE
    refused = demo.Run("contactsheet", "artist", ("plate",), {"columns": 99})
    monkeypatch.setattr(demo, "PLANS", (demo.Plan(demo.NORTHWIND, plate, (refused,)),))
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command("seed_demo", stdout=out, stderr=err)
    message = str(excinfo.value)
    assert message.startswith("The demo's content is incomplete: the demo's contactsheet run was refused:")
    assert message.endswith("Columns can be at most 12. You entered 99. Run seed_demo again to finish it.")
    assert len(EMAIL.findall(out.getvalue())) == 11  # the logins work, so they are printed all the same
    # nothing half-written: the footage is in, ready; no run was recorded
    assert AssetVersion.objects.get(asset__name=plate[0].name).status == "ready"
    assert not ToolRun.objects.exists()

    monkeypatch.setattr(demo, "PLANS", (demo.Plan(demo.NORTHWIND, plate, demo.NORTHWIND_RUNS),))
    _printed, progress = seed()
    assert "making and ingesting" not in progress and "NW_PILOT: running contactsheet" in progress
    assert ToolRun.objects.get().status == "succeeded"
    assert AssetVersion.objects.filter(asset__name=plate[0].name).count() == 1
