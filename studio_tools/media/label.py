"""A label burned into a still image: what an unapproved generated picture carries when it is watched.

Generated video proxies get "AI-GENERATED - NOT APPROVED" burned in by ffmpeg (derivatives.py); a
generated still (a contact sheet, a comparison picture, a thumbnail) gets the same words here, in a
band across the top and the bottom, so a screenshot of it cannot pass for an approved plate.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont


def label_image(data: bytes, text: str) -> bytes:
    """The image with `text` in opaque bands at top and bottom, as PNG bytes."""
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    size = max(10, min(48, width // max(1, len(text)) * 2, height // 12))
    font = ImageFont.load_default(size=size)
    band = size + size // 2
    draw = ImageDraw.Draw(image)
    for top in (0, max(0, height - band)):
        draw.rectangle((0, top, width, top + band), fill=(0, 0, 0))
        left, _t, right, _b = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (right - left)) / 2, top + (band - size) / 2), text, fill=(255, 255, 255), font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
