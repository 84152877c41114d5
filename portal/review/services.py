"""Every write of review: notes, drawings, finding decisions, approvals, notifications."""

from __future__ import annotations

import logging
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
from django.utils.translation import gettext as _

from portal import jobs
from portal.access.enforce import require
from portal.access.policy import Action, can
from portal.audit.services import record
from portal.core.db import atomic_with_retry
from portal.core.errors import Conflict
from portal.footage.models import Asset, AssetVersion
from portal.live.services import publish_on_commit
from portal.review import credentials
from portal.review.models import ContentCredential, Decision, DecisionSet, Drawing, Note, Notification
from portal.webhooks import events as webhook_events

User = get_user_model()
logger = logging.getLogger(__name__)

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
        webhook_events.note_added(note)
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


def _interested(versions: list[AssetVersion]) -> list:
    """Who hears of a decision: whoever uploaded the versions and whoever started the run that made them."""
    users = [v.uploaded_by for v in versions if v.uploaded_by is not None]
    run_output = getattr(versions[0], "tool_output", None)
    if run_output is not None and run_output.run.created_by is not None:
        users.append(run_output.run.created_by)
    return users


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
        # Only ready versions count: a re-run still storing its outputs does not make v1 out of date yet.
        newest = version.asset.versions.filter(status=AssetVersion.Status.READY).aggregate(n=Max("number"))["n"]
        if newest and newest > version.number:
            raise Conflict(
                _("v%(number)d is out of date: v%(newest)d exists. Review the newest version.")
                % {"number": version.number, "newest": newest},
                code="stale",
            )
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
        release_stamp(version)
        project = version.asset.project
        record(
            action=f"review.decision.{verdict}",
            actor=actor,
            project=project,
            target=version,
            details={"sha256": version.sha256, "note": note[:500], "version": version.number},
        )
        notify(
            users=_interested([version]),
            project=project,
            verb="decision",
            text=f"{version.asset.name} v{version.number}: {decision.get_verdict_display().lower()}",
            link=_link(version),
            actor=actor,
        )
        publish_on_commit(project.pk, "review.decision", {"version": version.pk, "verdict": verdict})
        webhook_events.decision_made(decision)
        if verdict == Decision.Verdict.APPROVED:
            _credential_start(decision)
            # The review copies lose their "not approved" label now that these bytes are approved.
            jobs.enqueue_on_commit("rederive", version.pk)
    return decision


# --- one decision on a set of generated versions (a tool run's outputs) ------------------------

# The state of a set, from its members' own states (each read from its version row).
SET_EMPTY, SET_PENDING, SET_APPROVED, SET_PARTLY_APPROVED, SET_MIXED = "empty", "pending", "approved", "partly_approved", "mixed"
SUPERSEDED = "superseded"  # a member whose output has a newer version: that version awaits its own approval


def set_state(states: list[str]) -> str:
    """empty | pending | approved | partly_approved | changes_requested | rejected | mixed, from the
    members' states (pending, approved, changes_requested, rejected, or superseded, which counts as
    pending: the output's newest version has not been decided)."""
    states = [SET_PENDING if state == SUPERSEDED else state for state in states]
    if not states:
        return SET_EMPTY
    distinct = set(states)
    if len(distinct) == 1:
        return states[0]
    if Decision.Verdict.APPROVED in distinct:
        return SET_PARTLY_APPROVED
    return SET_MIXED


def _member_words(version: AssetVersion, names: dict) -> str:
    return f"“{names.get(version.pk) or version.asset.name}” v{version.number}"


