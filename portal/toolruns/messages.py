"""The tools' own words (warnings, summary lines, user-error messages) in the reader's language.

The tools in `studio_tools` write each line twice: the English text (the CLI prints it, the API keeps it) and a
machine form, `{"code", "params", "text"}` (`studio_tools.core.messages`). This table words each code for the
portal through gettext; `render` fills in its params (numbers in the reader's format, with the precision the
tool's own template gives them; a param that is itself a message is rendered the same way). A code the table
does not know (a tool added later, an old report) shows the tool's English text, never nothing.
`tests/toolruns/test_tool_messages.py` fails when a tool can emit a code this table has no words for, or when
these words drift from the tool's English.
"""

from __future__ import annotations

import re
import string
from typing import Any

from django.utils.formats import get_format
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_noop as _

from portal.toolruns import registry
from studio_tools.core.messages import TEMPLATES

# code -> the English msgid (the tool's template with %(name)s fields); French in locale/fr/LC_MESSAGES/django.po.
WORDS: dict[str, str] = {
    "crowd.contact_shadows": _(
        "the plate's people cast contact shadows and the copies have none: see compositing.contact_shadows"
    ),
    "crowd.perspective.too_few": _("too few people to measure perspective: copies keep their size"),
    "crowd.perspective.same_depth": _("the people stand at too similar depths to measure perspective"),
    "crowd.perspective.no_growth": _("person height does not grow with foot position: no perspective used"),
    "crowd.shortfall": _("placed %(on_screen)s of the %(asked)s people asked for per frame: %(cause)s"),
    "crowd.cause.few_people": _("only %(n)s whole people in the plate to copy; add tile plates or lower the density"),
    "crowd.cause.one_person": _("only %(n)s whole person in the plate to copy; add tile plates or lower the density"),
    "crowd.cause.perspective": _(
        "most of the region would need the plate's people scaled beyond what perspective allows (%(low)sx to "
        "%(high)sx); add tile plates with people nearer the camera, move the region or lower the density"
    ),
    "crowd.cause.ends_only": _(
        "copies fill the start and end of the shot but hardly its middle: a copy comes on and goes off only "
        "out of view (at the frame edge, or before the shot starts or after it ends), and the plate's whole "
        "people are followed only for short stretches, not across the frame (the longest copy used lasts "
        "%(longest)s of the shot's %(frames)s frames); add tile plates with people who cross the whole frame,"
        " or lower the density"
    ),
    "crowd.cause.no_room": _(
        "no more room in the region without overlaps at this spacing; enlarge the region, lower min_spacing or lower the density"
    ),
    "crowd.summary.asked": _(
        "Asked: %(asked)s added people per frame; on screen: %(on_screen)s on average, from %(copies)s copies."
    ),
    "crowd.summary.people": _("People in the plate: %(followed)s followed, %(whole)s whole enough to copy."),
    "crowd.summary.rejected": _("Rejected: %(reasons)s."),
    "crowd.summary.shortfall": "%(shortfall)s.",  # words of its params only
    "crowd.rejected": "%(n)s %(why)s",  # words of its params only
    "crowd.reject.two_people": _("two people in one cut-out"),
    "crowd.reject.more_than_one": _("more than one person"),
    "crowd.reject.shorter": _("shorter than a whole person at that depth"),
    "crowd.reject.taller": _("taller than a whole person at that depth"),
    "crowd.reject.no_pose": _("incomplete person: the pose model sees no person"),
    "crowd.reject.no_head": _("incomplete person: no head"),
    "crowd.reject.no_feet": _("incomplete person: no feet"),
    "crowd.reject.no_head_feet": _("incomplete person: no head and feet"),
    "crowd.reject.cut_feet": _("incomplete person: cut at the feet"),
    "crowd.reject.cut_head": _("incomplete person: head missing from the cut-out"),
    "crowd.reject.incomplete_several": _("incomplete person: more than one person"),
    "crowd.reject.incomplete": _("incomplete person: not a whole person"),
    "crowd.reject.other": "%(why)s",  # words of its params only
    "crowd.perspective.other": "%(why)s",  # words of its params only
    "crowd.no_people": _(
        "no people were found in %(name)s: nothing moved against the background in most frames. The crowd "
        "tool copies the plate's own people, so it needs a locked-off plate with people who move."
    ),
    "crowd.none_followed": _(
        "people were found in %(name)s but none could be followed cleanly for %(seconds)s s (always at the "
        "frame edge, merged with others or too short)"
    ),
    "continuity.no_picture": _("%(name)s has no picture (it is %(kind)s); continuity needs video or stills"),
    "continuity.check.costume": _("costume"),
    "continuity.check.prop": _("props and set"),
    "continuity.check.lighting": _("light"),
    "continuity.not_compared": _("not compared: %(reason)s"),
    "continuity.reason.other_place": _("the two frames do not show the same part of the set (%(why)s)"),
    "continuity.reason.other_place_other_scene": _(
        "the two frames do not show the same part of the set (%(why)s), and their colours say another scene (%(alike)s alike)"
    ),
    "continuity.registration.texture": _("too little texture to match"),
    "continuity.registration.features": _("the frames share too few features: a different angle or place"),
    "continuity.registration.geometry": _("no consistent geometry between the frames"),
    "continuity.registration.implausible": _("the only geometry found is implausible (extreme warp)"),
    "continuity.registration.overlap": _("the frames overlap too little"),
    "continuity.registration.same_place": _("same place"),
    "continuity.registration.other": "%(why)s",  # words of its params only
    "continuity.reason.nobody_other_scene": _("nobody is seen on either side, and the two shots are not of one scene"),
    "continuity.reason.too_small": _("the %(n)s person(s) seen on both sides are too small to judge a costume"),
    "continuity.reason.nobody_recognised": _(
        "no character is recognised on both sides (%(before)s person(s) before the cut, %(after)s after)"
    ),
    "continuity.reason.light_clipped": _("too little of the set is neither clipped nor black"),
    "continuity.reason.light_shared_small": _("the part of the set both angles see is too small once people are left out"),
    "continuity.reason.light_frames_clipped": _("too little of either frame is neither clipped nor black"),
    "continuity.type.costume": _("costume"),
    "continuity.type.prop": _("prop"),
    "continuity.type.lighting": _("lighting"),
    "continuity.count": "%(n)s %(check)s",  # words of its params only
    "continuity.summary": _(
        "%(shots)s shots, %(cuts)s cut(s): %(checked)s checked, %(partly)s partly checked, %(not_comparable)s"
        " not comparable; %(measured)s measured finding(s) (%(by_type)s)."
    ),
    "continuity.summary_opinion": _(
        "%(shots)s shots, %(cuts)s cut(s): %(checked)s checked, %(partly)s partly checked, %(not_comparable)s"
        " not comparable; %(measured)s measured finding(s) (%(by_type)s). Second opinion: agrees with "
        "%(agree)s, disagrees with %(disagree)s finding(s)."
    ),
    "continuity.cut_not_compared": _("cut %(cut)s (%(outgoing)s → %(incoming)s), %(check)s: %(words)s"),
    "continuity.opinion_not_run": _("second opinion %(status)s"),
    "continuity.opinion_failed": _("second opinion: %(n)s request(s) to the model failed; those findings have no opinion"),
    "recap.shortfall": _("%(duration)s s of %(target)s s: %(reasons)s."),
    "recap.reason.only_one": _("only %(n)s usable moment in the episodes, it is in the cut"),
    "recap.reason.only_n": _("only %(n)s usable moments in the episodes, all in the cut"),
    "recap.reason.overrun_one": _(
        "the %(n)s moment left would each overrun the target (the shortest is %(shortest)s s, %(remain)s s remain)"
    ),
    "recap.reason.overrun_n": _(
        "the %(n)s moments left would each overrun the target (the shortest is %(shortest)s s, %(remain)s s remain)"
    ),
    "recap.reason.spoiler": _("the spoiler boundary leaves %(usable)s s of the episodes' %(total)s s"),
    "recap.reason.episodes_last": _("the episodes last %(total)s s in all"),
    "recap.reason.clip_lasts": _("the clip lasts %(total)s s"),
    "recap.reason.no_dialogue": _("moments with dialogue are off (dialogue_clips=false)"),
    "recap.shorter": _("shorter than asked: %(shortfall)s"),
    "recap.no_subtitles": _("No narration: no episode has subtitles to ground it in."),
    "recap.narration_off": "%(label)s",  # words of its params only
    "recap.local_narration": _("local narration used (quoted subtitles): %(why)s"),
    "recap.ai_unavailable": _("external_ai was on, but %(why)s"),
    "recap.claude_unusable": _("Claude (%(model)s on %(provider)s) could not be used: %(why)s"),
    "recap.label.extractive": _(
        "Extractive narration: lines quoted from the episodes' subtitles (speaker labels and stage directions left out); "
        "no AI model wrote it."
    ),
    "continuity.output.findings": _("Continuity findings"),
    "continuity.output.report": _("Printable continuity report"),
    "recap.output.timeline": _("Edit (OpenTimelineIO)"),
    "recap.output.edl": _("Edit (CMX 3600 EDL)"),
    "recap.output.moments": _("Moment thumbnails (sprite sheet)"),
    "crowd.output.comp": _("Comp: the plate with the added crowd (ProRes 422 HQ)"),
    "crowd.output.comp_proxy": _("Comp proxy for review (H.264)"),
    "crowd.output.layer_png": _("Added crowd alone: RGBA PNG frames, straight alpha"),
    "crowd.output.layer": _("Added crowd alone with straight alpha (ProRes 4444)"),
    "crowd.output.matte": _("Matte of the added crowd, white = added (ProRes 422 HQ)"),
    "recap.label.off": _("No narration (narration=false)."),
    "recap.label.edit_empty": _("No narration: the reviewer's edit has no sentence."),
    "recap.no_temp_vo": _("no temp VO (espeak-ng is not installed or has no voice for the language)"),
    "contactsheet.still": _("%(name)s is a still image, not a video"),
    "contactsheet.no_video": _("%(name)s has no video stream (it is %(kind)s)"),
    "contactsheet.no_rate": _("%(name)s has no frames with a known rate"),
    "recap.subtitles_first": _("%(name)s: subtitles must follow the episode they belong to"),
    "recap.music_silent": _("%(name)s was given as music but has no sound"),
    "recap.not_episode": _("%(name)s is a %(kind)s, not an episode video"),
    "recap.no_episode": _("the recap needs at least one episode video"),
    "contactsheet.variable_rate": _(
        "%(name)s has a variable frame rate: frames are numbered and timecodes written at its nominal rate of %(fps)s fps"
    ),
    "contactsheet.frames_missing": _("%(missing)s of %(total)s frames of %(name)s could not be decoded: their cells are empty"),
}
# Codes whose words are only their params (a free text the tool passes on): nothing to translate.
PASSTHROUGH = frozenset(code for code, words in WORDS.items() if not re.sub(r"%\(\w+\)s", "", words).strip(" .:;,"))


