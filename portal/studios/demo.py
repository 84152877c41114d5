"""The demo the portal opens on (`manage.py seed_demo`, run by `make run`).

Two studios, a project each, one login per role in each and platform staff, all made through the
services a person would go through (an invitation, accepted at once, so the audit trail is real; no
email is sent for them). Then, unless only accounts are asked for, footage generated here (ffmpeg and
numpy, into a temporary folder: nothing binary lives in the repository) is uploaded through the tus
services and ingested by the job engine, one run of each tool is run to the end through the tool-run
service, and a few review notes are written. Jobs run right here, in this process (Celery eager), so
the command returns with everything finished and no message waits in a broker.

Idempotent: what exists is kept (an asset with a ready version, a succeeded run of a tool, a note with
the same text), so a second run changes nothing and prints the same logins.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from portal.footage import services as footage_services
from portal.footage.models import Asset, AssetVersion
from portal.projects import services as project_services
from portal.projects.models import Project
from portal.review import services as review_services
from portal.review.models import Note
from portal.studios import services
from portal.studios.models import Studio, StudioMembership
from portal.toolruns import services as toolrun_services
from portal.toolruns.models import ToolRun

DEMO_PASSWORD = "portal-demo-2026"
STAFF = ("staff@portal.test", "Sam Staff")
UPLOAD_CHUNK = 8 * 1024 * 1024

User = get_user_model()


class DemoError(Exception):
    """Something the demo needs did not come out right (an ingest rejected, a run failed)."""


# --- who ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    studio_role: str  # "studio_admin" or "member"
    project_role: str = ""  # producer, director, artist, viewer ("" for the studio admin)

    @property
    def role_label(self) -> str:
        return self.project_role or self.studio_role.replace("_", " ")


@dataclass(frozen=True)
class DemoStudio:
    slug: str
    name: str
    project_code: str
    project_name: str
    frame_rate: str
    people: tuple[Person, ...]  # the studio admin first: they invite the others

    def person(self, role: str) -> Person:
        return next(p for p in self.people if p.role_label == role)


def _people(domain: str, names: dict[str, str]) -> tuple[Person, ...]:
    return (
        Person(f"admin@{domain}", names["admin"], "studio_admin"),
        *(Person(f"{role}@{domain}", names[role], "member", role) for role in ("producer", "director", "artist", "viewer")),
    )


DEMO = DemoStudio(
    slug="demo",
    name="Demo Studio",
    project_code="DEMO_S1",
    project_name="Demo Series – Season 1",
    frame_rate="24000/1001",
    people=_people(
        "demo.test",
        {
            "admin": "Ada Admin",
            "producer": "Paula Producer",
            "director": "Dario Director",
            "artist": "Aiko Artist",
            "viewer": "Victor Viewer",
        },
    ),
)
NORTHWIND = DemoStudio(
    slug="northwind",
    name="Northwind Pictures",
    project_code="NW_PILOT",
    project_name="Harbour Lights – Pilot",
    frame_rate="25/1",
    people=_people(
        "northwind.test",
        {
            "admin": "Nora Admin",
            "producer": "Niels Producer",
            "director": "Noor Director",
            "artist": "Nikolai Artist",
            "viewer": "Nadia Viewer",
        },
    ),
)
STUDIOS = (DEMO, NORTHWIND)


def logins() -> list[tuple[str, str]]:
    """(role, email) of every demo login, in the order they are printed."""
    rows = [(f"{s.name}: {p.role_label}", p.email) for s in STUDIOS for p in s.people]
    return [*rows, ("platform staff", STAFF[0])]


# --- accounts -----------------------------------------------------------------------------------


def seed_accounts() -> dict[str, Project]:
    """The studios, their projects, their people and platform staff. Returns the projects by studio slug."""
    projects = {}
    with transaction.atomic():
        for spec in STUDIOS:
            projects[spec.slug] = _seed_studio(spec)
        if not User.objects.filter(email=STAFF[0]).exists():
            User.objects.create_superuser(email=STAFF[0], password=DEMO_PASSWORD, full_name=STAFF[1])
    return projects


def _seed_studio(spec: DemoStudio) -> Project:
    studio = Studio.objects.filter(slug=spec.slug).first() or services.studio_create(actor=None, name=spec.name, slug=spec.slug)
    admin_person = spec.people[0]
    _join(studio, admin_person, project=None, inviter=None)
    admin = User.objects.get(email=admin_person.email)
    project = Project.objects.filter(studio=studio, code=spec.project_code).first() or project_services.project_create(
        actor=admin, studio=studio, code=spec.project_code, name=spec.project_name, frame_rate=spec.frame_rate
    )
    for person in spec.people[1:]:
        _join(studio, person, project=project, inviter=admin)
    return project


def _join(studio: Studio, person: Person, *, project: Project | None, inviter) -> None:
    """Invite (without mailing anyone) and accept at once, as the person would from the link."""
    if StudioMembership.objects.filter(studio=studio, user__email=person.email).exists():
        return
    if inviter is None:
        _invitation, token = services.invitation_send(
            actor=None,
            studio=studio,
            email=person.email,
            studio_role=person.studio_role,
            as_platform_staff=True,
            send_email=False,
        )
    else:
        _invitation, token = services.invitation_send(
            actor=inviter,
            studio=studio,
            email=person.email,
            studio_role=person.studio_role,
            project=project if person.project_role else None,
            project_role=person.project_role,
            send_email=False,
        )
    existing = User.objects.filter(email=person.email).first()
    services.invitation_accept(raw_token=token, user=existing, password=DEMO_PASSWORD, full_name=person.name)


# --- footage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Footage:
    """One file of the demo: made by `make(folder) -> path`, uploaded as asset `name`."""

    key: str
    name: str
    kind: str
    filename: str
    make: Callable[[Path], Path]
    shot_code: str = ""
    note: str = ""


# The walkers are drawn figures (a disc and blocks), not people: the pose model that checks "whole
# people" would reject them all, so the crowd run turns that check off, and the demo says so.
WALKERS_NOTE = (
    "Generated plate: the walkers are drawn figures, not people, so the demo's crowd run turns “Whole people only” off."
)


def _crowd_plate(target: Path, *, width: int, height: int, seconds: float, walkers: int, seed: int) -> Path:
    from studio_tools.crowd.synthetic import make_scene, write_scene

    scene = make_scene(width, height, seconds=seconds, walkers=walkers, seed=seed, person_scale=0.32)
    return write_scene(scene, target, crf=16)


def _episode(index: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return _episode_files(folder, index)[0]

    return make


def _episode_subtitles(index: int) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        return _episode_files(folder, index)[1]

    return make


def _episode_files(folder: Path, index: int) -> tuple[Path, Path]:
    """Episode `index` and its .srt, made once per folder (the video and its subtitles come together)."""
    from studio_tools.recap.synthetic import make_episode

    video, subtitles = folder / f"ep{index + 1}.mp4", folder / f"ep{index + 1}.srt"
    if not (video.exists() and subtitles.exists()):
        video, subtitles = make_episode(folder, index, seconds=EPISODE_SECONDS, fps="24000/1001", size=(480, 270))
    return video, subtitles


EPISODE_SECONDS = 40.0
CONTINUITY_FRAMES = 48  # two seconds a shot


def _continuity_shots(folder: Path) -> tuple[Path, Path]:
    """Two set-ups of one scene: between them the left person's jacket changes colour and a prop vanishes."""
    import numpy as np

    from studio_tools.continuity import synthetic as synth

    outgoing, incoming = folder / "sc12_010.mp4", folder / "sc12_020.mp4"
    if outgoing.exists() and incoming.exists():
        return outgoing, incoming
    rng = np.random.default_rng(42)
    scene = synth.make_scene(rng, 480, 270, people=2)
    figure = scene.figures[0]
    recoloured = replace(scene, figures=[replace(figure, jacket=(30, 150, 60)), *scene.figures[1:]])
    camera = synth.camera_move(scene, rng, shift=0.01, degrees=0.3)
    synth.write_clip(outgoing, synth.shot_frames(synth.render(scene), CONTINUITY_FRAMES, rng), 25)
    synth.write_clip(incoming, synth.shot_frames(synth.render(recoloured, camera, hidden=[0]), CONTINUITY_FRAMES, rng), 25)
    return outgoing, incoming


