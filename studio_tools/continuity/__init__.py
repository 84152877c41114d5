"""The continuity check tool; `TOOL` is what the registry picks up."""

from studio_tools.continuity.tool import ContinuityParams, ContinuityTool, requests_external_ai

TOOL = ContinuityTool()

__all__ = ["TOOL", "ContinuityParams", "ContinuityTool", "requests_external_ai"]
