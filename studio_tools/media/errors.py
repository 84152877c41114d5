"""Failures of the media layer, slotted under the tool-run errors of `studio_tools.core`.

The split decides who reads the message. `MediaRejected` is the uploader's problem and its message is
a sentence written for them (it never names a server path). `MediaToolError` is ours: a missing
binary, an ffmpeg that crashed on a file it had accepted, a bug in a command line; operators read it.
`MediaCancelled` is not a failure at all.
"""

from __future__ import annotations

from studio_tools.core.errors import BadInput, Cancelled, ToolFailed


class MediaRejected(BadInput):
    """The file cannot be accepted; `reason` is shown to the person who uploaded it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaLimitExceeded(MediaRejected):
    """ffmpeg/ffprobe hit a time, CPU, memory or output-size cap and was killed.

    A user-facing rejection because the caps scale with the declared duration: a file that still
    breaks them is pathological or built to exhaust the worker. `limit` says which cap ("wall", "cpu",
    "memory", "file_size", "output").
    """

    def __init__(self, reason: str, *, limit: str) -> None:
        super().__init__(reason)
        self.limit = limit


class MediaIncomplete(MediaRejected):
    """The file passed the probe, but a derivative step got less out of it than it promised: no
    picture at a time inside its duration, or a proxy short of its frames. Almost always a file
    cut short whose index (an MP4 'moov' at the front) still describes the whole of it. A rejection,
    not a failure to retry: reading it again gives the same."""


class MediaToolError(ToolFailed):
    """ffmpeg/ffprobe failed for a reason that is not (known to be) the file's fault."""

    def __init__(self, message: str, *, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message if not stderr else f"{message}: {stderr.strip()[-2000:]}")
        self.returncode = returncode
        self.stderr = stderr


class MediaCancelled(Cancelled):
    """The caller's `cancelled()` said stop; the subprocess was killed."""

    def __init__(self, message: str = "media processing cancelled") -> None:
        super().__init__(message)