def set_decision_create(
    *,
    actor,
    project,
    key: str,
    label: str,
    versions: list[AssetVersion],
    verdict: str,
    note: str = "",
    expected: dict[int, str] | None = None,
    names: dict[int, str] | None = None,
    link: str = "",
) -> DecisionSet:
    """A producer's one decision on a set of generated versions: in one transaction, each member gets
    its decision on its exact bytes (stamped on its version row, as `decision_create` does, so the
    download gate reads it unchanged), and an approval starts each member's content credentials.
    All or nothing: a member that is not ready, not the newest version of its output, changed since
    the producer looked (`expected`: {version id: SHA-256}) or blocked (a recap's unsigned narration)
    refuses the whole set, naming the member and why. `names` gives each member's name in messages."""
    require(actor, Action.PLATE_APPROVE, project)
    names = names or {}
    if verdict not in Decision.Verdict.values:
        raise ValidationError({"verdict": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(Decision.Verdict.values)}]})
    note = (note or "").strip()
    if verdict != Decision.Verdict.APPROVED and not note:
        raise ValidationError({"note": [_("Say what is wrong: a note is required to reject or request changes.")]})
    if len(note) > MAX_TEXT:
        raise ValidationError({"note": [_("At most %(n)s characters.") % {"n": MAX_TEXT}]})
    ids = [v.pk for v in versions]
    if not ids:
        raise ValidationError(_("This set has no outputs to decide on."))
    if expected is not None:
        unknown = sorted(set(expected) - set(ids))
        if unknown:
            raise ValidationError(
                {"expected": [_("Not a member of this set: version %(ids)s.") % {"ids": ", ".join(map(str, unknown))}]}
            )

    def decide() -> DecisionSet:
        # Domain rows first, in one order (by id), then the audit chain (portal/audit/services.py).
        locked = {
            v.pk: v
            # of=self: the versions alone (not their asset, project and studio, which every upload and
            # audited write of the studio would then queue behind)
            for v in AssetVersion.objects.select_for_update(of=("self",))
            .select_related("asset__project__studio", "uploaded_by")
            .filter(pk__in=ids)
            .order_by("pk")
        }
        if len(locked) != len(set(ids)):
            raise Conflict(_("An output of this set is gone: reload and review what is there now."), code="stale")
        members = [locked[pk] for pk in ids]
        newest = dict(
            AssetVersion.objects.filter(asset_id__in={v.asset_id for v in members}, status=AssetVersion.Status.READY)
            .values("asset_id")
            .annotate(n=Max("number"))
            .values_list("asset_id", "n")
        )
        for version in members:
            who = _member_words(version, names)
            if version.asset.project_id != project.pk:
                raise ValidationError(_("%(member)s is not in this project.") % {"member": who})
            if version.asset.kind != Asset.Kind.GENERATED:
                raise ValidationError(
                    _("%(member)s is not generated: only generated outputs go through approval.") % {"member": who}
                )
            if version.status != AssetVersion.Status.READY or not version.sha256:
                raise ValidationError(_("%(member)s is not ready to be reviewed.") % {"member": who})
        for version in members:
            who = _member_words(version, names)
            if expected is not None and expected.get(version.pk) != version.sha256:
                raise Conflict(
                    _("%(member)s changed since you opened this set: reload and review what is there now.") % {"member": who},
                    code="stale",
                )
            if newest.get(version.asset_id, 0) > version.number:
                raise Conflict(
                    _("%(member)s is out of date: v%(newest)d exists. Decide on the set that holds the newest version.")
                    % {"member": who, "newest": newest[version.asset_id]},
                    code="stale",
                )
        if verdict == Decision.Verdict.APPROVED:
            blocked = [(v, approval_blocker(v)) for v in members]
            blocked = [f"{_member_words(v, names)}: {reason}" for v, reason in blocked if reason]
            if blocked:
                raise ValidationError({"verdict": [_("The set cannot be approved: %(why)s") % {"why": " ".join(blocked)}]})
        decision_set = DecisionSet.objects.create(
            project=project,
            key=key[:64],
            label=label[:200],
            verdict=verdict,
            note=note,
            decided_by=actor,
            members=[{"version": v.pk, "name": names.get(v.pk, ""), "number": v.number, "sha256": v.sha256} for v in members],
        )
        decisions = []
        for version in members:
            decision = Decision.objects.create(
                version=version, verdict=verdict, sha256=version.sha256, note=note, decided_by=actor, decision_set=decision_set
            )
            version.approval_verdict = verdict
            version.approval_sha256 = version.sha256
            version.approved_sha256 = version.sha256 if verdict == Decision.Verdict.APPROVED else ""
            version.save(update_fields=["approval_verdict", "approval_sha256", "approved_sha256"])
            if verdict == Decision.Verdict.APPROVED:
                _credential_start(decision)  # stamps what leaves (release_stamp) too
                jobs.enqueue_on_commit("rederive", version.pk)
            else:
                release_stamp(version)
            webhook_events.decision_made(decision)
            publish_on_commit(project.pk, "review.decision", {"version": version.pk, "verdict": verdict})
            decisions.append(decision)
        notify(
            users=_interested(members),
            project=project,
            verb="decision",
            text=f"{label}: {decision_set.get_verdict_display().lower()} ({len(members)})",
            link=link or _link(members[0]),
            actor=actor,
        )
        # One audit row per member (each version changed), then the set's own, after the last row lock.
        for version, decision in zip(members, decisions, strict=True):
            record(
                action=f"review.decision.{verdict}",
                actor=actor,
                project=project,
                target=version,
                details={
                    "sha256": version.sha256,
                    "note": note[:500],
                    "version": version.number,
                    "set": decision_set.pk,
                    "decision": decision.pk,
                },
            )
        record(
            action=f"review.set_decision.{verdict}",
            actor=actor,
            project=project,
            target=decision_set,
            details={"key": decision_set.key, "label": decision_set.label, "note": note[:500], "members": decision_set.members},
        )
        publish_on_commit(project.pk, "review.set_decision", {"key": decision_set.key, "verdict": verdict})
        return decision_set

    # A deadlock with a transaction from outside the lock order is rolled back whole: run it again.
    return atomic_with_retry(decide)


