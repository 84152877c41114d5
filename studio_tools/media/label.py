"""A label burned into a still image: what an unapproved generated picture carries when it is watched.

Generated video proxies get "AI-GENERATED - NOT APPROVED" burned in by ffmpeg (derivatives.py); a
generated still (a contact sheet, a comparison picture, a sprite sheet of thumbnails) gets the same
words here, in translucent bands repeated down the whole picture, so every tile of a sheet carries
the label and a crop or a screenshot of any part of it cannot pass for an approved plate.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont


def label_image(data: bytes, text: str) -> bytes:
    """The image with `text` in translucent bands every few rows (a band at the very top), as PNG bytes."""
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGBA")
    width, height = image.size
    size = max(9, min(22, height // 14, width // max(1, len(text) // 2)))
    font = ImageFont.load_default(size=size)
    band = size + size // 2
    step = max(band * 3, 48)
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    left, _t, right, _b = draw.textbbox((0, 0), text, font=font)
    text_width = right - left
    gap = size * 2
    for row, top in enumerate(range(0, height, step)):
        draw.rectangle((0, top, width, top + band), fill=(0, 0, 0, 170))
        shift = -(text_width // 2) * (row % 2)  # staggered, so narrow tiles still get whole words
        for x in range(shift, width, text_width + gap):
            draw.text((x, top + (band - size) / 2), text, fill=(255, 255, 255, 235), font=font)
    labelled = Image.alpha_composite(image, overlay).convert("RGB")
    out = io.BytesIO()
    labelled.save(out, format="PNG")
    return out.getvalue()
