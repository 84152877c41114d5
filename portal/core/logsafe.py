"""Secrets out of the logs: sign-in tokens in URLs are replaced before a log line is written.

Invitation links (/invite/<token>/) and password-reset links (/accounts/password-reset/<uid>/<token>/)
carry tokens that sign a person in; the server's access log wrote them out whole. This filter sits on
the handlers of the access log and of everything else, and redacts them (and `token=`, `key=`,
`code=`, `secret=` query values) in the formatted message.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
_PATTERNS = (
    (re.compile(r"(/invite/)[^/\s\"?]+"), r"\1" + REDACTED),
    (re.compile(r"(/password-reset/)[^/\s\"?]+/[^/\s\"?]+"), r"\1" + REDACTED),
    (re.compile(r"([?&](?:token|key|code|secret|signature)=)[^&\s\"#]+", re.IGNORECASE), r"\1" + REDACTED),
)


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left for the handler to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
