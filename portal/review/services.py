"""Every write of review: notes, drawings, finding decisions, approvals, notifications."""

from __future__ import annotations

import math
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from portal import jobs
from portal.access.enforce import require
from portal.access.policy import Action, can
from portal.audit.services import record
from portal.core.errors import Conflict
from portal.footage.models import Asset, AssetVersion
from portal.live.services import publish_on_commit
from portal.review.models import Decision, Drawing, Note, Notification

User = get_user_model()

MAX_TEXT = 5000
MAX_SHAPES = 50
MAX_POINTS_PER_SHAPE = 2000
MAX_POINTS_TOTAL = 5000
SHAPE_TYPES = {"freehand", "arrow", "rect", "text"}
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_MENTION = re.compile(r"@([\w.+-]+@[\w-]+(?:\.[\w-]+)+)")


# --- frames -----------------------------------------------------------------------------------


def frame_count(version: AssetVersion) -> int | None:
    """How many frames the version has (None when unknown, e.g. subtitles)."""
    info = version.media_info or {}
    video = info.get("video") or {}
    if info.get("kind") == "still":
        return 1
    # A variable-rate source is reviewed on its constant-rate proxy: the timeline's frames, gaps held.
    if video.get("timeline_frame_count"):
        return int(video["timeline_frame_count"])
    if video.get("frame_count"):
        return int(video["frame_count"])
    duration = info.get("duration")
    if duration:
        from fractions import Fraction

        rate = Fraction(video.get("frame_rate") or version.asset.project.frame_rate)
        return max(1, math.floor(duration * rate))
    return None


def _check_frames(version: AssetVersion, start, end) -> tuple[int, int | None]:
    try:
        start = int(start)
        end = None if end in (None, "") else int(end)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"frame_start": "Frames are whole numbers."}) from exc
    if start < 0 or (end is not None and end < 0):
        raise ValidationError({"frame_start": "Frames start at 0."})
    if end is not None and end < start:
        raise ValidationError({"frame_end": "A range ends after it starts."})
    total = frame_count(version)
    last = max(start, end or start)
    if total is not None and last >= total:
        raise ValidationError({"frame_start": f"Frame {last} is past the end: this version has frames 0 to {total - 1}."})
    return start, (None if end == start else end)


# --- drawings ---------------------------------------------------------------------------------


def clean_shapes(shapes) -> list[dict]:
    """Validate drawn shapes: known types, normalized 0-1 coordinates, bounded sizes."""
    if shapes in (None, ""):
        return []
    if not isinstance(shapes, list):
        raise ValidationError({"shapes": "Shapes are a list."})
    if len(shapes) > MAX_SHAPES:
        raise ValidationError({"shapes": f"At most {MAX_SHAPES} shapes on one note."})
    cleaned, total = [], 0
    for index, shape in enumerate(shapes):
        where = f"Shape {index + 1}"
        if not isinstance(shape, dict) or shape.get("type") not in SHAPE_TYPES:
            raise ValidationError({"shapes": f"{where}: the type must be one of {', '.join(sorted(SHAPE_TYPES))}."})
        points = shape.get("points")
        if not isinstance(points, list) or not points:
            raise ValidationError({"shapes": f"{where}: give its points."})
        if len(points) > MAX_POINTS_PER_SHAPE:
            raise ValidationError({"shapes": f"{where}: at most {MAX_POINTS_PER_SHAPE} points in one shape."})
        total += len(points)
        if total > MAX_POINTS_TOTAL:
            raise ValidationError({"shapes": f"At most {MAX_POINTS_TOTAL} points in one drawing."})
        clean_points = []
        for point in points:
            if (
                not isinstance(point, list | tuple)
                or len(point) != 2
                or not all(isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in point)
            ):
                raise ValidationError({"shapes": f"{where}: each point is [x, y]."})
            x, y = float(point[0]), float(point[1])
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValidationError({"shapes": f"{where}: coordinates are fractions of the picture, from 0 to 1."})
            clean_points.append([round(x, 5), round(y, 5)])
        kind = shape["type"]
        if kind in ("arrow", "rect") and len(clean_points) != 2:
            raise ValidationError({"shapes": f"{where}: an {kind} has exactly two points."})
        if kind == "text" and len(clean_points) != 1:
            raise ValidationError({"shapes": f"{where}: a text label has one point."})
        item = {"type": kind, "points": clean_points}
        colour = shape.get("color") or "#ff3b30"
        if not isinstance(colour, str) or not _COLOUR.match(colour):
            raise ValidationError({"shapes": f"{where}: colours are written #rrggbb."})
        item["color"] = colour.lower()
        if kind == "text":
            text = str(shape.get("text") or "").strip()
            if not text or len(text) > 200:
                raise ValidationError({"shapes": f"{where}: a text label needs 1 to 200 characters."})
            item["text"] = text
        cleaned.append(item)
    return cleaned