# --- content credentials (C2PA) on approved originals -----------------------------------------

NO_CERTIFICATE = "not signed: no platform certificate configured"


def signing_config() -> credentials.SignerConfig | None:
    """The platform's signer from settings (file paths), or None when none is configured.
    Raises CredentialsError when it is configured but unusable."""
    if not (settings.C2PA_SIGN_CERT and settings.C2PA_SIGN_KEY):
        return None
    return credentials.SignerConfig.from_paths(
        settings.C2PA_SIGN_CERT,
        settings.C2PA_SIGN_KEY,
        algorithm=settings.C2PA_SIGN_ALG,
        timestamp_url=settings.C2PA_TIMESTAMP_URL,
        trust_anchors=settings.C2PA_TRUST_ANCHORS,
    )


def _credential_start(decision: Decision) -> ContentCredential:
    """In the approval's transaction: the credentials row, signed on commit by a worker (or marked
    unsigned at once when the platform has no certificate: approval never waits on one)."""
    configured = bool(settings.C2PA_SIGN_CERT and settings.C2PA_SIGN_KEY)
    credential = ContentCredential.objects.create(
        decision=decision,
        version=decision.version,
        status=ContentCredential.Status.PENDING if configured else ContentCredential.Status.UNSIGNED,
        reason="" if configured else NO_CERTIFICATE,
        source_sha256=decision.sha256,
    )
    if configured:
        transaction.on_commit(lambda: jobs.send_task("review.sign_credentials", (credential.pk,)))
    release_stamp(decision.version)
    return credential


def _portal_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ai-studio-partner-portal")
    except PackageNotFoundError:
        return "0.1.0"


def _media_type(version: AssetVersion) -> str:
    output = getattr(version, "tool_output", None)
    fallback = output.media_type if output is not None else ""
    return credentials.media_type_for(version.original_name or "", fallback)


