"""What one thread is doing in one sample, decided from its stack (innermost frame last).

py-spy reports a thread that waits for the GIL as idle (it sleeps in the kernel), so the state is
read from the native frames above the innermost Python frame: none means the thread is running
bytecode (and holds the GIL); a condition-variable or mutex wait called straight from the
interpreter means it waits for the GIL; a sleeping or polling system call means it is blocked.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class State(enum.Enum):
    RUN = "run"  # executing bytecode or the interpreter's own C code: holds the GIL
    WAIT_GIL = "wait_gil"  # wants the GIL, another thread has it
    NATIVE = "native"  # running a third-party library's native code (GIL held or not: unknown)
    BLOCKED = "blocked"  # sleeping, polling, reading a pipe or socket, waiting on a lock


@dataclass(frozen=True)
class Frame:
    name: str
    file: str
    line: int = 0

    @property
    def is_python(self) -> bool:
        return self.file.endswith((".py", ".pyw")) or self.file.startswith("<")

    @property
    def is_libc(self) -> bool:
        f = self.file
        return "libc.so" in f or "libpthread" in f or "ld-linux" in f or "musl" in f

    @property
    def is_cpython(self) -> bool:
        """Native code of the interpreter itself (libpython, the executable, stdlib modules)."""
        f = self.file
        base = f.rsplit("/", 1)[-1]
        return (
            "libpython" in f
            or "/lib-dynload/" in f
            or base.startswith("python")
            or any(f"/{d}/" in f for d in ("Python", "Modules", "Objects", "Parser", "Include"))
        )

    @property
    def is_unnamed(self) -> bool:
        return self.name.startswith("0x")

    def label(self) -> str:
        short = short_path(self.file)
        return f"{self.name} ({short})" if short else self.name


# Called straight from the interpreter, these wait for the GIL (CPython's GIL is a mutex plus a
# condition variable; on Linux, Python-level locks use semaphores, not condition variables).
GIL_WAIT = frozenset(
    {
        "take_gil",
        "drop_gil",
        "PyEval_RestoreThread",
        "PyEval_AcquireThread",
        "PyEval_AcquireLock",
        "PyGILState_Ensure",
        "_PyThreadState_Attach",
        "pthread_cond_timedwait",
        "pthread_cond_wait",
        "pthread_cond_clockwait",
        "__pthread_cond_timedwait",
        "__pthread_cond_wait",
        "__pthread_cond_clockwait",
        "pthread_mutex_lock",
        "__pthread_mutex_lock",
        "___pthread_mutex_lock",
        "__lll_lock_wait",
    }
)
# Python-level locks (threading.Lock, queue.get): waiting on one is being blocked, not the GIL.
LOCKS = frozenset(
    {"PyThread_acquire_lock_timed", "acquire_timed", "lock_PyThread_acquire_lock", "rlock_acquire"}
)
BLOCKING = frozenset(
    {
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "poll",
        "__poll",
        "ppoll",
        "select",
        "__select",
        "pselect",
        "pselect6",
        "clock_nanosleep",
        "__clock_nanosleep",
        "nanosleep",
        "__nanosleep",
        "sleep",
        "usleep",
        "pause",
        "read",
        "__read",
        "__libc_read",
        "readv",
        "pread64",
        "recv",
        "__libc_recv",
        "recvfrom",
        "recvmsg",
        "accept",
        "accept4",
        "connect",
        "__libc_connect",
        "wait4",
        "waitpid",
        "__waitpid",
        "waitid",
        "sem_wait",
        "sem_timedwait",
        "sem_clockwait",
        "__new_sem_wait_slow",
        "sigwaitinfo",
        "sigtimedwait",
        "time_sleep",
        "pysleep",
        *LOCKS,
    }
)
TASK_FILES = ("celery/app/trace.py",)


def short_path(path: str) -> str:
    """``/.../site-packages/celery/app/trace.py`` -> ``celery/app/trace.py``."""
    for marker in ("site-packages/", "dist-packages/", "/lib/python3"):
        i = path.rfind(marker)
        if i >= 0:
            rest = path[i + len(marker) :]
            return rest.split("/", 1)[1] if marker == "/lib/python3" and "/" in rest else rest
    return path.rsplit("/", 2)[-1] if path.startswith("/") else path


def in_task(stack: Sequence[Frame]) -> bool:
    """True if the thread is executing a task (under Celery's tracer)."""
    return any(f.file.endswith(TASK_FILES) for f in stack)


def classify(stack: Sequence[Frame]) -> State:
    """The state of a thread whose stack is ``stack`` (outermost first, innermost last)."""
    block: list[Frame] = []  # native frames above the innermost Python frame, innermost first
    for frame in reversed(stack):
        if frame.is_python:
            break
        block.append(frame)
    if not block:
        return State.RUN
    libc: list[Frame] = []
    caller: Frame | None = None  # first frame below the libc frames
    for frame in block:
        if frame.is_libc and caller is None:
            libc.append(frame)
        elif caller is None:
            caller = frame
    names = {f.name for f in block}
    if caller is not None and caller.name in LOCKS:
        return State.BLOCKED
    if names & GIL_WAIT:
        # Straight from the eval loop, or from an interpreter C function taking the GIL back
        # after a blocking call; inside a third-party library it is that library's own lock.
        if caller is None or caller.is_cpython or caller.name in GIL_WAIT:
            return State.WAIT_GIL
        return State.BLOCKED
    if libc and all(f.is_unnamed for f in libc) and caller is None:
        return State.WAIT_GIL  # an anonymous libc wait called straight from the eval loop
    if names & BLOCKING:
        return State.BLOCKED
    if caller is None or caller.is_cpython:
        return State.RUN  # the interpreter's own C code (or libc called from it)
    return State.NATIVE