DEMO_FOOTAGE = (
    Footage(
        "plate",
        "Market square – crowd plate",
        Asset.Kind.PLATE,
        "sq010_plate.mp4",
        lambda folder: _crowd_plate(folder / "sq010_plate.mp4", width=640, height=360, seconds=4.0, walkers=6, seed=3),
        shot_code="SQ010",
        note=WALKERS_NOTE,
    ),
    Footage("ep1", "Episode 1", Asset.Kind.FOOTAGE, "ep1.mp4", _episode(0), shot_code="EP01"),
    Footage("ep1_srt", "Episode 1 – subtitles", Asset.Kind.SUBTITLES, "ep1.srt", _episode_subtitles(0), shot_code="EP01"),
    Footage("ep2", "Episode 2", Asset.Kind.FOOTAGE, "ep2.mp4", _episode(1), shot_code="EP02"),
    Footage("ep2_srt", "Episode 2 – subtitles", Asset.Kind.SUBTITLES, "ep2.srt", _episode_subtitles(1), shot_code="EP02"),
    Footage(
        "shot_a",
        "SC12 – shot 010",
        Asset.Kind.FOOTAGE,
        "sc12_010.mp4",
        lambda folder: _continuity_shots(folder)[0],
        shot_code="SC12_010",
    ),
    Footage(
        "shot_b",
        "SC12 – shot 020",
        Asset.Kind.FOOTAGE,
        "sc12_020.mp4",
        lambda folder: _continuity_shots(folder)[1],
        shot_code="SC12_020",
    ),
)
NORTHWIND_FOOTAGE = (
    Footage(
        "plate",
        "Harbour – crowd plate",
        Asset.Kind.PLATE,
        "hb020_plate.mp4",
        lambda folder: _crowd_plate(folder / "hb020_plate.mp4", width=480, height=270, seconds=3.0, walkers=4, seed=11),
        shot_code="HB020",
        note=WALKERS_NOTE,
    ),
)


