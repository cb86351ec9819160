"""Running py-spy: finding it, checking it may attach, and one ``record`` per process.

Every failure becomes a :class:`PySpyError` whose message is one line that names the fix.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

NO_PTRACE = (
    "py-spy cannot attach to pid {pid}: no ptrace permission. Run as root (sudo), add "
    "CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE; Kubernetes securityContext.capabilities), "
    "or allow it with: echo 0 | sudo tee /proc/sys/kernel/yama/ptrace_scope"
)
NOT_INSTALLED = (
    "py-spy is not installed (or not on PATH): pip install py-spy (celery-tune depends on it)"
)


class PySpyError(Exception):
    """py-spy is missing or cannot sample the process; ``str()`` is one line naming the fix."""


def find() -> str:
    """The py-spy executable: on PATH, or beside this interpreter (a venv's bin/)."""
    found = shutil.which("py-spy")
    if found:
        return found
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise PySpyError(NOT_INSTALLED)


def explain(stderr: str, pid: int) -> str:
    """One line for a py-spy failure, from its stderr."""
    text = stderr.lower()
    if "permission denied" in text or "operation not permitted" in text or "eperm" in text:
        return NO_PTRACE.format(pid=pid)
    if "no such file or directory" in text or "no such process" in text or "not running" in text:
        return f"no running process with pid {pid}"
    if "free-threaded" in text or "nogil" in text:
        return f"pid {pid} runs a free-threaded Python build: py-spy cannot detect the GIL there"
    if "failed to find python version" in text or "python interpreter" in text:
        return f"pid {pid} is not a Python process py-spy can read ({_first_error(stderr)})"
    if "native" in text and "not supported" in text:
        return (
            "py-spy cannot collect native stacks on this platform (--native), which profile "
            "needs to tell a thread waiting for the GIL from a sleeping one"
        )
    return f"py-spy failed on pid {pid}: {_first_error(stderr)}"


def _first_error(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("Error:"):
            return line[len("Error:") :].strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def free_threaded(pid: int) -> bool:
    """True if the process runs a free-threaded build (``python3.13t``), which py-spy can't read."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return re.search(r"python3\.\d+t$", exe) is not None


def check(pid: int, exe: str | None = None, timeout: float = 15.0) -> None:
    """Raise :class:`PySpyError` unless py-spy can read ``pid`` (one ``dump``, ~0.1 s)."""
    exe = exe or find()
    if not os.path.exists(f"/proc/{pid}"):
        raise PySpyError(f"no running process with pid {pid}")
    if free_threaded(pid):
        raise PySpyError(
            f"pid {pid} runs a free-threaded Python build: py-spy cannot detect the GIL there"
        )
    try:
        done = subprocess.run(
            [exe, "dump", "--pid", str(pid)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PySpyError(f"py-spy dump --pid {pid} did not answer in {timeout:g} s") from None
    except OSError as exc:
        raise PySpyError(f"cannot run {exe}: {exc.strerror}") from None
    if done.returncode != 0:
        raise PySpyError(explain(done.stderr + done.stdout, pid))


@dataclass
class Recorder:
    """One ``py-spy record --idle --native --format chrometrace`` on one process."""

    pid: int
    output: Path
    log: Path
    proc: subprocess.Popen[bytes]
    started: float  # time.monotonic() at start

    def interrupt(self) -> None:
        """Ask py-spy to stop and write its output (Ctrl-C)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGINT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def stderr(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def samples_and_errors(self) -> tuple[int | None, int | None]:
        """py-spy's own count of thread samples and sampling errors, from its last lines."""
        m = re.search(r"Samples: (\d+) Errors: (\d+)", self.stderr())
        return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def record(exe: str, pid: int, workdir: Path, rate: int, seconds: float, now: float) -> Recorder:
    """Start recording ``pid`` for at most ``seconds`` (stop it earlier with ``interrupt``)."""
    output = workdir / f"trace-{pid}.json"
    log = workdir / f"py-spy-{pid}.log"
    cmd = [
        exe, "record", "--pid", str(pid), "--idle", "--native", "--format", "chrometrace",
        "--rate", str(rate), "--duration", str(math.ceil(seconds) + 1), "--output", str(output),
    ]  # fmt: skip
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
    return Recorder(pid, output, log, proc, now)


def _die_with_parent() -> None:
    """In the py-spy child: get SIGKILL if celery-tune dies, so no sampler outlives it."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