def _templates() -> dict[str, str]:
    """Every code the shipped tools define (each defines its own when imported: load them all first)."""
    registry.all_tools()
    return TEMPLATES


def _specs(code: str) -> dict[str, str]:
    """The format spec the tool's English template gives each field ("{on_screen:.1f}" -> ".1f")."""
    template = _templates().get(code, "")
    try:
        return {name: spec for _text, name, spec, _conv in string.Formatter().parse(template) if name}
    except ValueError:
        return {}


def _number(value: Any, spec: str) -> str:
    text = format(value, spec) if spec else str(value)
    return text.replace(".", get_format("DECIMAL_SEPARATOR"))


def _param(value: Any, spec: str) -> str:
    if isinstance(value, dict) and "code" in value:
        return render(value)
    if isinstance(value, dict) and "items" in value:
        sep = str(value.get("sep", ", "))
        if sep == "; ":  # French spaces its semicolons
            sep = pgettext("between the reasons of a tool's message", "; ")
        return sep.join(_param(v, "") for v in value["items"])
    if isinstance(value, list):
        return ", ".join(_param(v, "") for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return _number(value, spec)
    return str(value)


def render(said: Any) -> str:
    """One message in the active language; the tool's English text for an unknown code or a malformed one."""
    if not isinstance(said, dict):
        return str(said)
    english = str(said.get("text", ""))
    code = said.get("code")
    words = WORDS.get(code) if isinstance(code, str) else None
    params = said.get("params")
    if words is None or not isinstance(params, dict):
        return english
    specs = _specs(code)
    try:
        filled = {name: _param(value, specs.get(name, "")) for name, value in params.items()}
        return (words if code in PASSTHROUGH else gettext(words)) % filled
    except (KeyError, TypeError, ValueError):
        return english


def render_known(text: Any) -> Any:
    """A fixed sentence of a tool (a template without params, e.g. a narration label) in the active language;
    any other text as it is."""
    if not isinstance(text, str):
        return text
    code = next((c for c, template in _templates().items() if template == text and "{" not in template), None)
    return render({"code": code, "params": {}, "text": text}) if code else text


def render_lines(english: list[str], said: Any) -> list[str]:
    """A report's lines for the page: each rendered from its machine form when the report has one per line
    (`report["messages"][...]`), else the tool's English as it is. First letter capitalised."""
    if isinstance(said, list) and len(said) == len(english):
        return [capfirst(render(item)) for item in said]
    return [capfirst(line) for line in english]


__all__ = ["PASSTHROUGH", "WORDS", "render", "render_known", "render_lines"]
