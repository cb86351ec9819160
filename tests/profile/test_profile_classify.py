"""Thread states from stacks shaped as py-spy 0.4 reports them (captured on CPython 3.11)."""

from __future__ import annotations

from tuner.profile.classify import Frame, State, classify, in_task, short_path

LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"
LIBPY = "/usr/lib/libpython3.11.so.1.0"
SELECTC = "/tmp/python-build/Python-3.11.7/Modules/selectmodule.c"
TASKS = "/app/tuner/bench/tasks.py"
TRACE = "/venv/lib/python3.11/site-packages/celery/app/trace.py"

BASE = (
    Frame("Thread._bootstrap", "/usr/lib/python3.11/threading.py", 1002),
    Frame("fast_trace_task", TRACE, 651),
    Frame("build_tracer.<locals>.trace_task", TRACE, 453),
    Frame("spin", TASKS, 25),
)


def stack(*top: Frame, base: tuple[Frame, ...] = BASE) -> tuple[Frame, ...]:
    return (*base, *top)  # outermost first, innermost last


def test_python_innermost_runs_and_holds_the_gil() -> None:
    assert classify(stack()) is State.RUN


def test_condition_wait_called_from_the_eval_loop_is_a_gil_wait() -> None:
    s = stack(Frame("pthread_cond_timedwait", LIBC), Frame("0x7fe435aa3f16", LIBC))
    assert classify(s) is State.WAIT_GIL
    s = stack(Frame("pthread_cond_wait", LIBC), Frame("0x7fe435aa3f16", LIBC))
    assert classify(s) is State.WAIT_GIL


def test_anonymous_libc_wait_straight_from_python_is_the_gil_mutex() -> None:
    s = stack(Frame("0x7fe435aabcae", LIBC), Frame("0x7fe435aa4193", LIBC))
    assert classify(s) is State.WAIT_GIL


def test_taking_the_gil_back_after_a_blocking_call_is_a_gil_wait() -> None:
    s = stack(
        Frame("select_epoll_poll_impl", SELECTC),
        Frame("pthread_cond_timedwait", LIBC),
        Frame("0x7fe435aa3f16", LIBC),
    )
    assert classify(s) is State.WAIT_GIL


def test_sleeping_polling_and_reading_are_blocked() -> None:
    assert classify(stack(Frame("time_sleep", LIBPY), Frame("clock_nanosleep", LIBC))) is (
        State.BLOCKED
    )
    assert classify(stack(Frame("select_epoll_poll_impl", SELECTC), Frame("epoll_wait", LIBC))) is (
        State.BLOCKED
    )
    assert classify(stack(Frame("os_read_impl", LIBPY), Frame("read", LIBC))) is State.BLOCKED


def test_a_python_lock_wait_is_blocked_not_the_gil() -> None:
    s = stack(
        Frame("_queue_SimpleQueue_get_impl", LIBPY),
        Frame("PyThread_acquire_lock_timed", LIBPY),
        Frame("0x7fe435aaed90", LIBC),
        Frame("0x7fe435aa3f16", LIBC),
    )
    assert classify(s) is State.BLOCKED


def test_third_party_native_code_is_native_and_its_own_mutex_is_blocked() -> None:
    numpy = "/venv/lib/python3.11/site-packages/numpy/core/_multiarray_umath.so"
    assert classify(stack(Frame("DOUBLE_matmul", numpy))) is State.NATIVE
    s = stack(Frame("pq_execute", "/usr/lib/libpq.so.5"), Frame("pthread_mutex_lock", LIBC))
    assert classify(s) is State.BLOCKED


def test_interpreter_c_code_holds_the_gil() -> None:
    assert classify(stack(Frame("_pickle_load_impl", LIBPY))) is State.RUN
    assert classify(stack(Frame("memcpy", LIBC))) is State.RUN


def test_in_task_needs_celerys_tracer() -> None:
    assert in_task(stack())
    assert not in_task(stack(base=(Frame("_epoll.poll", "/x/kombu/utils/eventio.py"),)))


def test_short_path() -> None:
    assert short_path(TRACE) == "celery/app/trace.py"
    assert short_path("/usr/lib/python3.11/threading.py") == "threading.py"
    assert short_path("<frozen importlib._bootstrap>") == "<frozen importlib._bootstrap>"
