"""Starting the platform (`make run` / `python -m offline run`) where it cannot: the user gets one clear line."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def test_a_busy_port_fails_at_once_with_one_line_naming_it_and_how_to_pick_another(tmp_path: Path) -> None:
    # GIVEN something already listening on the port (another `make run`, say)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = tmp_path / "state"

        # WHEN the platform is started on that port
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-m", "offline", "run", "--port", str(port), "--state-dir", str(state)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started

    # THEN it exits non-zero within moments (before moto and provisioning start: nothing is written to the state
    # folder), printing one line that names the port and how to choose another, and no traceback
    assert run.returncode != 0
    assert elapsed < 5, f"took {elapsed:.1f} s"
    assert not state.exists()
    output = (run.stdout + run.stderr).strip()
    assert "Traceback" not in output
    assert output.splitlines() == [
        f"cannot start: port {port} on 127.0.0.1 is already in use; "
        f"pick another port: make run PORT={port + 1} (or --port {port + 1})"
    ]