def credentials_sign(*, credential_id: int) -> ContentCredential:
    """Sign the approved original (worker): a signed copy, or a sidecar manifest for formats that
    cannot carry one; read back and validated before it is recorded. Runs once per approval: the
    row moves from pending with a compare-and-set, so a redelivered task changes nothing."""
    import shutil
    import tempfile
    import uuid
    from pathlib import Path

    from portal.footage import storage

    credential = ContentCredential.objects.select_related("decision__decided_by", "version__asset__project").get(pk=credential_id)
    if credential.status != ContentCredential.Status.PENDING:
        return credential
    version, decision = credential.version, credential.decision
    project = version.asset.project
    workdir = Path(tempfile.mkdtemp(prefix=f"c2pa-{credential.pk}-", dir=settings.FOOTAGE_TEMP_DIR))
    stored: list[str] = []
    try:
        config = signing_config()
        if config is None:
            ContentCredential.objects.filter(pk=credential.pk, status=ContentCredential.Status.PENDING).update(
                status=ContentCredential.Status.UNSIGNED, reason=NO_CERTIFICATE
            )
            release_stamp(version)
            credential.refresh_from_db()
            return credential
        suffix = Path(version.original_name or "").suffix.lower()[:10]
        try:
            local = storage.local_path_or_copy(version.file_key, workdir, f"original{suffix}")
            actual = credentials.sha256_of(local)
        except OSError as exc:
            logger.warning("credentials %s: the stored original of version %s cannot be read: %s", credential.pk, version.pk, exc)
            raise credentials.CredentialsError("The stored original could not be read: nothing was signed.") from exc
        if actual != credential.source_sha256:
            raise credentials.CredentialsError("The stored original is not the file that was approved: nothing was signed.")
        approver = decision.decided_by
        manifest = credentials.build_manifest(
            title=version.original_name or f"{version.asset.name}-v{version.number}",
            media_type=_media_type(version),
            provenance=version.provenance or {},
            approver={"name": getattr(approver, "full_name", "") or "", "email": getattr(approver, "email", "") or ""},
            approved_at=decision.created_at,
            decision_id=decision.pk,
            reviewed_sha256=credential.source_sha256,
            portal_version=_portal_version(),
        )
        result = credentials.sign(local, workdir / "signed", manifest, config)
        token = uuid.uuid4().hex[:8]  # an attempt of its own: a second worker never overwrites the recorded file
        fields = {
            "digital_source_type": credentials.digital_source_type(version.provenance or {}),
            "report": credentials.summary(result.report),
            "signed_at": timezone.now(),
            "reason": "",
        }
        if result.mode == "embedded":
            key = storage.version_key(version, f"signed-{decision.pk}-{token}{suffix}")
            stored.append(storage.save_file(key, result.path))
            fields.update(status=ContentCredential.Status.SIGNED, signed_key=key, signed_sha256=result.sha256)
        else:
            key = storage.version_key(version, f"credentials-{decision.pk}-{token}.c2pa")
            stored.append(storage.save_file(key, result.sidecar_path))
            fields.update(
                status=ContentCredential.Status.SIDECAR,
                signed_sha256=result.sha256,
                sidecar_key=key,
                sidecar_sha256=result.sidecar_sha256,
            )
        with transaction.atomic():
            done = ContentCredential.objects.filter(pk=credential.pk, status=ContentCredential.Status.PENDING).update(**fields)
            if not done:
                transaction.on_commit(lambda: storage.delete_quietly(*stored))
                credential.refresh_from_db()
                return credential
            stored = []
            record(
                action="review.credentials.signed",
                project=project,
                target=version,
                details={
                    "decision": decision.pk,
                    "mode": result.mode,
                    "reviewed_sha256": credential.source_sha256,
                    "signed_sha256": fields["signed_sha256"],
                    "sidecar_sha256": fields.get("sidecar_sha256", ""),
                    "digital_source_type": fields["digital_source_type"],
                    "validation": result.report.get("state"),
                },
            )
            publish_on_commit(project.pk, "review.credentials", {"version": version.pk, "status": fields["status"]})
    except credentials.CredentialsError as exc:
        storage.delete_quietly(*stored)
        with transaction.atomic():
            failed = ContentCredential.objects.filter(pk=credential.pk, status=ContentCredential.Status.PENDING).update(
                status=ContentCredential.Status.FAILED, reason=str(exc)[:500]
            )
            if failed:
                record(
                    action="review.credentials.failed",
                    project=project,
                    target=version,
                    details={"decision": decision.pk, "reason": str(exc)[:500]},
                )
                publish_on_commit(project.pk, "review.credentials", {"version": version.pk, "status": "failed"})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    release_stamp(version)
    credential.refresh_from_db()
    return credential


