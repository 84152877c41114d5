"""The tools' own words in the reader's language (issue 17: a French session sees no English on the run page).

The tools write each warning, summary line and user-error message twice: the English text and a machine
form {code, params, text} (`studio_tools.core.messages`). The portal words each code through gettext
(`portal.toolruns.messages`), numbers in the reader's format; the API keeps the English and adds the codes."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from django.utils import translation

import studio_tools
from portal.toolruns.messages import PASSTHROUGH, WORDS, render, render_lines
from portal.toolruns.models import ToolRun
from portal.toolruns.registry import all_tools
from studio_tools.core.messages import TEMPLATES, joined, message
from tests.toolruns.test_run_messages import (
    _api,
    _error_block,
    _page,
    _run,
    _version,
    _warnings_block,
    crowd_shortfall_run,
)

pytestmark = pytest.mark.django_db(transaction=True)

_FIELD = re.compile(r"%\((\w+)\)s")
SAME_IN_FRENCH = {"costume"}  # words French spells the same


def _words_shown(page: str) -> str:
    """The page less its collapsed JSON report (the tool's data, in the tool's words, for engineers)."""
    return re.sub(r'<pre class="run-report">.*?</pre>', " ", page, flags=re.S)


def _codes() -> dict[str, str]:
    all_tools()  # every shipped tool loaded: each defines its codes when imported
    return dict(TEMPLATES)


def _sample_params(template: str) -> dict:
    """Params for a template's fields: a decimal where it formats one, else a whole number or a file name."""
    params = {}
    for _text, name, spec, _conv in string.Formatter().parse(template):
        if not name:
            continue
        if spec and spec[-1] in "fg":
            params[name] = 2.5
        elif name in {"name", "outgoing", "incoming", "why", "label", "status", "model", "provider", "kind"}:
            params[name] = f"{name}-x.mp4"
        else:
            params[name] = 3
    return params


# --- the table against the tools ---------------------------------------------------------------------


def test_the_shipped_tools_emit_codes():
    codes = _codes()
    for prefix in ("crowd.", "continuity.", "recap.", "contactsheet."):
        assert any(code.startswith(prefix) for code in codes), prefix


def test_every_code_a_tool_can_emit_has_words_in_english_and_french():
    for code, template in _codes().items():
        english = WORDS.get(code)
        assert english is not None, f"{code}: no words in portal/toolruns/messages.py"
        # the portal's English is the tool's, field for field (the same sentence the API and the CLI give)
        assert english == re.sub(r"\{(\w+)(:[^}]*)?\}", r"%(\1)s", template), code
        with translation.override("fr"):
            french = translation.gettext(english)
        assert set(_FIELD.findall(french)) == set(_FIELD.findall(english)), (code, french)
        if code in PASSTHROUGH:
            assert not re.sub(r"%\(\w+\)s", "", english).strip(" .:;,"), code  # only its params' words
        elif english not in SAME_IN_FRENCH:
            assert french != english, f"{code}: no French for {english!r}"


def test_every_code_written_in_the_tools_source_is_defined():
    """A `message("...")` call with a literal code the tools never `define` would fail only on the day it runs."""
    codes = _codes()
    root = Path(studio_tools.__file__).parent
    used = set()
    for path in root.rglob("*.py"):
        used |= set(re.findall(r"""message\(\s*["']([\w.]+)["']""", path.read_text()))
    assert used, "the walk found no message call"
    assert used - set(codes) == set()
    assert WORDS.keys() - codes.keys() == set(), "words for codes no tool emits"


def test_the_portals_english_is_the_tools_text_for_every_code():
    for code, template in _codes().items():
        said = message(code, **_sample_params(template))
        with translation.override("en"):
            assert render(said) == said["text"], code


def test_french_numbers_take_a_decimal_comma_with_the_tools_precision():
    said = message("crowd.shortfall", on_screen=4.0, asked=35, cause=message("crowd.cause.no_room"))
    assert said["text"].startswith("placed 4.0 of the 35 people asked for per frame: no more room")
    with translation.override("fr"):
        shown = render(said)
    assert shown.startswith("4,0 personnes placées sur les 35 demandées par image : plus de place dans la zone")
    reasons = joined([message("recap.reason.clip_lasts", total=3.96), message("recap.reason.no_dialogue")], "; ")
    recap = message("recap.shortfall", duration=3.96, target=30.0, reasons=reasons)
    assert recap["text"] == "4.0 s of 30 s: the clip lasts 4.0 s; moments with dialogue are off (dialogue_clips=false)."
    with translation.override("fr"):
        assert render(recap) == (
            "4,0 s sur 30 s : le clip dure 4,0 s ; les moments avec dialogue sont désactivés (dialogue_clips=false)."
        )


def test_an_unknown_code_or_broken_params_show_the_tools_english():
    with translation.override("fr"):
        assert render({"code": "newtool.something", "params": {}, "text": "a new tool's line"}) == "a new tool's line"
        assert render({"code": "crowd.shortfall", "params": {"asked": 3}, "text": "placed 1.0 of 3"}) == "placed 1.0 of 3"
        assert render({"code": "crowd.shortfall", "params": "junk", "text": "english"}) == "english"
        # a report from before the codes: its English lines, capitalised as the page always showed them
        assert render_lines(["placed 1 of 3"], []) == ["Placed 1 of 3"]
        assert render_lines(["a", "b"], [message("recap.no_temp_vo")]) == ["A", "B"]  # not one per line: English