# --- runs and notes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    tool: str
    by: str  # project role of who starts it
    inputs: tuple[str, ...]  # footage keys, in order
    params: dict = field(default_factory=dict)
    slot: str = ""  # all inputs to this slot ("" : the tool decides)


# the paving below the wall, where the walkers stand (the horizon is at 0.3 of the height)
CROWD_REGION = [[0.02, 0.4], [0.98, 0.4], [0.98, 0.99], [0.02, 0.99]]
DEMO_RUNS = (
    Run("contactsheet", "artist", ("ep1",), {"columns": 4, "rows": 3, "thumb_width": 240}),
    Run("crowd", "artist", ("plate",), {"region": CROWD_REGION, "density": 2.0, "completeness": "off", "seed": 7}, "plate"),
    Run("continuity", "director", ("shot_a", "shot_b")),
    Run("recap", "director", ("ep1", "ep1_srt", "ep2", "ep2_srt"), {"target_seconds": 30}, "media"),
)
NORTHWIND_RUNS = (Run("contactsheet", "artist", ("plate",), {"columns": 3, "rows": 2, "thumb_width": 240}),)


@dataclass(frozen=True)
class DemoNote:
    footage: str
    by: str
    frame_start: int
    text: str
    frame_end: int | None = None
    shapes: tuple[dict, ...] = ()


DEMO_NOTES = (
    # episode 1 dissolves into its third shot at frames 206-213, and its third line starts at 10 s (frame 240)
    DemoNote("ep1", "director", 200, "Lovely dissolve – can we hold the shot before it two frames longer?", frame_end=214),
    DemoNote("ep1", "producer", 240, "Line three lands early against the picture; check it with the final mix."),
    DemoNote(
        "plate",
        "artist",
        12,
        "Clean-up before the crowd pass: the dark mark on the paving, lower left.",
        shapes=({"type": "rect", "points": [[0.06, 0.78], [0.22, 0.95]], "color": "#ffcc00"},),
    ),
    DemoNote("shot_b", "director", 0, "Her jacket changed colour since 010: wardrobe, or do we reshoot?"),
)


# --- the whole demo -----------------------------------------------------------------------------


@dataclass
class Plan:
    spec: DemoStudio
    footage: tuple[Footage, ...]
    runs: tuple[Run, ...]
    notes: tuple[DemoNote, ...] = ()


PLANS = (Plan(DEMO, DEMO_FOOTAGE, DEMO_RUNS, DEMO_NOTES), Plan(NORTHWIND, NORTHWIND_FOOTAGE, NORTHWIND_RUNS))


