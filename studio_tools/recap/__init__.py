"""The recap tool; `TOOL` is what the registry picks up."""

from studio_tools.recap.tool import EXTERNAL_AI_PARAM, Recap, RecapParams

TOOL = Recap()

__all__ = ["EXTERNAL_AI_PARAM", "TOOL", "Recap", "RecapParams"]