def test_the_run_shows_stored_lines_in_the_readers_language(world_tx):
    world = world_tx
    run = ToolRun.objects.create(project=world.a.project, tool="crowd", tool_version="1", status=ToolRun.Status.SUCCEEDED)
    said = [message("crowd.cause.one_person", n=1), message("crowd.perspective.too_few")]
    run.report = {"warnings": [m["text"] for m in said], "messages": {"warnings": said}}
    with translation.override("fr"):
        assert run.shown_warnings == [
            "Seulement 1 personne entière à copier dans le plan ; ajoutez des plans sources ou baissez la densité",
            "Trop peu de personnes pour mesurer la perspective : les copies gardent leur taille",
        ]
    with translation.override("en"):
        assert run.shown_warnings == [line[0].upper() + line[1:] for line in run.warnings]
    assert run.warning_messages == said


# --- real runs, French pages, English API -------------------------------------------------------------


def test_a_crowd_shortfall_reads_in_french_and_the_api_keeps_english_and_codes(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    run = crowd_shortfall_run(world, tmp_path)
    assert run.status == ToolRun.Status.SUCCEEDED, run.error
    shortfall = next(w for w in run.warnings if w.startswith("placed "))

    page = _page(client_for, world, run, "fr")
    _start, lines = _warnings_block(page)
    french = next(line for line in lines if "personnes placées sur les 35 demandées par image" in line)
    assert re.match(r"^\d+,\d personnes placées sur les 35 demandées par image : plus de place dans la zone", french), french
    shown = _words_shown(page)
    assert shortfall[0].upper() + shortfall[1:] not in shown and "people asked for" not in shown
    assert "Demandé : 35 personnes ajoutées par image" in shown and "Asked:" not in shown  # the summary too

    body = _api(api_for, world, run)
    assert body["warnings"] == run.warnings and shortfall in body["warnings"]
    said = next(m for m in body["warning_messages"] if m["code"] == "crowd.shortfall")
    assert (
        said["text"] == shortfall and said["params"]["asked"] == 35 and said["params"]["cause"]["code"] == "crowd.cause.no_room"
    )
    assert [m["text"] for m in body["summary_messages"]] == body["summary"] == run.summary_lines


def test_a_continuity_check_not_compared_reads_in_french(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    first = _version(world, tmp_path, "a.mp4", "testsrc2=size=320x180:rate=25:duration=2")
    second = _version(world, tmp_path, "b.mp4", "smptebars=size=320x180:rate=25:duration=2")
    run = _run(world, "continuity", [first.pk, second.pk])
    assert run.status == ToolRun.Status.SUCCEEDED, run.error

    page = _page(client_for, world, run, "fr")
    _start, lines = _warnings_block(page)
    assert any(
        line.startswith(
            "Coupe 1 (a.mp4 → b.mp4), accessoires et décor : non comparé : "
            "les deux images ne montrent pas la même partie du décor"
        )
        for line in lines
    ), lines
    shown = _words_shown(page)
    assert "not compared" not in shown and "props and set" not in shown
    assert "2 plans, 1 coupe(s) :" in shown  # the summary line

    body = _api(api_for, world, run)
    assert any(w.startswith("cut 1 (a.mp4 → b.mp4), props and set: not compared") for w in body["warnings"])
    codes = [m["code"] for m in body["warning_messages"]]
    assert "continuity.cut_not_compared" in codes and body["summary_messages"][0]["code"] == "continuity.summary"


def test_a_recap_shortfall_reads_in_french(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    episode = _version(world, tmp_path, "ep1.mp4", "testsrc2=size=320x180:rate=25:duration=4")
    run = _run(world, "recap", [episode.pk], {"target_seconds": 30, "temp_vo": False})
    assert run.status == ToolRun.Status.SUCCEEDED, run.error

    page = _page(client_for, world, run, "fr")
    _start, lines = _warnings_block(page)
    assert len(lines) == 2, lines
    assert re.match(r"^Plus court que demandé : \d+,\d s sur 30 s : .*le clip dure 4,0 s", lines[0]), lines
    assert lines[1] == "Pas de narration : aucun épisode n’a de sous-titres sur lesquels l’appuyer."
    shown = _words_shown(page)
    assert "Shorter than asked" not in shown and "No narration" not in shown  # the recap block and the .srt output too

    body = _api(api_for, world, run)
    assert body["warnings"][0].startswith("shorter than asked: ") and " s of 30 s: " in body["warnings"][0]
    assert [m["code"] for m in body["warning_messages"]] == ["recap.shorter", "recap.no_subtitles"]


def test_a_tools_message_about_the_input_reads_in_french(world_tx, tmp_path, client_for, api_for):
    world = world_tx
    shot = _version(world, tmp_path, "shot.mp4", "testsrc2=size=320x180:rate=25:duration=1")
    sound = _version(world, tmp_path, "tone.wav", "sine=frequency=440:duration=1")
    run = _run(world, "continuity", [shot.pk, sound.pk])
    assert run.status == ToolRun.Status.FAILED
    english = "tone.wav has no picture (it is audio); continuity needs video or stills"
    assert run.error == english
    french = _error_block(_page(client_for, world, run, "fr"))
    assert "tone.wav n’a pas d’image (c’est un fichier audio) ; la continuité demande de la vidéo ou des images fixes" in french
    assert english not in french
    assert english in _error_block(_page(client_for, world, run, "en"))
    assert _api(api_for, world, run)["error"] == english
