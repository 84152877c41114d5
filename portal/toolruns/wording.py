"""The tools in words people use: titles, parameter labels, help, units and limits, in English and
French, and validation messages in plain words.

The tools' schemas keep their machine names (`target_seconds`, `min_spacing`): the API, the command
line and the saved runs use those. This module is what the start form and the run page say instead.
A parameter it does not know (a tool added later) falls back to the schema's own title and help, so
a new tool still gets a working form; `tests/toolruns/test_wording.py` fails when a shipped tool has a
parameter without words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from studio_tools.core import ParamProblem, ToolSpec


@dataclass(frozen=True)
class ParamWords:
    label: Promise | str
    help: Promise | str = ""
    unit: Promise | str = ""  # shown after the box: "s", "px", "× the plate's people"
    choices: Mapping[str, Promise | str] = field(default_factory=dict)  # machine value -> words
    hidden: bool = False  # set elsewhere (the recap editor writes `edit`), not on the start form
    parts: tuple[Promise | str, ...] = ()  # a pair of numbers: the words for each box


@dataclass(frozen=True)
class ToolWords:
    title: Promise | str
    description: Promise | str
    params: Mapping[str, ParamWords] = field(default_factory=dict)
    inputs: Mapping[str, tuple[Promise | str, Promise | str]] = field(default_factory=dict)  # slot -> (label, help)


L = gettext_lazy
SECONDS = pgettext_lazy("unit", "seconds")
PIXELS = pgettext_lazy("unit", "pixels")
FRAMES = pgettext_lazy("unit", "frames")

_EXTERNAL_AI_HELP = L(
    "Sends material to an external AI provider. Only where your studio allows external AI and a provider "
    "is configured; otherwise the run stays on the portal's own machines."
)

_PROVIDER_HELP = L(
    "Where the requests go: one of the providers your studio allows (see the studio settings for what each "
    "promises). Empty: the studio's default for this tool."
)

TOOLS: dict[str, ToolWords] = {
    "crowd": ToolWords(
        title=L("Crowd extension"),
        description=L(
            "Adds people to a locked-off plate by copying whole people who walk through it, in perspective, "
            "with their own timing. Gives a comp, a layer with alpha, a matte and a report."
        ),
        inputs={
            "plate": (L("Plate"), L("The locked-off shot to add people to.")),
            "tiles": (L("Tile plates"), L("Optional: more takes of the same camera with the extras moved.")),
            "clean_plate": (L("Clean plate"), L("Optional: the same shot with nobody in it.")),
        },
        params={
            "region": ParamWords(
                L("Where people may be added"),
                L("Draw the area on a frame of the plate. No area drawn: the whole frame."),
            ),
            "density": ParamWords(
                L("Crowd size"),
                L("How many people the shot should have, as a multiple of the people already in it: 2 doubles the crowd."),
                pgettext_lazy("unit", "× the plate's people"),
            ),
            "min_spacing": ParamWords(
                L("Space around each person"),
                L("The gap kept around everyone, filmed or added, as a fraction of that person's height."),
                pgettext_lazy("unit", "× body height"),
            ),
            "perspective": ParamWords(
                L("Scaling with distance"),
                L("How added people are sized for where they stand."),
                choices={
                    "auto": L("Automatic: learnt from the people in the plate"),
                    "horizon": L("From the horizon line given below"),
                    "none": L("None: every copy keeps its size"),
                },
            ),
            "horizon": ParamWords(
                L("Horizon height"),
                L("Only for scaling from the horizon line: 0 is the top of the frame, 1 the bottom."),
            ),
            "time_offset": ParamWords(
                L("Time offset of looped copies"),
                L(
                    "A person standing or pacing is copied with a delay picked in this range, so copies do not move "
                    "in step. People walking through play their take once."
                ),
                SECONDS,
                parts=(pgettext_lazy("range", "from"), pgettext_lazy("range", "to")),
            ),
            "completeness": ParamWords(
                L("Whole people only"),
                L("Which people may be copied."),
                choices={
                    "pose": L("Only people seen whole, head to feet (recommended)"),
                    "off": L("Anything that moves (for plates whose subjects are not people)"),
                },
            ),
            "mirror": ParamWords(L("Allow mirrored copies"), L("Copies may be flipped left to right.")),
            "colour_variation": ParamWords(
                L("Colour variation"),
                L(
                    "How far copies' colours may drift from the person they come from: 0 none, 1 the most. "
                    "Off on black-and-white plates."
                ),
            ),
            "grain": ParamWords(L("Match the plate's grain"), L("Adds grain to copies so their noise matches the plate.")),
            "subtractor": ParamWords(
                L("Motion finder"),
                L("How moving people are told from the background. Both work; try the other if people are missed."),
                choices={"mog2": L("Mixture of Gaussians (MOG2)"), "knn": L("Nearest neighbours (KNN)")},
            ),
            "person_check": ParamWords(
                L("Second person check"),
                L("A second, older person detector as a check on what was found."),
                choices={
                    "report": L("Report what it says"),
                    "require": L("Copy only people it confirms"),
                    "off": L("Off"),
                },
            ),
            "output_format": ParamWords(
                L("Layer format"),
                L("The comp is always ProRes 422 HQ with a browser proxy; the matte always a ProRes video."),
                choices={
                    "prores": L("ProRes 4444 with alpha (layer.mov)"),
                    "png": L("PNG frames with alpha (layer.zip)"),
                },
            ),
            "seed": ParamWords(
                L("Variation number"),
                L("The same number, plate and settings give the same result; another number, another arrangement."),
            ),
        },
    ),
    "continuity": ToolWords(
        title=L("Continuity check"),
        description=L(
            "Flags costume, prop and lighting changes across the cuts of a scene, per character, with frames, "
            "boxes and how sure it is."
        ),
        inputs={"media": (L("Shots"), L("The shots of one scene in cut order; reference stills of characters as references."))},
        params={
            "sensitivity": ParamWords(
                L("Sensitivity"),
                L("0.5 is the usual; higher finds smaller changes (and more false alarms), lower only big ones."),
            ),
            "checks": ParamWords(
                L("What to check"),
                L("Pick at least one."),
                choices={"costume": L("Costume"), "prop": L("Props"), "lighting": L("Lighting")},
            ),
            "edge_frames": ParamWords(
                L("Frames read at each cut"), L("The nearest clean frame on each side of a cut is compared."), FRAMES
            ),
            "keyframes": ParamWords(L("Frames read inside each shot"), L("Used to compare with reference stills."), FRAMES),
            "analysis_width": ParamWords(
                L("Analysis width"), L("Frames are looked at this wide (never enlarged). Wider is slower."), PIXELS
            ),
            "external_ai": ParamWords(L("Ask an external AI for a second opinion"), _EXTERNAL_AI_HELP),
            "ai_provider": ParamWords(L("Model provider"), _PROVIDER_HELP),
            "ai_model": ParamWords(L("Model for the second opinion"), L("Leave empty for the portal's default.")),
            "ai_max_pairs": ParamWords(
                L("Most findings sent for a second opinion"), L("Only measured findings are sent, never whole shots.")
            ),
        },
    ),
    "contactsheet": ToolWords(
        title=L("Contact sheet"),
        description=L("A grid of evenly spaced frames from one clip, each with its timecode."),
        inputs={"clip": (L("Clip"), L("The video to sample."))},
        params={
            "columns": ParamWords(L("Columns"), L("Thumbnails per row.")),
            "rows": ParamWords(L("Rows"), L("Rows of thumbnails.")),
            "thumb_width": ParamWords(L("Thumbnail width"), L("Width of each thumbnail."), PIXELS),
            "timecodes": ParamWords(L("Show timecodes"), L("Print each frame's timecode under it.")),
        },
    ),
    "recap": ToolWords(
        title=L("Recap"),
        description=L(
            "A short recap of episodes in story order, with narration drawn from the subtitles (every sentence "
            "cites its lines), as a video, subtitles and edit lists an editor can open."
        ),
        inputs={
            "media": (
                L("Episodes"),
                L("Episodes in story order, each followed by its subtitle file (.srt or .vtt); optionally one music bed."),
            )
        },
        params={
            "target_seconds": ParamWords(L("Recap length"), L("How long the recap should be."), SECONDS),
            "spoiler_episode": ParamWords(
                L("Spoiler limit: last episode"),
                L("Use nothing after this episode (1 is the first one chosen). Empty: no limit."),
            ),
            "spoiler_timecode": ParamWords(
                L("Spoiler limit: time in that episode"),
                L("Use nothing after this time in that episode, as 00:12:30 or in seconds."),
            ),
            "narration": ParamWords(L("Add a narration"), L("A narration as a subtitle track, an SRT file and a temp voice.")),
            "external_ai": ParamWords(
                L("Let an external AI write the narration"),
                L(
                    "Off: the narration quotes the subtitles and nothing leaves the portal. On: the subtitle text is sent to "
                    "an external AI provider, and every sentence it writes is checked against the lines it cites."
                ),
            ),
            "ai_provider": ParamWords(L("Model provider"), _PROVIDER_HELP),
            "model": ParamWords(L("Model for the narration"), L("Leave empty for the portal's default.")),
            "narration_attribution": ParamWords(
                L("Name who speaks"), L("A quoted line names its speaker (“Marta: …”) when the subtitles do.")
            ),
            "language": ParamWords(L("Narration language"), L("As a language code: en, fr, de…")),
            "min_clip_seconds": ParamWords(L("Shortest moment"), L("No moment of the recap is shorter than this."), SECONDS),
            "max_clip_seconds": ParamWords(L("Longest moment"), L("No moment of the recap is longer than this."), SECONDS),
            "dialogue_clips": ParamWords(L("Moments with dialogue"), L("Off: only moments without lines.")),
            "crossfade_seconds": ParamWords(
                L("Crossfade between moments"),
                L("Picture and sound; 0 for hard cuts. At most half the shortest moment."),
                SECONDS,
            ),
            "loudness_standard": ParamWords(
                L("Loudness standard"),
                L("Within 1 LU, true peak under -1 dBTP."),
                choices={"ebu_r128": L("EBU R128 (-23 LUFS, Europe)"), "atsc_a85": L("ATSC A/85 (-24 LKFS, North America)")},
            ),
            "temp_vo": ParamWords(L("Temp voice-over"), L("A synthetic voice reads the narration, as a guide for the edit.")),
            "reuse_analysis": ParamWords(L("Reuse earlier analysis"), L("An episode analysed before is not analysed again.")),
            "edit": ParamWords(L("Edited recap"), L("Written by the recap editor on a finished run's page."), hidden=True),
        },
    ),
}


# What an input slot takes, in words (the machine values are the tool library's InputKind).
INPUT_KINDS: dict[str, Promise | str] = {
    "footage": pgettext_lazy("input kind", "footage"),
    "plate": pgettext_lazy("input kind", "plate"),
    "still": pgettext_lazy("input kind", "still"),
    "reference": pgettext_lazy("input kind", "reference still"),
    "subtitles": pgettext_lazy("input kind", "subtitles"),
    "music": pgettext_lazy("input kind", "music"),
}


def kind_word(kind: str) -> str:
    return str(INPUT_KINDS.get(kind, kind))


def tool_words(spec_or_name: ToolSpec | str) -> ToolWords | None:
    name = spec_or_name if isinstance(spec_or_name, str) else spec_or_name.name
    return TOOLS.get(name)


def tool_title(spec_or_name: ToolSpec | str) -> str:
    words = tool_words(spec_or_name)
    if words is not None:
        return str(words.title)
    return spec_or_name if isinstance(spec_or_name, str) else spec_or_name.title


def tool_description(spec_or_name: ToolSpec | str) -> str:
    words = tool_words(spec_or_name)
    if words is not None:
        return str(words.description)
    return "" if isinstance(spec_or_name, str) else spec_or_name.description


def param_words(spec: ToolSpec | str, name: str) -> ParamWords | None:
    words = tool_words(spec)
    return words.params.get(name) if words is not None else None


def input_words(spec: ToolSpec, slot: str) -> tuple[str, str] | None:
    words = tool_words(spec)
    if words is None or slot not in words.inputs:
        return None
    label, help_text = words.inputs[slot]
    return str(label), str(help_text)


def param_label(spec: ToolSpec | str, name: str) -> str:
    words = param_words(spec, name)
    if words is not None:
        return str(words.label)
    if isinstance(spec, str):
        return name
    prop = (spec.params_schema().get("properties") or {}).get(name, {})
    return prop.get("title") or name.replace("_", " ").capitalize()


def param_value(tool: ToolSpec | str, name: str, value: Any) -> str:
    """A saved parameter value as the run page shows it: choices and yes/no in words, numbers with
    their unit, lists joined; anything else as it was given."""
    words = param_words(tool, name)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list | tuple):
        if words is not None and words.choices and all(str(v) in words.choices for v in value):
            return ", ".join(str(words.choices[str(v)]) for v in value)
        return "–".join(_number(v) for v in value) + (f" {words.unit}" if words is not None and words.unit else "")
    if words is not None and str(value) in words.choices:
        return str(words.choices[str(value)])
    if isinstance(value, int | float):
        return _with_unit(value, str(words.unit) if words is not None else "")
    return str(value)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _with_unit(value: Any, unit: str) -> str:
    return f"{_number(value)} {unit}" if unit else _number(value)


def plain_problem(spec: ToolSpec, problem: ParamProblem) -> str:
    """One rejected parameter in plain words: what is wrong and what to give instead.

    Messages the tools write themselves for people (a region that crosses itself, spoiler time without
    an episode) are kept as they are; pydantic's own wording ("Input should be greater than or equal
    to 30") never reaches a person."""
    top, _dot, rest = problem.field.partition(".")
    words = param_words(spec, top)
    label = param_label(spec, top) if top in spec.params_model.model_fields else problem.field
    if rest:  # a part of a list or pair: "region.1.1" -> "Where people may be added, item [1][1]"
        label = _("%(label)s, item %(path)s") % {
            "label": label,
            "path": "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in rest.split(".")),
        }
    unit = str(words.unit) if words is not None else ""
    ctx = dict(problem.context or {})
    given = ctx.get("input")
    given_text = "" if given is None or isinstance(given, dict | list) else _number(given)
    kind = problem.kind

    def you_gave(message: str) -> str:
        if given_text and len(given_text) <= 40:
            return _("%(message)s You entered %(given)s.") % {"message": message, "given": given_text}
        return message

    if kind == "extra_forbidden":
        return _("“%(name)s” is not a setting of %(tool)s (its settings: %(known)s).") % {
            "name": problem.field,
            "tool": tool_title(spec),
            "known": ", ".join(spec.params_model.model_fields),
        }
    if kind == "missing":
        return _("%(label)s is needed.") % {"label": label}
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        limit = _with_unit(ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt")))), unit)
        template = {
            "greater_than_equal": _("%(label)s must be at least %(limit)s."),
            "greater_than": _("%(label)s must be more than %(limit)s."),
            "less_than_equal": _("%(label)s can be at most %(limit)s."),
            "less_than": _("%(label)s must be less than %(limit)s."),
        }[kind]
        return you_gave(template % {"label": label, "limit": limit})
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return you_gave(_("%(label)s must be a whole number.") % {"label": label})
    if kind in ("float_parsing", "float_type", "finite_number"):
        return you_gave(_("%(label)s must be a number.") % {"label": label})
    if kind in ("bool_parsing", "bool_type"):
        return _("%(label)s is on or off (yes or no).") % {"label": label}
    if kind in ("literal_error", "enum"):
        choices = words.choices if words is not None else {}
        expected = ctx.get("expected", "")
        names = [str(v) for v in choices.values()] or [expected]
        return _("%(label)s: choose one of %(choices)s.") % {"label": label, "choices": "; ".join(names)}
    if kind == "string_too_long":
        count = ctx.get("max_length", 0)
        return ngettext(
            "%(label)s can be at most %(count)d character long.",
            "%(label)s can be at most %(count)d characters long.",
            count,
        ) % {"label": label, "count": count}
    if kind == "string_pattern_mismatch":
        return you_gave(_("%(label)s is not in the expected form.") % {"label": label})
    if kind in ("too_short", "too_long"):
        count = ctx.get("min_length" if kind == "too_short" else "max_length", 0)
        if kind == "too_short":
            return ngettext("%(label)s needs at least %(count)d item.", "%(label)s needs at least %(count)d items.", count) % {
                "label": label,
                "count": count,
            }
        return ngettext("%(label)s can have at most %(count)d item.", "%(label)s can have at most %(count)d items.", count) % {
            "label": label,
            "count": count,
        }
    if kind in ("list_type", "tuple_type", "dict_type", "model_type", "json_invalid"):
        return _("%(label)s is not in the expected form.") % {"label": label}
    # The tool's own message (custom errors and value errors), written for people already.
    message = problem.message
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if isinstance(given, dict | list):  # a check across parameters: the whole set is no help to read
        message = re.sub(r" \(got .*\)$", "", message, flags=re.S)
    return message