def seed_content(projects: dict[str, Project], *, say: Callable[[str], None] = lambda _line: None) -> dict[str, int]:
    """Footage, runs and notes of every demo project. Returns counts of what was made this time."""
    made = {"footage": 0, "runs": 0, "notes": 0}
    started = time.monotonic()

    def step(text: str) -> None:
        say(f"  [{time.monotonic() - started:6.1f} s] {text}")

    with tempfile.TemporaryDirectory(prefix="seed-demo-", dir=settings.FOOTAGE_TEMP_DIR) as tmp, _jobs_run_here():
        folder = Path(tmp)
        for plan in PLANS:
            project = projects[plan.spec.slug]
            people = {p.role_label: User.objects.get(email=p.email) for p in plan.spec.people}
            versions: dict[str, AssetVersion] = {}
            for item in plan.footage:
                version = _ready_version(project, item)
                if version is None:
                    step(f"{project.code}: making and ingesting {item.name}")
                    version = _upload_and_ingest(project, people["artist"], item, folder)
                    made["footage"] += 1
                versions[item.key] = version
            for run in plan.runs:
                if ToolRun.objects.filter(project=project, tool=run.tool, status=ToolRun.Status.SUCCEEDED).exists():
                    continue
                step(f"{project.code}: running {run.tool}")
                _run_tool(project, people[run.by], run, versions)
                made["runs"] += 1
            for note in plan.notes:
                version = versions[note.footage]
                if Note.objects.filter(version=version, text=note.text).exists():
                    continue
                try:
                    review_services.note_create(
                        actor=people[note.by],
                        version=version,
                        frame_start=note.frame_start,
                        frame_end=note.frame_end,
                        text=note.text,
                        shapes=[dict(s) for s in note.shapes] or None,
                    )
                except ValidationError as exc:
                    raise DemoError(f"a note on {note.footage} was refused: {' '.join(exc.messages)}") from exc
                made["notes"] += 1
    if any(made.values()):
        step(f"done: {made['footage']} files ingested, {made['runs']} tool runs, {made['notes']} notes")
    return made


def _ready_version(project: Project, item: Footage) -> AssetVersion | None:
    return (
        AssetVersion.objects.filter(
            asset__project=project, asset__name=item.name, asset__kind=item.kind, status=AssetVersion.Status.READY
        )
        .order_by("-number")
        .first()
    )


def _metadata(values: dict[str, str]) -> str:
    """A tus Upload-Metadata header: `key base64(value)` pairs."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items() if value)


def _upload_and_ingest(project: Project, uploader, item: Footage, folder: Path) -> AssetVersion:
    """The browser's path: a tus upload in chunks, then the ingest job (run here, see _jobs_run_here)."""
    path = item.make(folder)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    existing = Asset.objects.filter(project=project, name=item.name, kind=item.kind).first()
    metadata = {
        "filename": item.filename,
        "kind": item.kind,
        "asset_name": item.name,
        "shot_code": item.shot_code,
        "note": item.note,
        "sha256": digest,
        # an earlier seed stopped before this asset became ready: its next version, not a second asset
        "asset": str(existing.pk) if existing else "",
    }
    size = path.stat().st_size
    try:
        upload = footage_services.upload_create(actor=uploader, project=project, length=size, metadata_header=_metadata(metadata))
        offset = 0
        with open(path, "rb") as handle:
            while offset < size:
                chunk = handle.read(UPLOAD_CHUNK)
                checksum = ("sha256", hashlib.sha256(chunk).digest())
                upload = footage_services.upload_patch(
                    actor=uploader, upload=upload, offset=offset, body=_Body(chunk), checksum=checksum
                )
                offset = upload.offset
    except footage_services.UploadError as exc:  # e.g. the studio's storage quota is full
        raise DemoError(f"{item.name} could not be uploaded: {exc.message}") from exc
    version = AssetVersion.objects.get(pk=upload.version_id)
    if version.status != AssetVersion.Status.READY:
        raise DemoError(f"{item.name} did not become ready ({version.status}): {version.reject_reason or 'see the log'}")
    return version


class _Body:
    """A chunk as the request body the tus service reads."""

    def __init__(self, data: bytes):
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._at + size
        piece, self._at = self._data[self._at : end], min(end, len(self._data))
        return piece


def _run_tool(project: Project, actor, run: Run, versions: dict[str, AssetVersion]) -> ToolRun:
    ids = [versions[key].pk for key in run.inputs]
    try:
        created = toolrun_services.toolrun_create(
            actor=actor,
            project=project,
            tool=run.tool,
            params=dict(run.params),
            input_version_ids={run.slot: ids} if run.slot else ids,
        )
    except ValidationError as exc:
        raise DemoError(f"the demo's {run.tool} run was refused: {' '.join(exc.messages)}") from exc
    done = ToolRun.objects.get(pk=created.pk)
    if done.status != ToolRun.Status.SUCCEEDED:
        raise DemoError(f"the demo's {run.tool} run ended {done.status}: {done.error or 'see the log'}")
    return done


@contextmanager
def _jobs_run_here() -> Iterator[None]:
    """Jobs (ingest, tool runs) run in this process when their transaction commits, as Celery's eager
    mode does: the command ends with them finished, and no message is left in a broker for a worker."""
    from portal.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    # Celery logs every task it ran ("Task jobs.run[...] succeeded"): the progress lines say it better here.
    trace_log = logging.getLogger("celery.app.trace")
    trace_level = trace_log.level
    trace_log.setLevel(max(logging.WARNING, trace_level))
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = before
        trace_log.setLevel(trace_level)
