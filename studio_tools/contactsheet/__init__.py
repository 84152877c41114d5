"""The contact sheet tool; `TOOL` is what the registry picks up."""

from studio_tools.contactsheet.tool import ContactSheet, ContactSheetParams

TOOL = ContactSheet()

__all__ = ["TOOL", "ContactSheet", "ContactSheetParams"]
