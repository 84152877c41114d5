from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import Field

from studio_tools.core import (
    BadInput,
    BadParams,
    CallbackProgress,
    Cancelled,
    InputKind,
    InputSlot,
    OutputFile,
    OutputKind,
    Registry,
    ToolFailed,
    ToolInput,
    ToolParams,
    ToolResult,
    ToolSpec,
    UnknownTool,
    file_sha256,
    out_dir,
    run_tool,
)


class EchoParams(ToolParams):
    greeting: str = "hello"
    repeat: int = Field(1, ge=1, le=3)


def write_output(workdir: Path, name: str = "result.txt", text: str = "x") -> OutputFile:
    (out_dir(workdir) / name).write_text(text)
    return OutputFile(name, OutputKind.REPORT, name.split(".")[0], "text/plain")


class FakeTool:
    """A tool whose behaviour is a function, so each test states exactly what the tool does."""

    def __init__(self, behaviour: Callable[..., object] | None = None, inputs: tuple[InputSlot, ...] | None = None) -> None:
        self.spec = ToolSpec(
            name="echo",
            version="0.1.0",
            title="Echo",
            description="Writes its greeting.",
            inputs=inputs
            or (InputSlot("clip", (InputKind.FOOTAGE, InputKind.PLATE), 1, 2), InputSlot("refs", ("still",), 0, None)),
            params_model=EchoParams,
        )
        self.behaviour = behaviour or self.default
        self.calls: list[tuple] = []

    @staticmethod
    def default(inputs, params, workdir, progress):
        output = write_output(workdir, text=params.greeting * params.repeat)
        return ToolResult(outputs=[output], report={"inputs": [i.slot for i in inputs]}, metrics={"n": len(inputs)})

    def run(self, inputs, params, workdir, progress):
        self.calls.append((inputs, params, workdir))
        return self.behaviour(inputs, params, workdir, progress)


@pytest.fixture
def files(tmp_path) -> Callable[..., Path]:
    def make(name: str, content: bytes = b"data") -> Path:
        path = tmp_path / "inputs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        return path

    return make


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path / "work"


def clip(files, name="a.mov", kind="footage", **kw) -> ToolInput:
    return ToolInput(files(name), kind, **kw)


def test_successful_run_binds_slots_validates_params_and_records_provenance(files, workdir):
    tool = FakeTool()
    seen = []
    inputs = [clip(files, metadata={"sha256": "ab" * 32, "original_name": "Take 1.mov"}), ToolInput(files("s.png"), "still")]
    record = run_tool(tool, inputs, {"greeting": "hi", "repeat": "2"}, workdir, CallbackProgress(seen.append))

    ((bound, params, wd),) = tool.calls
    assert [i.slot for i in bound] == ["clip", "refs"]
    assert params == EchoParams(greeting="hi", repeat=2)
    assert wd == workdir
    assert (out_dir(workdir) / "result.txt").read_text() == "hihi"
    assert record.output_path(record.result.outputs[0]) == out_dir(workdir) / "result.txt"
    assert seen[-1].fraction == 1.0 and seen[-1].stage == "done"

    prov = record.provenance()
    assert json.loads(json.dumps(prov)) == prov
    assert prov["tool"] == "echo" and prov["version"] == "0.1.0"
    assert prov["params"] == {"greeting": "hi", "repeat": 2}
    assert prov["inputs"][0] == {
        "slot": "clip",
        "kind": "footage",
        "name": "Take 1.mov",
        "sha256": "ab" * 32,
        "metadata": {"sha256": "ab" * 32, "original_name": "Take 1.mov"},
    }
    assert prov["outputs"] == [
        {"name": "result", "path": "result.txt", "kind": "report", "media_type": "text/plain", "label": ""}
    ]
    assert prov["report"] == {"inputs": ["clip", "refs"]} and prov["metrics"] == {"n": 2}
    assert prov["duration_seconds"] >= 0


def test_run_by_name_uses_the_given_registry(files, workdir):
    registry = Registry()
    registry.register(FakeTool())
    assert run_tool("echo", [clip(files)], None, workdir, registry=registry).spec.name == "echo"
    with pytest.raises(UnknownTool, match="unknown tool 'nope' \\(available: echo\\)"):
        run_tool("nope", [], None, workdir, registry=registry)


