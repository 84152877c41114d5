"""The command line, run the way a partner runs it: `python -m studio_tools` in a subprocess."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

import studio_tools
from studio_tools.core import all_tools, get

REPO = Path(studio_tools.__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio_tools", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], code: int, message: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr == f"studio_tools: {message}\n"
    assert done.stdout == ""


def run_args(clip: Path, out: Path, *params: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Arguments of `run contactsheet` on one clip with the given k=v params."""
    args = ["run", "contactsheet", "--input", str(clip), "--out", str(out), *extra]
    for param in params:
        args += ["--param", param]
    return args


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_list():
    done = cli("list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # one line per registered tool, name first, in the registry's order
    assert [line.split()[0] for line in lines] == [tool.spec.name for tool in all_tools()]
    assert "contactsheet  1.0.0  Contact sheet" in lines
    assert {"recap", "crowd", "continuity"} <= {line.split()[0] for line in lines}


def test_describe_prints_the_params_json_schema():
    done = cli("describe", "contactsheet")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == get("contactsheet").spec.params_schema()


def test_run_writes_outputs_and_report(testsrc_clip, tmp_path):
    out = tmp_path / "sheet out"
    done = cli(*run_args(testsrc_clip, out, "columns=2", "rows=2", "thumb_width=64", "timecodes=off"))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no bar when stderr is not a terminal
    assert done.stdout.splitlines() == [str(out / "contactsheet.png"), str(out / "report.json")]
    assert sorted(p.name for p in out.iterdir()) == ["contactsheet.png", "report.json"]
    assert Image.open(out / "contactsheet.png").size == (2 * 64, 2 * 48)

    report = json.loads((out / "report.json").read_text())
    assert (report["tool"], report["version"]) == ("contactsheet", "1.0.0")
    assert report["params"] == {"columns": 2, "rows": 2, "thumb_width": 64, "timecodes": False}
    (clip,) = report["inputs"]
    assert (clip["slot"], clip["kind"], clip["name"], clip["sha256"]) == ("clip", "footage", "testsrc.mp4", sha256(testsrc_clip))
    (output,) = report["outputs"]
    assert output["name"] == "contactsheet" and output["media_type"] == "image/png"
    assert output["sha256"] == sha256(out / "contactsheet.png")
    assert [f["frame"] for f in report["report"]["frames"]] == [12, 37, 62, 87]
    assert report["metrics"]["frames"] == 4
    assert 0 < report["duration_seconds"] < 60


def test_run_with_progress_bar_and_explicit_kind(testsrc_clip, tmp_path):
    extra = ("--input-kind", "plate", "--progress")
    done = cli(*run_args(testsrc_clip, tmp_path, "columns=2", "rows=1", "thumb_width=64", extra=extra))
    assert done.returncode == 0, done.stderr
    # The bar redraws at most every 0.1 s, so which stages show depends on speed; its end always does.
    assert "100%" in done.stderr and "done" in done.stderr
    assert json.loads((tmp_path / "report.json").read_text())["inputs"][0]["kind"] == "plate"


def test_text_file_named_mov_is_exit_2_with_a_clear_message(tmp_path):
    fake = tmp_path / "notes.mov"
    fake.write_text("call sheet for Tuesday\n" * 20)
    done = cli("run", "contactsheet", "--input", str(fake), "--out", str(tmp_path / "out"))
    assert_one_line_error(
        done,
        2,
        "notes.mov: This file is text, not media. Accepted formats: QuickTime/MP4, MXF, Matroska/WebM, AVI, WAV, "
        "AIFF, MP3, PNG, JPEG, TIFF, OpenEXR or DPX.",
    )
    assert not (tmp_path / "out" / "report.json").exists()


def test_unknown_tool_is_exit_2():
    unknown = "unknown tool 'nope' (available: contactsheet, continuity, crowd, recap)"
    assert_one_line_error(cli("run", "nope", "--input", "x", "--out", "y"), 2, unknown)
    assert_one_line_error(cli("describe", "nope"), 2, unknown)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("columns=13", "bad parameter columns: Input should be less than or equal to 12 (got 13)"),
        (
            "thumb_width=big",
            "bad parameter thumb_width: Input should be a valid integer, unable to parse string as an integer (got big)",
        ),
        ("colums=3", "bad parameter colums: unknown parameter (known: columns, rows, thumb_width, timecodes)"),
        ("columns", "bad parameter 'columns': expected key=value"),
    ],
)
def test_bad_param_is_exit_2(testsrc_clip, tmp_path, param, message):
    done = cli("run", "contactsheet", "--input", str(testsrc_clip), "--param", param, "--out", str(tmp_path))
    assert_one_line_error(done, 2, message)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--input-kind", "movie"], "unknown input kind 'movie' (one of: footage, plate, reference, subtitles, music, still)"),
        (
            ["--input-kind", "music"],
            "contactsheet does not take music inputs (testsrc.mp4); it takes clip: exactly 1 footage/plate",
        ),
        (
            ["--input-kind", "footage", "--input-kind", "plate"],
            "give --input-kind once for all inputs or once per input (1), not 2 times",
        ),
    ],
)
def test_bad_input_kinds_are_exit_2(testsrc_clip, tmp_path, extra, message):
    done = cli("run", "contactsheet", "--input", str(testsrc_clip), *extra, "--out", str(tmp_path))
    assert_one_line_error(done, 2, message)


def test_input_problems_are_exit_2(testsrc_clip, tmp_path):
    missing = tmp_path / "missing.mov"
    assert_one_line_error(cli(*run_args(missing, tmp_path)), 2, f"input {missing} is missing or not a file")
    two = cli("run", "contactsheet", "--input", str(testsrc_clip), "--input", str(testsrc_clip), "--out", str(tmp_path))
    assert_one_line_error(two, 2, "contactsheet takes exactly 1 footage or plate input(s) for clip, got 2")
    assert_one_line_error(cli("run", "contactsheet", "--out", str(tmp_path)), 2, "contactsheet needs --input FILE")


def test_usage_errors_are_exit_2_in_one_line():
    assert_one_line_error(cli(), 2, "the following arguments are required: COMMAND (see --help)")
    done = cli("run", "contactsheet")
    assert done.returncode == 2
    assert done.stderr == "studio_tools run: the following arguments are required: --out (see --help)\n"


def test_tool_failure_is_exit_1(testsrc_clip, tmp_path):
    # No ffmpeg on PATH: not the user's fault, so "tool failed" and exit 1.
    env = {**os.environ, "PATH": str(tmp_path)}
    done = cli("run", "contactsheet", "--input", str(testsrc_clip), "--out", str(tmp_path / "out"), env=env)
    assert_one_line_error(done, 1, "tool failed: ffprobe is not installed or not on PATH")
    with_trace = cli("--traceback", "run", "contactsheet", "--input", str(testsrc_clip), "--out", str(tmp_path / "o"), env=env)
    assert with_trace.returncode == 1 and "Traceback" in with_trace.stderr and "MediaToolError" in with_trace.stderr


def test_ctrl_c_is_exit_130_and_leaves_no_report(testsrc_clip, tmp_path):
    out = tmp_path / "out"
    args = run_args(testsrc_clip, out, "columns=12", "rows=12", "thumb_width=64", extra=("--progress",))
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio_tools", *args], cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    seen = b""
    deadline = time.monotonic() + 60
    while b"frames" not in seen and time.monotonic() < deadline:  # wait until frames are being decoded
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
    assert b"frames" in seen, seen
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.decode().rstrip().endswith("studio_tools: cancelled")
    assert b"Traceback" not in stderr
    assert not (out / "report.json").exists()
