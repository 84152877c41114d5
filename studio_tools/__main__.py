"""Command line: run any studio tool on local files, without the portal.

    python -m studio_tools list
    python -m studio_tools describe TOOL
    python -m studio_tools run TOOL --input F [--input F ...] [--input-kind KIND ...] [--input-slot SLOT ...]
        [--param k=v ...] --out DIR

Exit codes follow what scripts expect: 0 done, 2 the user's mistake (bad input, unknown tool, bad
parameter, bad usage), 1 the tool failed, 130 cancelled (Ctrl-C). Errors are one line on stderr;
tracebacks only with --traceback, because partners run this, not developers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from studio_tools.core import (
    BadInput,
    CallbackProgress,
    Cancelled,
    InputKind,
    ProgressUpdate,
    RunRecord,
    Tool,
    ToolError,
    ToolFailed,
    ToolInput,
    UnknownTool,
    all_tools,
    get,
    run_tool,
)
from studio_tools.media import probe, sha256_file

PROG = "studio_tools"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
REPORT_NAME = "report.json"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line plus a pointer is easier to read in a log.
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Run studio tools on local files.")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback when a tool fails")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    commands.add_parser("list", help="list the tools (name, version, title)")
    describe = commands.add_parser("describe", help="print a tool's parameter JSON Schema")
    describe.add_argument("tool")
    probe = commands.add_parser("probe", help="print what a media file really holds, measured (JSON)")
    probe.add_argument("file")
    probe.add_argument("--detail", action="store_true", help="also print every field ffprobe gave, under 'detail'")
    run = commands.add_parser("run", help="run a tool")
    run.add_argument("tool")
    run.add_argument("--input", action="append", default=[], metavar="FILE", help="an input file (repeat for more)")
    run.add_argument(
        "--input-kind",
        action="append",
        default=[],
        metavar="KIND",
        help=f"kind of the inputs: once for all, or once per --input ({', '.join(k.value for k in InputKind)}); "
        "default: the first kind the tool accepts",
    )
    run.add_argument(
        "--input-slot",
        action="append",
        default=[],
        metavar="SLOT",
        help="the input slot of each --input, once per input, for tools with several slots (see describe); "
        "default: the slot that takes the input's kind, or the first slot when it takes them all",
    )
    run.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a parameter (repeat for more)")
    run.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs and report.json")
    run.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: only when stderr is a terminal)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "describe":
            print(json.dumps(get(args.tool).spec.params_schema(), indent=2))
            return EXIT_OK
        if args.command == "probe":
            return _probe(args.file, detail=args.detail)
        return _run(args)
    except (BadInput, UnknownTool) as exc:
        return _fail(EXIT_USAGE, exc, args.traceback)
    except (Cancelled, KeyboardInterrupt):
        print(f"{PROG}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except ToolFailed as exc:
        return _fail(EXIT_FAILED, exc, args.traceback, prefix="tool failed: ")
    except ToolError as exc:
        return _fail(EXIT_FAILED, exc, args.traceback)
    except OSError as exc:  # e.g. the --out folder cannot be written
        return _fail(EXIT_FAILED, exc, args.traceback)


def _probe(file: str, *, detail: bool) -> int:
    if not Path(file).is_file():
        raise BadInput(f"{file}: no such file")
    summary = probe(file).summary()
    if not detail:
        summary.pop("detail")
    print(json.dumps(summary, indent=2))
    return EXIT_OK


def _list() -> int:
    tools = all_tools()
    width = max((len(t.spec.name) for t in tools), default=0)
    vwidth = max((len(t.spec.version) for t in tools), default=0)
    for tool in tools:
        print(f"{tool.spec.name:<{width}}  {tool.spec.version:<{vwidth}}  {tool.spec.title}")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    tool = get(args.tool)
    params = tool.spec.parse_cli_params(args.param)
    inputs = _inputs(tool, args.input, args.input_kind, args.input_slot)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} exists and is not a folder")
    show_bar = sys.stderr.isatty() if args.progress is None else args.progress

    with (
        tempfile.TemporaryDirectory(prefix=f"{PROG}-{tool.spec.name}-") as tmp,
        _ProgressBar(show_bar) as bar,
        _ctrl_c_cancels() as interrupted,
    ):
        progress = CallbackProgress(bar.update, is_cancelled=interrupted.is_set, min_interval=0.1)
        record = run_tool(tool, inputs, params, Path(tmp), progress)
        out.mkdir(parents=True, exist_ok=True)
        written = _collect(record, out)
    for path in written:
        print(path)
    return EXIT_OK


@contextmanager
def _ctrl_c_cancels() -> Iterator[threading.Event]:
    """The first Ctrl-C asks the tool to stop at its next cancel check, the way the portal cancels a run;
    a second one interrupts at once.

    A KeyboardInterrupt can land anywhere, between a lock's acquire and its `try` included, and a
    lock left held by the main thread hangs the worker threads it waits for; a flag checked at the
    tool's own safe points cannot.
    """
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():  # signals only reach the main thread
        yield interrupted
        return

    def on_sigint(signum: int, frame: object) -> None:
        if interrupted.is_set():
            raise KeyboardInterrupt
        interrupted.set()
        print(f"\n{PROG}: stopping (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _inputs(tool: Tool, paths: list[str], kinds: list[str], slots: list[str] | None = None) -> list[ToolInput]:
    slots = list(slots or [])
    if not paths:
        raise BadInput(f"{tool.spec.name} needs --input FILE")
    if len(kinds) not in (0, 1, len(paths)):
        raise BadInput(f"give --input-kind once for all inputs or once per input ({len(paths)}), not {len(kinds)} times")
    if len(slots) not in (0, len(paths)):
        raise BadInput(f"give --input-slot once per input ({len(paths)}), not {len(slots)} times")
    for slot in slots:
        tool.spec.slot(slot)  # BadInput naming the slots when there is no such slot
    if not kinds:
        if not tool.spec.inputs:
            raise BadInput(f"{tool.spec.name} takes no inputs")
        first = tool.spec.inputs[0]
        if slots:
            kinds = [tool.spec.slot(s).kinds[0].value for s in slots]
        elif len(tool.spec.inputs) > 1:
            # Several slots need kinds or slots to tell them apart, unless the first (required) slot takes
            # every input given: `run crowd --input plate.mp4` fills the plate slot.
            if first.min_count < 1 or (first.max_count is not None and len(paths) > first.max_count):
                names = ", ".join(s.name for s in tool.spec.inputs)
                raise BadInput(f"{tool.spec.name} takes several kinds of input; say which with --input-slot ({names})")
            slots = [first.name] * len(paths)
            kinds = [first.kinds[0].value]
        else:
            kinds = [first.kinds[0].value]
    parsed = [InputKind.parse(k) for k in kinds]
    if len(parsed) == 1:
        parsed = parsed * len(paths)
    inputs = []
    for n, (raw, kind) in enumerate(zip(paths, parsed, strict=True)):
        path = Path(raw)
        if not path.is_file():
            raise BadInput(f"input {raw} is missing or not a file")
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise BadInput(f"input {raw} cannot be read ({exc.strerror})") from None
        metadata = {"original_name": path.name, "sha256": digest, "size": path.stat().st_size, "path": str(path)}
        inputs.append(ToolInput(path, kind, slots[n] if slots else None, metadata))
    return inputs


def _collect(record: RunRecord, out: Path) -> list[Path]:
    """Move the outputs into `out` and write report.json last, so its presence means the run finished."""
    written = []
    outputs = []
    for output in record.result.outputs:
        if output.path == REPORT_NAME:
            raise ToolFailed(f"{record.spec.name} wrote an output named {REPORT_NAME}, which the command line reserves")
        source = record.output_path(output)
        target = out / output.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        written.append(target)
        outputs.append({**output.to_dict(), "sha256": sha256_file(target), "size": target.stat().st_size})
    document = record.provenance()
    document["outputs"] = outputs
    report_path = out / REPORT_NAME
    partial = report_path.with_name(f".{REPORT_NAME}.partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, report_path)
    written.append(report_path)
    return written


class _ProgressBar:
    """A tqdm bar driven by progress updates; the stage goes in the description."""

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._bar = None

    def __enter__(self) -> _ProgressBar:
        if self._enabled:
            from tqdm import tqdm  # only the run command with a bar needs it

            layout = "{desc}{percentage:3.0f}%|{bar}| {elapsed}<{remaining}{postfix}"
            self._bar = tqdm(total=1000, file=sys.stderr, bar_format=layout)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, update: ProgressUpdate) -> None:
        if self._bar is None:
            return
        if update.stage:
            self._bar.set_description_str(f"{update.stage} ", refresh=False)
        self._bar.set_postfix_str(update.message or "", refresh=False)
        self._bar.update(round(update.fraction * 1000) - self._bar.n)


def _fail(code: int, exc: BaseException, show_traceback: bool, prefix: str = "") -> int:
    if show_traceback:
        traceback.print_exception(exc, file=sys.stderr)
    message = " ".join(str(exc).split())  # one line, whatever the tool put in its message
    print(f"{PROG}: {prefix}{message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