@pytest.mark.parametrize(
    ("make_inputs", "match"),
    [
        (lambda f: [], "takes 1 to 2 footage or plate input\\(s\\) for clip, got 0"),
        (lambda f: [clip(f, "1.mov"), clip(f, "2.mov"), clip(f, "3.mov")], "takes 1 to 2 .* for clip, got 3"),
        (lambda f: [ToolInput(f("x.png"), "still")], "for clip, got 0"),
        (lambda f: [clip(f), ToolInput(f("m.wav"), "music")], "does not take music inputs \\(m.wav\\); it takes clip: 1 to 2"),
        (lambda f: [clip(f, slot="refs")], "a.mov is footage, but refs takes still"),
        (lambda f: [clip(f, slot="nope")], "no input slot 'nope'"),
        (lambda f: [ToolInput(f("a.mov").with_name("gone.mov"), "footage")], "input gone.mov is missing or not a file"),
        (
            lambda f: [ToolInput(f("a.mov").parent, "footage", metadata={"original_name": "dir"})],
            "input dir is missing or not a file",
        ),
    ],
)
def test_driver_rejects_inputs_that_do_not_fit_the_slots(files, workdir, make_inputs, match):
    tool = FakeTool()
    with pytest.raises(BadInput, match=match):
        run_tool(tool, make_inputs(files), {}, workdir)
    assert tool.calls == []


def test_ambiguous_kind_needs_an_explicit_slot(files, workdir):
    tool = FakeTool(inputs=(InputSlot("before", "footage"), InputSlot("after", "footage")))
    with pytest.raises(BadInput, match="say which input slot it is for \\(before, after\\)"):
        run_tool(tool, [clip(files, "a.mov"), clip(files, "b.mov")], {}, workdir)
    run_tool(tool, [clip(files, "a.mov", slot="after"), clip(files, "b.mov", slot="before")], {}, workdir)
    assert [i.slot for i in tool.calls[0][0]] == ["after", "before"]


def test_bad_params_never_reach_the_tool(files, workdir):
    tool = FakeTool()
    with pytest.raises(BadParams, match="repeat"):
        run_tool(tool, [clip(files)], {"repeat": 9}, workdir)
    assert tool.calls == []


def test_out_folder_must_start_empty(files, workdir):
    out_dir(workdir).mkdir(parents=True)
    (out_dir(workdir) / "stale.txt").write_text("old")
    with pytest.raises(ValueError, match="not empty"):
        run_tool(FakeTool(), [clip(files)], {}, workdir)


def test_input_metadata_must_be_json(files, workdir):
    with pytest.raises(ValueError, match="metadata of input a.mov: when is a datetime"):
        run_tool(FakeTool(), [clip(files, metadata={"when": datetime.datetime.now()})], {}, workdir)


def _returning(make: Callable[[Path], object]):
    return lambda inputs, params, workdir, progress: make(workdir)


def _outside(workdir: Path) -> ToolResult:
    (workdir / "secret.txt").write_text("s")
    os.symlink(workdir / "secret.txt", out_dir(workdir) / "link.txt")
    return ToolResult([OutputFile("link.txt", "report", "link", "text/plain")])