def credentials_recover(*, older_than_minutes: int = 10) -> int:
    """Periodic: an approval whose signing message was lost (broker restart, dead worker) is sent
    again; signing is a compare-and-set on the row, so a second delivery changes nothing."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        ContentCredential.objects.filter(status=ContentCredential.Status.PENDING, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:200]
    )
    for credential_id in ids:
        jobs.send_task("review.sign_credentials", (credential_id,))
    return len(ids)


def current_credential(version: AssetVersion) -> ContentCredential | None:
    """The credentials of the approval in force for these exact bytes (None: not approved, or
    approved before credentials existed)."""
    if version.asset.kind != Asset.Kind.GENERATED or not version.sha256:
        return None
    latest = Decision.objects.filter(version=version, sha256=version.sha256).order_by("-created_at", "-pk").first()
    if latest is None or latest.verdict != Decision.Verdict.APPROVED:
        return None
    return ContentCredential.objects.filter(decision=latest).first()


def released_original(version: AssetVersion) -> tuple[str, str] | None:
    """(storage key, SHA-256) of exactly what a download hands out, or None while nothing may leave:
    the signed copy once the approved original is signed; the original itself for footage, for a
    sidecar-signed format (its manifest is downloaded beside it) and when no certificate is configured."""
    if not is_released(version):
        return None
    credential = current_credential(version)
    if credential is None or credential.status in (ContentCredential.Status.UNSIGNED, ContentCredential.Status.SIDECAR):
        return version.file_key, version.sha256
    if credential.status == ContentCredential.Status.SIGNED and credential.signed_key:
        return credential.signed_key, credential.signed_sha256
    return None  # pending or failed: the approved original never leaves without its credentials


def release_stamp(version: AssetVersion) -> None:
    """Write on the version row what a download hands out now (footage reads only the row): the
    signed copy, the original, or nothing while the credentials are pending or failed."""
    version = AssetVersion.objects.select_related("asset").get(pk=version.pk)
    released = released_original(version)
    credential = current_credential(version)
    hold, note = "", ""
    if released is None and version.is_released and credential is not None:
        if credential.status == ContentCredential.Status.FAILED:
            hold, note = "signing_failed", (credential.reason or "")[:500]
        else:
            hold = "signing"
    AssetVersion.objects.filter(pk=version.pk).update(
        released_key=released[0] if released else "",
        released_sha256=released[1] if released else "",
        release_hold=hold,
        release_note=note,
        release_sidecar_key=credential.sidecar_key if released and credential is not None else "",
    )


def credentials_view(version: AssetVersion) -> dict | None:
    """What the review page and the API show of the credentials in force (None: none apply)."""
    credential = current_credential(version)
    if credential is None:
        return None
    return {
        "status": credential.status,
        "status_label": str(credential.get_status_display()),
        "reason": credential.reason,
        "reviewed_sha256": credential.source_sha256,
        "signed_sha256": credential.signed_sha256,
        "sidecar_sha256": credential.sidecar_sha256,
        "has_sidecar": bool(credential.sidecar_key),
        "digital_source_type": credential.digital_source_type,
        "signed_at": credential.signed_at.isoformat() if credential.signed_at else None,
        "manifest": credential.report or None,
        "approved_at": _parse_time((credential.report or {}).get("approved_at")),
    }


def _parse_time(value):
    from datetime import datetime

    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None


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