# --- notes ------------------------------------------------------------------------------------


def _members_by_email(project, emails: set[str]) -> list:
    if not emails:
        return []
    people = User.objects.filter(email__in={e.lower() for e in emails} | emails, is_active=True)
    return [person for person in people if can(person, Action.PROJECT_VIEW, project)]


def _link(version: AssetVersion, note: Note | None = None) -> str:
    project = version.asset.project
    url = reverse("review:review", kwargs={"studio": project.studio.slug, "project": project.code, "version_id": version.pk})
    return f"{url}?frame={note.frame_start}#note-{note.pk}" if note else url


def notify(*, users, project, verb: str, text: str, link: str, actor=None) -> int:
    """In-app notifications (emailed later, batched: see notifications_email)."""
    rows = [
        Notification(user=user, project=project, verb=verb, text=text[:300], link=link[:500])
        for user in {u.pk: u for u in users}.values()
        if actor is None or user.pk != actor.pk
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def note_create(
    *, actor, version: AssetVersion, frame_start, frame_end=None, text: str, parent: Note | None = None, shapes=None
) -> Note:
    require(actor, Action.REVIEW_COMMENT, version)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write something in the note."})
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": f"A note has at most {MAX_TEXT} characters."})
    if version.status != AssetVersion.Status.READY:
        raise ValidationError("Only a ready version can be reviewed.")
    if parent is not None:
        if parent.version_id != version.pk:
            raise ValidationError({"parent": "A reply belongs to a note on the same version."})
        if parent.parent_id is not None:
            parent = parent.parent  # threads are one level deep: a reply to a reply joins the thread
        frame_start, frame_end = parent.frame_start, parent.frame_end
    start, end = _check_frames(version, frame_start, frame_end)
    cleaned = clean_shapes(shapes)
    project = version.asset.project
    with transaction.atomic():
        note = Note.objects.create(
            version=version, parent=parent, author=actor, frame_start=start, frame_end=end, text=text, source=Note.Source.HUMAN
        )
        if cleaned:
            Drawing.objects.create(note=note, frame=start, shapes=cleaned)
        mentioned = _members_by_email(project, set(_MENTION.findall(text)))
        if mentioned:
            note.mentions.set(mentioned)
        record(
            action="review.note.create",
            actor=actor,
            project=project,
            target=note,
            details={
                "version": version.pk,
                "frame_start": start,
                "frame_end": end,
                "reply_to": parent.pk if parent else None,
                "shapes": len(cleaned),
                "mentions": [u.email for u in mentioned],
            },
        )
        who = getattr(actor, "full_name", "") or actor.email
        label = f"{version.asset.name} v{version.number}"
        notify(
            users=mentioned,
            project=project,
            verb="mention",
            text=f"{who} mentioned you on {label}, frame {start}",
            link=_link(version, note),
            actor=actor,
        )
        if parent is not None:
            thread = [parent.author, *[r.author for r in parent.replies.exclude(pk=note.pk)]]
            notify(
                users=[u for u in thread if u is not None and u not in mentioned],
                project=project,
                verb="reply",
                text=f"{who} replied on {label}, frame {start}",
                link=_link(version, note),
                actor=actor,
            )
        publish_on_commit(project.pk, "review.note", {"version": version.pk, "note": note.pk, "action": "created"})
    return note


def _note_for_update(note: Note) -> Note:
    return Note.objects.select_for_update().select_related("version__asset__project__studio").get(pk=note.pk)


def note_set_resolved(*, actor, note: Note, resolved: bool) -> Note:
    require(actor, Action.REVIEW_COMMENT, note)
    with transaction.atomic():
        note = _note_for_update(note)
        if note.parent_id is not None:
            raise ValidationError("Resolve the thread from its first note.")
        if note.resolved == resolved:
            raise ValidationError("The note is already resolved." if resolved else "The note is already open.")
        note.resolved = resolved
        note.resolved_by = actor if resolved else None
        note.resolved_at = timezone.now() if resolved else None
        note.updated_at = timezone.now()
        note.save(update_fields=["resolved", "resolved_by", "resolved_at", "updated_at"])
        record(action="review.note.resolve" if resolved else "review.note.reopen", actor=actor, project=note.project, target=note)
        publish_on_commit(note.project.pk, "review.note", {"version": note.version_id, "note": note.pk, "action": "resolved"})
    return note


def finding_decide(*, actor, note: Note, accept: bool) -> Note:
    """A reviewer accepts or dismisses a machine finding."""
    require(actor, Action.REVIEW_COMMENT, note)
    with transaction.atomic():
        note = _note_for_update(note)
        if not note.is_machine:
            raise ValidationError("Only machine findings are accepted or dismissed.")
        state = Note.FindingState.ACCEPTED if accept else Note.FindingState.DISMISSED
        if note.finding_state == state:
            raise ValidationError(f"The finding is already {state}.")
        note.finding_state = state
        note.finding_decided_by = actor
        note.updated_at = timezone.now()
        note.save(update_fields=["finding_state", "finding_decided_by", "updated_at"])
        record(
            action=f"review.finding.{state}",
            actor=actor,
            project=note.project,
            target=note,
            details={"finding_type": note.finding_type, "confidence": note.confidence},
        )
        publish_on_commit(note.project.pk, "review.note", {"version": note.version_id, "note": note.pk, "action": state})
    return note


def findings_import(*, run, version: AssetVersion, findings: list[dict]) -> list[Note]:
    """Machine findings from a tool run become machine-made notes on the version they are about.
    Called by the tool-run engine (no actor: the run's starter is on record with the run)."""
    project = version.asset.project
    total = frame_count(version)
    notes = []
    with transaction.atomic():
        for finding in findings:
            frame = int(finding.get("frame") or 0)
            if total is not None:
                frame = min(max(frame, 0), total - 1)
            shapes = []
            box = finding.get("box")
            if isinstance(box, list | tuple) and len(box) == 4:
                x, y, w, h = (min(max(float(v), 0.0), 1.0) for v in box)
                shapes = [{"type": "rect", "points": [[x, y], [min(x + w, 1.0), min(y + h, 1.0)]], "color": "#ffcc00"}]
            note = Note.objects.create(
                version=version,
                source=Note.Source.MACHINE,
                frame_start=frame,
                text=str(finding.get("explanation") or finding.get("type") or "finding")[:MAX_TEXT],
                finding_type=str(finding.get("type") or "")[:32],
                confidence=min(max(float(finding.get("confidence") or 0.0), 0.0), 1.0),
                finding_data=finding,
                finding_state=Note.FindingState.OPEN,
                tool_run=run,
            )
            if shapes:
                Drawing.objects.create(note=note, frame=frame, shapes=clean_shapes(shapes))
            notes.append(note)
        record(
            action="review.findings.import",
            actor=None,
            project=project,
            target=version,
            details={"run": getattr(run, "pk", None), "count": len(notes)},
        )
        publish_on_commit(project.pk, "review.note", {"version": version.pk, "action": "findings"})
    return notes


# --- approval of generated plates -------------------------------------------------------------


def _current(version: AssetVersion) -> AssetVersion:
    # The caller's instance may predate a decision: the row, as it is now, is the answer.
    return AssetVersion.objects.select_related("asset").get(pk=version.pk)


def approval_state(version: AssetVersion) -> str:
    """pending | approved | changes_requested | rejected, for the exact bytes of this version, as the
    decision service stamped it on the version row (see AssetVersion.approval_state). Lists read the
    property of the rows they already hold; this asks the database for one version's current state."""
    return _current(version).approval_state


def is_released(version: AssetVersion) -> bool:
    """May this version's original leave the portal? (AssetVersion.is_released, read now: always for
    footage; for generated media only once a producer approved these exact bytes.)"""
    return _current(version).is_released


# Apps that can hold back an approval register a function here (toolruns: a recap's unsigned
# sentences), from their AppConfig.ready(): review never imports them.
APPROVAL_BLOCKERS: list = []


def register_approval_blocker(blocker) -> None:
    if blocker not in APPROVAL_BLOCKERS:
        APPROVAL_BLOCKERS.append(blocker)


def approval_blocker(version: AssetVersion) -> str | None:
    """Why this generated version cannot be approved yet, beyond its own review (None: nothing blocks)."""
    for blocker in APPROVAL_BLOCKERS:
        reason = blocker(version)
        if reason:
            return reason
    return None


def decision_create(
    *, actor, version: AssetVersion, verdict: str, note: str = "", expected_sha256: str | None = None
) -> Decision:
    require(actor, Action.PLATE_APPROVE, version)
    if verdict not in Decision.Verdict.values:
        raise ValidationError({"verdict": f"Choose one of: {', '.join(Decision.Verdict.values)}."})
    note = (note or "").strip()
    if verdict != Decision.Verdict.APPROVED and not note:
        raise ValidationError({"note": "Say what is wrong: a note is required to reject or request changes."})
    if len(note) > MAX_TEXT:
        raise ValidationError({"note": f"At most {MAX_TEXT} characters."})
    with transaction.atomic():
        version = AssetVersion.objects.select_for_update().select_related("asset__project__studio").get(pk=version.pk)
        if version.asset.kind != Asset.Kind.GENERATED:
            raise ValidationError("Only generated plates go through approval.")
        if version.status != AssetVersion.Status.READY or not version.sha256:
            raise ValidationError("This version is not ready to be reviewed.")
        if expected_sha256 and expected_sha256 != version.sha256:
            raise Conflict("This version changed since you opened it: reload and review what is there now.", code="stale")
        newest = version.asset.versions.aggregate(n=Max("number"))["n"]
        if newest and newest > version.number:
            raise Conflict(f"v{version.number} is out of date: v{newest} exists. Review the newest version.", code="stale")
        blocker = approval_blocker(version) if verdict == Decision.Verdict.APPROVED else None
        if blocker:
            raise ValidationError({"verdict": blocker})
        decision = Decision.objects.create(version=version, verdict=verdict, sha256=version.sha256, note=note, decided_by=actor)
        # Approval as data: the version row says which bytes were approved, so whoever asks (a list of
        # versions, the download gate, ingest's label) reads it without a query into review.
        version.approval_verdict = verdict
        version.approval_sha256 = version.sha256
        version.approved_sha256 = version.sha256 if verdict == Decision.Verdict.APPROVED else ""
        version.save(update_fields=["approval_verdict", "approval_sha256", "approved_sha256"])
        project = version.asset.project
        record(
            action=f"review.decision.{verdict}",
            actor=actor,
            project=project,
            target=version,
            details={"sha256": version.sha256, "note": note[:500], "version": version.number},
        )
        interested = [u for u in (version.uploaded_by,) if u is not None]
        run_output = getattr(version, "tool_output", None)
        if run_output is not None and run_output.run.created_by is not None:
            interested.append(run_output.run.created_by)
        notify(
            users=interested,
            project=project,
            verb="decision",
            text=f"{version.asset.name} v{version.number}: {decision.get_verdict_display().lower()}",
            link=_link(version),
            actor=actor,
        )
        publish_on_commit(project.pk, "review.decision", {"version": version.pk, "verdict": verdict})
        if verdict == Decision.Verdict.APPROVED:
            # The review copies lose their "not approved" label now that these bytes are approved.
            jobs.enqueue_on_commit("rederive", version.pk)
    return decision


# --- notifications ----------------------------------------------------------------------------


def notifications_mark_read(*, actor, ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(user=actor, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def notifications_email(*, now=None) -> int:
    """Periodic: at most one email per person and project every REVIEW_EMAIL_INTERVAL_MINUTES,
    however many events happened; each email lists everything not yet emailed."""
    now = now or timezone.now()
    interval = timedelta(minutes=settings.REVIEW_EMAIL_INTERVAL_MINUTES)
    pending = (
        Notification.objects.filter(emailed_at__isnull=True, read_at__isnull=True).values_list("user_id", "project_id").distinct()
    )
    sent = 0
    for user_id, project_id in list(pending):
        last = Notification.objects.filter(user_id=user_id, project_id=project_id, emailed_at__isnull=False).aggregate(
            last=Max("emailed_at")
        )["last"]
        if last is not None and now - last < interval:
            continue
        with transaction.atomic():
            batch = list(
                Notification.objects.select_for_update()
                .select_related("user", "project")
                .filter(user_id=user_id, project_id=project_id, emailed_at__isnull=True, read_at__isnull=True)
                .order_by("created_at")
            )
            if not batch:
                continue
            user, project = batch[0].user, batch[0].project
            if not user.is_active or not can(user, Action.PROJECT_VIEW, project):
                Notification.objects.filter(pk__in=[n.pk for n in batch]).update(emailed_at=now)
                continue
            lines = [f"- {n.text}\n  {settings.SITE_URL}{n.link}" for n in batch]
            send_mail(
                subject=f"[{project.code}] {len(batch)} update{'s' if len(batch) != 1 else ''} on the AI Studio Partner Portal",
                message="\n".join([f"Hello,\n\nWhat happened in {project.code} – {project.name}:\n", *lines, ""]),
                from_email=None,
                recipient_list=[user.email],
            )
            Notification.objects.filter(pk__in=[n.pk for n in batch]).update(emailed_at=now)
            sent += 1
    return sent