BAD_RETURNS = {
    "not a result": (lambda wd: {"outputs": []}, "returned dict, not a ToolResult"),
    "outputs not a list": (lambda wd: ToolResult(outputs="x"), "outputs that are not a list"),
    "not an OutputFile": (lambda wd: ToolResult(outputs=["result.txt"]), "not an OutputFile"),
    "missing file": (
        lambda wd: ToolResult([OutputFile("nothing.txt", "report", "n", "text/plain")]),
        "nothing.txt is not a file",
    ),
    "directory": (
        lambda wd: ((out_dir(wd) / "d").mkdir(), ToolResult([OutputFile("d", "report", "d", "text/plain")]))[1],
        "d is not a file",
    ),
    "absolute path": (
        lambda wd: ToolResult([OutputFile(str(out_dir(wd) / write_output(wd).path), "report", "r", "text/plain")]),
        "must be relative",
    ),
    "dot-dot path": (
        lambda wd: ((wd / "x.txt").write_text("x"), ToolResult([OutputFile("../x.txt", "report", "r", "text/plain")]))[1],
        "must be relative",
    ),
    "symlink out": (_outside, "points outside the work folder"),
    "duplicate names": (
        lambda wd: ToolResult([write_output(wd, "a.txt"), OutputFile("a.txt", "report", "a", "text/plain")]),
        "same name or path: a, a.txt",
    ),
    "bad name": (
        lambda wd: ToolResult([OutputFile("result.txt", "report", "my result", "text/plain")]),
        "output name 'my result'",
    ),
    "no media type": (
        lambda wd: ToolResult([OutputFile(write_output(wd).path, "report", "r", "")]),
        "without a valid media type",
    ),
    "report not a dict": (lambda wd: ToolResult(report=[1]), "report is list, not a dict"),
    "report with nan": (lambda wd: ToolResult(report={"a": [1, float("nan")]}), "report: a\\[1\\] is nan"),
    "report with object": (lambda wd: ToolResult(report={"p": Path("x")}), "report: p is a PosixPath"),
    "report with int key": (lambda wd: ToolResult(report={"a": {1: 2}}), "key 1 at a is not a string"),
    "warnings not lines": (
        lambda wd: ToolResult(report={"warnings": "placed 4 of 33"}),
        "report\\['warnings'\\] that is not a list of text lines",
    ),
    "summary with a number": (
        lambda wd: ToolResult(report={"summary_lines": ["ok", 3]}),
        "report\\['summary_lines'\\] that is not a list of text lines",
    ),
    "nested metric": (lambda wd: ToolResult(metrics={"a": [1]}), "metric 'a'=\\[1\\]"),
    "infinite metric": (lambda wd: ToolResult(metrics={"a": float("inf")}), "metrics: a is inf"),
}


@pytest.mark.parametrize(("make", "match"), BAD_RETURNS.values(), ids=BAD_RETURNS.keys())
def test_driver_blames_the_tool_for_bad_returns(files, workdir, make, match):
    with pytest.raises(ToolFailed, match=match):
        run_tool(FakeTool(_returning(make)), [clip(files)], {}, workdir)


def test_output_files_in_subfolders_are_fine(files, workdir):
    def make(wd: Path) -> ToolResult:
        (out_dir(wd) / "sub").mkdir()
        (out_dir(wd) / "sub" / "a.srt").write_text("1")
        return ToolResult([OutputFile(Path("sub/a.srt"), "subtitles", "subs", "application/x-subrip")])

    record = run_tool(FakeTool(_returning(make)), [clip(files)], {}, workdir)
    assert record.result.outputs[0].path == "sub/a.srt"
    assert record.result.outputs[0].kind is OutputKind.SUBTITLES


def test_unknown_output_kind_is_the_tools_fault(files, workdir):
    with pytest.raises(ToolFailed, match="crashed: ValueError: 'movie' is not a valid OutputKind"):
        run_tool(FakeTool(_returning(lambda wd: OutputFile("a", "movie", "a", "text/plain"))), [clip(files)], {}, workdir)


def test_unexpected_exceptions_become_tool_failed_with_the_cause(files, workdir):
    def crash(inputs, params, workdir, progress):
        raise KeyError("boom")

    with pytest.raises(ToolFailed, match="echo crashed: KeyError: 'boom'") as info:
        run_tool(FakeTool(crash), [clip(files)], {}, workdir)
    assert isinstance(info.value.__cause__, KeyError)


def test_tool_errors_pass_through_unchanged(files, workdir):
    def reject(inputs, params, workdir, progress):
        raise BadInput("a.mov has no video stream")

    with pytest.raises(BadInput, match="^a.mov has no video stream$"):
        run_tool(FakeTool(reject), [clip(files)], {}, workdir)


def test_cancellation_before_and_during_the_run(files, workdir, tmp_path):
    tool = FakeTool()
    with pytest.raises(Cancelled):
        run_tool(tool, [clip(files)], {}, workdir, CallbackProgress(is_cancelled=lambda: True))
    assert tool.calls == []

    flag = {"stop": False}

    def slow(inputs, params, workdir, progress):
        for i in range(10):
            progress.update(i / 10)
            if i == 3:
                flag["stop"] = True
            progress.check_cancelled()
        raise AssertionError("not cancelled")

    seen = []
    with pytest.raises(Cancelled):
        run_tool(FakeTool(slow), [clip(files)], {}, tmp_path / "w2", CallbackProgress(seen.append, lambda: flag["stop"]))
    assert [u.fraction for u in seen] == [0.0, 0.1, 0.2, 0.3]


def test_file_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc" * 1000)
    assert file_sha256(path, chunk_size=7) == hashlib.sha256(b"abc" * 1000).hexdigest()
