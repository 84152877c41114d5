"""Pictures and the printable report: annotated side-by-sides and one self-contained HTML page.

Measured findings are drawn as solid boxes with their id; the model's second opinion, when there is
one, as thin dashed white boxes labelled "(model)", so the two never read as the same thing.
The HTML report embeds its pictures (JPEG, data: URLs) and has no script, so it prints and archives
as one file; every text in it is escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

TYPE_COLOURS = {"costume": (236, 72, 153), "prop": (249, 115, 22), "lighting": (56, 189, 248), "other": (163, 230, 53)}
_BACKGROUND = (24, 24, 27)
_TEXT = (240, 240, 240)
_MUTED = (170, 170, 180)
MAX_PANEL_WIDTH = 960


def side_by_side(
    left: np.ndarray,
    right: np.ndarray,
    title: str,
    captions: tuple[str, str],
    findings: Sequence[dict[str, Any]],
    keys: tuple[str, str] = ("outgoing", "incoming"),
) -> Image.Image:
    """Two frames next to each other with every finding's boxes on both sides and a legend below."""
    panels = [_fit(left), _fit(right)]
    width = max(p.shape[1] for p in panels)
    height = max(p.shape[0] for p in panels)
    font = _font(max(12, width // 48))
    small = _font(max(11, width // 56))
    gap = 8
    header = int(font.size * 2.2)
    caption_band = int(small.size * 1.8)
    legend_lines = [_drawable(_legend(f)) for f in findings] or ["No findings on this pair."]
    wrapped = [line for text in legend_lines for line in _wrap(text, small, 2 * width + gap - 20)]
    legend = int(len(wrapped) * small.size * 1.35) + 16
    canvas = Image.new("RGB", (2 * width + gap, header + height + caption_band + legend), _BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    draw.text((10, header // 2), _drawable(title), fill=_TEXT, font=font, anchor="lm")
    for n, panel in enumerate(panels):
        x0 = n * (width + gap)
        canvas.paste(Image.fromarray(panel), (x0, header))
        draw.text((x0 + 6, header + height + caption_band // 2), _drawable(captions[n]), fill=_MUTED, font=small, anchor="lm")
        ph, pw = panel.shape[:2]
        for finding in findings:
            box = (finding.get(keys[n]) or {}).get("box")
            if not box:
                continue
            rect = (
                x0 + box["x"] * pw,
                header + box["y"] * ph,
                x0 + (box["x"] + box["w"]) * pw,
                header + (box["y"] + box["h"]) * ph,
            )
            _draw_box(draw, rect, finding, small)
            moved = (finding.get("measured") or {}).get("moved_to_in_outgoing")
            if n == 0 and moved:
                target = (
                    x0 + moved["x"] * pw,
                    header + moved["y"] * ph,
                    x0 + (moved["x"] + moved["w"]) * pw,
                    header + (moved["y"] + moved["h"]) * ph,
                )
                _dashed_rect(draw, target, TYPE_COLOURS["prop"], 2)
                draw.line(
                    [
                        ((rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2),
                        ((target[0] + target[2]) / 2, (target[1] + target[3]) / 2),
                    ],
                    fill=TYPE_COLOURS["prop"],
                    width=2,
                )
    y = header + height + caption_band + 8
    for line in wrapped:
        draw.text((10, y), line, fill=_TEXT, font=small)
        y += int(small.size * 1.35)
    return canvas


def save_png(image: Image.Image, path: Path) -> None:
    image.save(path, format="PNG", compress_level=1)  # zlib's fastest: a 1080p pair saves in a tenth of the time


def jpeg_data_url(image: Image.Image, quality: int = 82) -> str:
    rgb = np.asarray(image.convert("RGB"))
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def report_html(report: dict[str, Any], findings: Sequence[dict[str, Any]], pictures: dict[str, Image.Image]) -> str:
    """The printable report: summary, inputs, measured findings, the model's opinion apart, pictures."""
    e = html.escape
    measured = [f for f in findings if f.get("source") == "measured"]
    model = [f for f in findings if f.get("source") == "model"]
    opinion = report.get("second_opinion") or {}
    summary = report.get("summary") or {}
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        "<title>Continuity report</title><style>",
        "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#18181b}h1{font-size:22px}h2{font-size:17px;margin-top:28px}",
        "table{border-collapse:collapse;width:100%;margin:8px 0}",
        "td,th{border:1px solid #d4d4d8;padding:4px 6px;text-align:left;vertical-align:top}",
        "th{background:#f4f4f5}.model{background:#fefce8}.note{color:#52525b}img{max-width:100%;border:1px solid #d4d4d8}",
        "figure{margin:16px 0;break-inside:avoid}.tag{font-weight:600}@media print{body{margin:8mm}h2{break-after:avoid}}",
        "</style></head><body>",
        "<h1>Continuity report</h1>",
        f"<p>{e(str(summary.get('text', '')))}</p>",
        "<h2>Shots</h2><table><tr><th>#</th><th>Input</th><th>Kind</th><th>Size</th><th>FPS</th><th>Frames looked at</th></tr>",
    ]
    for shot in report.get("shots", []):
        size = f"{shot.get('width')}×{shot.get('height')}" if shot.get("width") else ""
        looked = ", ".join(str(n) for n in shot.get("frames_looked_at", []))
        parts.append(
            f"<tr><td>{shot['order'] + 1}</td><td>{e(shot['name'])}</td><td>{e(str(shot.get('kind')))}</td><td>{size}</td>"
            f"<td>{e(str(shot.get('fps') or ''))}</td><td>{e(looked)}</td></tr>"
        )
    parts.append("</table>")
    if report.get("references"):
        parts.append("<h2>Reference stills</h2><ul>")
        for ref in report["references"]:
            found = "a person found" if ref.get("person") else "no person found (not used)"
            parts.append(f"<li>{e(ref['name'])}: {found}</li>")
        parts.append("</ul>")

    pairs = report.get("pairs", [])
    statuses = [p.get("status") for p in pairs]
    parts.append(f"<h2>Measured findings ({len(measured)})</h2>")
    if measured:
        parts.append(_findings_table(measured))
    else:
        checked = sum(1 for st in statuses if st in ("checked", "partly checked"))
        parts.append(
            f"<p>No measured finding on the {checked} cut(s) that could be compared"
            + (f"; {len(statuses) - checked} cut(s) could not be compared (see below)" if checked < len(statuses) else "")
            + ".</p>"
        )
    parts += _by_scene_and_character(report, measured)
    parts.append(
        "<h2>By cut</h2><table><tr><th>Cut</th><th>Frames</th><th>Status</th><th>What was compared</th><th>Findings</th></tr>"
    )
    for pair in pairs:
        ids = ", ".join(f["id"] for f in measured if f.get("pair") == pair["index"]) or "none"
        out, inc = pair["outgoing"], pair["incoming"]
        frames = f"{out['name']} {_at(out)} → {inc['name']} {_at(inc)}"
        parts.append(
            f"<tr><td>{pair['index'] + 1}</td><td>{e(frames)}</td><td class='tag'>{e(str(pair.get('status', '')))}</td>"
            f"<td>{e(str(pair.get('why', '')))}</td><td>{e(ids)}</td></tr>"
        )
    parts.append("</table>")
    parts.append("<h2>Second opinion (the model's view of the measured findings)</h2>")
    parts.append(f"<p class='note'>{e(str(opinion.get('status', '')))}</p>")
    if model:
        parts.append(_findings_table(model, css="model"))
    if opinion.get("verdicts"):
        parts.append("<table class='model'><tr><th>Finding</th><th>Verdict</th><th>Reason</th></tr>")
        for v in opinion["verdicts"]:
            parts.append(f"<tr><td>{e(v['finding'])}</td><td>{e(v['verdict'])}</td><td>{e(v['reason'])}</td></tr>")
        parts.append("</table>")
    if opinion.get("rejected"):
        parts.append("<p class='note'>Answers from the model that were not used:</p><ul>")
        for item in opinion["rejected"]:
            parts.append(f"<li>{e(str(item.get('problem') or item.get('reason', '')))}</li>")
        parts.append("</ul>")

    parts.append("<h2>Pairs compared</h2>")
    for pair in report.get("pairs", []):
        notes = "; ".join(pair.get("notes") or [])
        light = pair.get("light") or {}
        reg = pair.get("registration") or {}
        facts = [
            "same place" if reg.get("same_place") else "another angle",
            f"exposure {light['stops']:+.2f} stop" if light else "",
            f"white balance {light['mired_shift']:+.0f} mired" if light and light.get("mired_shift") is not None else "",
        ]
        parts.append(
            f"<figure><figcaption><span class='tag'>Pair {pair['index'] + 1}</span>: {e(pair['outgoing']['name'])} frame "
            f"{pair['outgoing']['frame']} → {e(pair['incoming']['name'])} frame {pair['incoming']['frame']} "
            f"({e(', '.join(f for f in facts if f))}){'. ' + e(notes) if notes else ''}</figcaption>"
        )
        picture = pictures.get(pair.get("image") or "")
        if picture is not None:
            parts.append(f"<img alt='pair {pair['index'] + 1}' src='{jpeg_data_url(picture)}'>")
        parts.append("</figure>")
    for name, picture in pictures.items():
        if name.startswith("reference-"):
            parts.append(
                f"<figure><figcaption>{e(name)}</figcaption><img alt='{e(name)}' src='{jpeg_data_url(picture)}'></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


def _findings_table(findings: Sequence[dict[str, Any]], css: str = "") -> str:
    e = html.escape
    rows = [
        f"<table class='{css}'><tr><th>Id</th><th>Type</th><th>Where</th><th>Measured</th>"
        "<th>Confidence</th><th>Explanation</th></tr>"
    ]
    for f in findings:
        where = _where_text(f)
        value = _plain_measure(f.get("measured"))
        if f.get("character"):
            where = f"{f['character']}; {where}"
        rows.append(
            f"<tr><td>{e(f['id'])}</td><td>{e(f['type'])} / {e(f['check'])}</td><td>{e(where)}</td><td>{e(value)}</td>"
            f"<td>{f['confidence']:.2f}</td><td>{e(f['explanation'])}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _at(side: dict[str, Any]) -> str:
    return side.get("timecode") or f"frame {side['frame']}"


def _plain_measure(m: dict[str, Any] | None) -> str:
    """A measurement in words a script supervisor uses: stops, mireds, a colour difference."""
    if not m:
        return "—"
    unit = m.get("unit")
    value, limit = _number(m["value"]), _number(m["threshold"])
    if unit == "stops":
        return f"{m['value']:+.2f} stop (limit {m['threshold']:.2f})"
    if unit == "mired":
        return f"{value} mired (limit {limit})"
    if unit in ("ΔE00", "ΔE76"):
        return f"colour difference {value} (limit {limit})"
    if unit == "Δuv":
        return f"tint shift {value} (limit {limit})"
    return f"{value} {unit} (limit {limit})"


def _by_scene_and_character(report: dict[str, Any], measured: Sequence[dict[str, Any]]) -> list[str]:
    """Per scene (from the character sheet) the characters, their costume and their findings."""
    e = html.escape
    characters = report.get("characters") or []
    if not characters:
        return []
    parts = ["<h2>By character</h2>"]
    scenes: dict[str, list[dict[str, Any]]] = {}
    for character in characters:
        for scene in character.get("scenes") or [""]:
            scenes.setdefault(scene, []).append(character)
    for scene, members in scenes.items():
        if scene:
            parts.append(f"<h3>Scene {e(scene)}</h3>")
        parts.append("<table><tr><th>Character</th><th>Costume (sheet)</th><th>Seen in</th><th>Findings</th></tr>")
        for character in members:
            mine = [f for f in measured if f.get("character") == character["name"]]
            ids = "; ".join(f"{f['id']}: {f['explanation']}" for f in mine) or "none"
            parts.append(
                f"<tr><td class='tag'>{e(character['name'])}</td><td>{e(', '.join(character.get('costumes') or []) or '—')}</td>"
                f"<td>{e(', '.join(character.get('seen_in') or []) or '—')}</td><td>{e(ids)}</td></tr>"
            )
        parts.append("</table>")
    return parts


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 0.1 else f"{value:.1f}"


def _where_text(f: dict[str, Any]) -> str:
    keys = ("outgoing", "incoming") if "outgoing" in f else ("reference", "shot")
    texts = []
    for key in keys:
        s = f.get(key) or {}
        tc = f" {s['timecode']}" if s.get("timecode") else ""
        texts.append(f"{key}: {s.get('name')} frame {s.get('frame')}{tc}")
    return "; ".join(texts)


# The font Pillow bundles has no arrows or Greek; pictures say it in ASCII, the HTML report in full.
_ASCII = str.maketrans({"→": "->", "Δ": "d", "×": "x", "—": "-", "–": "-", "…": "..."})


def _drawable(text: str) -> str:
    return text.translate(_ASCII)


def _legend(f: dict[str, Any]) -> str:
    source = " (model)" if f.get("source") == "model" else ""
    return f"{f['id']}{source} {f['type']}/{f['check']} {f['confidence']:.2f}: {f['explanation']}"


def _draw_box(draw: ImageDraw.ImageDraw, rect, finding: dict[str, Any], font) -> None:
    model = finding.get("source") == "model"
    colour = (255, 255, 255) if model else TYPE_COLOURS.get(finding.get("type", ""), TYPE_COLOURS["other"])
    if model:
        _dashed_rect(draw, rect, colour, 2)
    else:
        draw.rectangle(rect, outline=colour, width=3)
    label = f"{finding['id']}{' (model)' if model else ''}"
    x, y = rect[0], max(0, rect[1] - font.size - 4)
    tw = draw.textlength(label, font=font)
    draw.rectangle((x, y, x + tw + 6, y + font.size + 4), fill=colour)
    draw.text((x + 3, y + 2), label, fill=(0, 0, 0), font=font)


def _dashed_rect(draw: ImageDraw.ImageDraw, rect, colour, width: int, dash: int = 8) -> None:
    x0, y0, x1, y1 = rect
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = max(abs(bx - ax), abs(by - ay))
        steps = max(1, int(length // dash))
        for k in range(0, steps, 2):
            t0, t1 = k / steps, min(1.0, (k + 1) / steps)
            draw.line(
                [(ax + (bx - ax) * t0, ay + (by - ay) * t0), (ax + (bx - ax) * t1, ay + (by - ay) * t1)], fill=colour, width=width
            )


def _fit(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    if w <= MAX_PANEL_WIDTH:
        return np.ascontiguousarray(image)
    scale = MAX_PANEL_WIDTH / w
    return cv2.resize(image, (MAX_PANEL_WIDTH, max(1, int(round(h * scale)))), interpolation=cv2.INTER_AREA)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _wrap(text: str, font, width: float) -> list[str]:
    words = text.split()
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines or [""]
