"""The crowd extension tool; `TOOL` is what the registry picks up."""

from studio_tools.crowd.params import CrowdParams
from studio_tools.crowd.source import CrowdSource, PlatePeopleSource
from studio_tools.crowd.tool import CrowdTool

TOOL = CrowdTool()

__all__ = ["TOOL", "CrowdParams", "CrowdSource", "CrowdTool", "PlatePeopleSource"]
