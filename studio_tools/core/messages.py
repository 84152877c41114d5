"""What a tool says to people, in two forms: the English line (the CLI prints it, reports keep it, the API
gives it) and a machine form, `{"code", "params", "text"}`, that a front end words in its reader's language.

A tool defines each of its messages once, by a stable code and its English template (`define`), and
builds lines with `message(code, **params)`. A param is a plain value (a number rounded as it should
be shown, a file name) or another message (a cause inside a shortfall), or a list of messages (joined
with ", ", or as `joined(items, sep)` says). `TEMPLATES` holds every code a loaded tool can emit: the
portal's wording table is checked against it, so a new code without words fails a test rather than
showing English to a French reader.
"""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, str] = {}


def define(code: str, template: str) -> str:
    """Register `code` with its English template (str.format fields); returns the code."""
    known = TEMPLATES.setdefault(code, template)
    if known != template:
        raise ValueError(f"message code {code} is defined twice with different words")
    return code


def as_text(value: Any) -> Any:
    """A param as the English template takes it: a message's text, a list of messages joined."""
    if isinstance(value, dict) and "code" in value:
        return value["text"]
    if isinstance(value, dict) and "items" in value:
        return value["sep"].join(str(as_text(v)) for v in value["items"])
    if isinstance(value, list):
        return ", ".join(str(as_text(v)) for v in value)
    return value


def joined(items: list[Any], sep: str) -> dict[str, Any]:
    """A list param joined with `sep` instead of ", " (e.g. "; " between reasons)."""
    return {"items": list(items), "sep": sep}


def message(code: str, /, text: str | None = None, **params: Any) -> dict[str, Any]:
    """One line in both forms. `text` overrides the English (a line the tool shapes itself, e.g. capitalised)."""
    template = TEMPLATES[code]  # an undefined code is a bug in the tool, not the user's
    if text is None:
        text = template.format(**{name: as_text(value) for name, value in params.items()})
    return {"code": code, "params": params, "text": text}


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages]


__all__ = ["TEMPLATES", "as_text", "define", "joined", "message", "texts"]
