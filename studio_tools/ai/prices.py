"""What a model call costs, from a table of list prices per model (USD per million tokens).

The table holds Anthropic's list prices (input, output) when it was written; cache writes cost 1.25x
input and cache reads 0.1x input. Claude on Bedrock and on Vertex AI is billed by the cloud at the
same list prices for the global endpoints; where a cloud charges otherwise (a regional endpoint's
premium, a negotiated discount) platform staff give that provider a `price_factor` in its
configuration, which multiplies the whole cost. A model not in the table gets no cost (null), never
a guess: add it with STUDIO_TOOLS_AI_PRICES, JSON {"model": [input $/MTok, output $/MTok]}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

PRICES_ENV = "STUDIO_TOOLS_AI_PRICES"
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1

PRICES: dict[str, tuple[float, float]] = {
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4-5-20250929": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-haiku-4-5-20251001": (1.0, 5.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-5-20251101": (5.0, 25.0),
}


def price_table(environ: Mapping[str, str] | None = None) -> dict[str, tuple[float, float]]:
    """The shipped table with STUDIO_TOOLS_AI_PRICES added over it (an unreadable value is ignored)."""
    environ = os.environ if environ is None else environ
    prices = dict(PRICES)
    try:
        extra = json.loads(environ.get(PRICES_ENV, "") or "{}")
        prices.update({str(k): (float(v[0]), float(v[1])) for k, v in extra.items()})
    except (ValueError, TypeError, IndexError, AttributeError, KeyError):
        pass
    return prices


def cost_usd(
    model: str | None,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
    factor: float = 1.0,
    environ: Mapping[str, str] | None = None,
) -> float | None:
    """The cost of these tokens on `model` in USD (6 decimals), or None for a model with no known price."""
    prices = price_table(environ)
    if not model or model not in prices:
        return None
    p_in, p_out = prices[model]
    total = (
        input_tokens * p_in
        + cache_write_tokens * p_in * CACHE_WRITE_FACTOR
        + cache_read_tokens * p_in * CACHE_READ_FACTOR
        + output_tokens * p_out
    )
    return round(total * factor / 1_000_000, 6)
