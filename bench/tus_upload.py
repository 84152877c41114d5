"""Benchmark: a large upload over loopback through the tus endpoint, against raw disk writes.

Starts the portal as `make run` does (uvicorn, embedded default, its own temp data folder), signs
an API token for the demo artist, then for each chunk size streams SIZE bytes of random data in
PATCH requests and prints:
  - throughput (MiB/s) and its ratio to the raw disk write speed measured in the same run
    (target >= 0.6): the same bytes written with write()+fsync to the same disk;
  - growth of the server's resident memory during the upload (target < 100 MB).

    .venv/bin/python bench/tus_upload.py                 # 2 GiB, chunks of 8, 32 and 64 MiB
    .venv/bin/python bench/tus_upload.py --size-mib 512  # quicker
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """Resident memory of the process and its children (uvicorn may fork)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) * 1024
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop_flag = pid, 0, threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except FileNotFoundError:
                return
            time.sleep(0.05)


def raw_disk_speed(folder: Path, size: int, block: bytes, chunk: int) -> float:
    """MiB/s of writing `size` bytes to the disk the server writes to, fsync after every `chunk`
    (what a server must do before it acknowledges a chunk). Median of three runs: disks are noisy."""
    path = folder / "raw-disk-bench.bin"
    speeds = []
    for _ in range(3):
        start = time.perf_counter()
        with open(path, "wb") as handle:
            written = 0
            while written < size:
                end_of_chunk = min(written + chunk, size)
                while written < end_of_chunk:
                    piece = block[: min(len(block), end_of_chunk - written)]
                    handle.write(piece)
                    written += len(piece)
                handle.flush()
                os.fsync(handle.fileno())
        speeds.append(size / MIB / (time.perf_counter() - start))
        path.unlink()
    return sorted(speeds)[1]


def start_portal(data: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PORTAL_DATA_DIR=str(data), PYTHONUNBUFFERED="1", FOOTAGE_MAX_FILE_SIZE=str(1024**4))
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([py, "manage.py", "seed_demo", "--quiet", "--accounts-only"], cwd=ROOT, env=env, check=True)
    token = (
        subprocess.run(
            [
                py,
                "manage.py",
                "shell",
                "-c",
                "from portal.accounts.models import User; from portal.accounts.services import api_token_create;"
                "from portal.studios.models import Studio;"
                "s = Studio.objects.get(slug='demo'); s.storage_quota_bytes = 1024**4; s.save();"
                "print(api_token_create(user=User.objects.get(email='artist@demo.test'), name='bench')[1])",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )  # the shell prints its auto-imports first
    log = open(data / "server.log", "w")
    server = subprocess.Popen(
        [py, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env={**env, "PORTAL_SERVER": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server, token
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the portal did not start; see " + str(data / "server.log"))


def upload(port: int, token: str, project_id: int, size: int, chunk: int, block: bytes) -> float:
    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    meta = "filename " + base64.b64encode(b"bench.bin").decode()
    conn.request(
        "POST",
        f"/api/v1/projects/{project_id}/uploads/",
        headers={**headers, "Upload-Length": str(size), "Upload-Metadata": meta},
    )
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        raise SystemExit(f"creation failed: {response.status}")
    location = response.getheader("Location").split(str(port), 1)[1]
    start = time.perf_counter()
    offset = 0
    while offset < size:
        length = min(chunk, size - offset)
        conn.putrequest("PATCH", location)
        for key, value in {**headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}.items():
            conn.putheader(key, value)
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        sent = 0
        while sent < length:
            piece = block[: min(len(block), length - sent)]
            conn.send(piece)
            sent += len(piece)
        reply = conn.getresponse()
        reply.read()
        if reply.status != 204:
            raise SystemExit(f"PATCH at {offset} failed: {reply.status}")
        offset = int(reply.getheader("Upload-Offset"))
    return size / MIB / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--chunks-mib", default="8,32,64")
    args = parser.parse_args()
    size = args.size_mib * MIB
    block = os.urandom(8 * MIB)
    with tempfile.TemporaryDirectory(prefix="bench-tus-", dir=ROOT / "data" if (ROOT / "data").exists() else None) as tmp:
        data = Path(tmp)
        port = free_port()
        server, token = start_portal(data, port)
        try:
            project_id = int(
                subprocess.run(
                    [
                        sys.executable,
                        "manage.py",
                        "shell",
                        "-c",
                        "from portal.projects.models import Project; print(Project.objects.get(code='DEMO_S1').pk)",
                    ],
                    cwd=ROOT,
                    env={**os.environ, "PORTAL_DATA_DIR": str(data)},
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            print(f"upload size: {args.size_mib} MiB over loopback; server pid {server.pid}")
            print(f"{'chunk':>8} {'raw disk MiB/s':>15} {'tus MiB/s':>10} {'ratio':>6} {'server RSS growth MB':>21}")
            for chunk_mib in [int(c) for c in args.chunks_mib.split(",")]:
                raw = raw_disk_speed(data, size, block, chunk_mib * MIB)
                baseline = rss_bytes(server.pid)
                sampler = RssSampler(server.pid)
                sampler.start()
                speed = upload(port, token, project_id, size, chunk_mib * MIB, block)
                sampler.stop_flag.set()
                sampler.join()
                growth = (sampler.peak - baseline) / 1e6
                print(f"{chunk_mib:>5} MiB {raw:>15.0f} {speed:>10.0f} {speed / raw:>6.2f} {growth:>21.1f}")
                time.sleep(2)  # let ingest reject the random bytes and free the disk before the next round
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
