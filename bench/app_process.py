"""The Streamlit app as a child process on a free port: one launcher for `bench ui` and the browser tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(
    env: dict[str, str], log: IO[Any], timeout: float = 120
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `streamlit run app.py` with `env`, wait until it answers; returns (process, URL).

    Raises RuntimeError (after killing it) when it exits early or does not answer in `timeout` s.
    """
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            msg = f"streamlit exited early with {proc.returncode}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    msg = f"streamlit did not answer on {url} within {timeout:g} s"
    raise RuntimeError(msg)


def stop_app(proc: subprocess.Popen[bytes]) -> None:
    """Stop an app `start_app` started: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
