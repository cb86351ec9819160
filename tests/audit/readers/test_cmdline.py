"""The tokenizer and the ``celery worker`` command-line parser, with exact positions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuner.audit.model import CommandLine, Span, Value
from tuner.audit.readers import worker_options as wo
from tuner.audit.readers.cmdline import run_script
from tuner.audit.readers.shellwords import (
    FileText,
    Located,
    Mode,
    Token,
    Var,
    expand_word,
    tokenize,
)

from .helpers import all_spans, assert_within, option, under, values


def words(text: str, env: dict[str, str] | None = None, mode: Mode = "shell") -> list[list[str]]:
    ft = FileText(text)
    defined = {k: Var(Located(v, [0] * len(v))) for k, v in (env or {}).items()}
    return [[t.text for t in cmd] for cmd in tokenize(ft.whole(), defined, mode)]


def tokens(text: str, mode: Mode = "shell") -> list[Token]:
    return [t for cmd in tokenize(FileText(text).whole(), {}, mode) for t in cmd]


def parse(text: str, mode: Mode = "shell", lenient: bool = False) -> list[CommandLine]:
    ft = FileText(text)
    found = run_script(ft, ft.whole(), {}, mode, "test", lenient)
    for span in all_spans(found):
        assert_within(text, span)
    return found


def one(text: str, mode: Mode = "shell", lenient: bool = False) -> CommandLine:
    found = parse(text, mode, lenient)
    assert len(found) == 1, found
    return found[0]


# --------------------------------------------------------------------------- option table


def test_worker_table_matches_celery_click_params() -> None:
    """The static table is Celery 5.7's ``celery worker`` options, spelling for spelling."""
    worker = pytest.importorskip("celery.bin.worker").worker
    celery_flags = set()
    for param in worker.params:
        for flag in param.opts:
            celery_flags.add(flag)
            spec = wo.WORKER[flag]
            assert spec.dest == param.name, flag
            assert (spec.kind == "flag") == bool(param.is_flag), flag
            if spec.kind == "choice":
                assert set(spec.choices) == set(param.type.choices), flag
    assert set(wo.WORKER) - {"--help"} == celery_flags


def test_global_table_matches_celery_click_params() -> None:
    group = pytest.importorskip("celery.bin.celery").celery
    celery_flags = set()
    for param in group.params:
        for flag in param.opts:
            celery_flags.add(flag)
            assert wo.GLOBAL[flag].dest == param.name
            assert (wo.GLOBAL[flag].kind == "flag") == bool(param.is_flag)
    assert set(wo.GLOBAL) - {"--help"} == celery_flags


def test_multi_reserved_options_are_known() -> None:
    multi = pytest.importorskip("celery.bin.multi")
    for flag, _ in multi.MultiTool.reserved_options:
        assert flag in wo.MULTI or flag in wo.GLOBAL


def test_settings_of_the_options() -> None:
    assert wo.WORKER["-c"].setting == "worker_concurrency"
    assert wo.WORKER["--prefetch-multiplier"].setting == "worker_prefetch_multiplier"
    assert wo.WORKER["--max-tasks-per-child"].setting == "worker_max_tasks_per_child"
    assert wo.WORKER["--max-memory-per-child"].setting == "worker_max_memory_per_child"
    assert wo.WORKER["-P"].setting == "worker_pool"
    assert wo.WORKER["--time-limit"].setting == "task_time_limit"
    assert wo.WORKER["--soft-time-limit"].setting == "task_soft_time_limit"
    assert wo.WORKER["--events"].setting == "worker_send_task_events"
    assert wo.WORKER["--disable-prefetch"].setting == "worker_disable_prefetch"
    assert wo.WORKER["-S"].setting == "worker_state_db"
    for flag in ("-O", "--autoscale", "-B", "--heartbeat-interval", "-Q", "--without-gossip"):
        assert wo.WORKER[flag].setting is None, flag
    assert wo.GLOBAL["-b"].setting == "broker_url"
    assert wo.GLOBAL["--result-backend"].setting == "result_backend"


# --------------------------------------------------------------------------- tokenizer


def test_words_quotes_escapes_and_comments() -> None:
    text = "celery  -A 'my proj' \"a b\"c d\\ e # -c 4\nnext"
    assert words(text) == [["celery", "-A", "my proj", "a bc", "d e"], ["next"]]


def test_quoted_token_span_covers_the_quotes() -> None:
    text = "x 'my proj' y"
    t = tokens(text)[1]
    assert t.text == "my proj"
    assert FileText(text).span(*t.bounds()) == Span(1, 3, 1, 12)


def test_backslash_newline_continues_and_keeps_positions() -> None:
    text = "celery worker \\\n    --concurrency=8 \\\n    -E\n"
    assert words(text) == [["celery", "worker", "--concurrency=8", "-E"]]
    cmd = one(text)
    assert option(cmd, "--concurrency").span == Span(2, 5, 2, 20)
    assert option(cmd, "-E").span == Span(3, 5, 3, 7)
    assert cmd.span == Span(1, 1, 3, 7)


def test_operators_split_commands_and_redirections_vanish() -> None:
    text = "a 1 && b 2 || c;d | e & f 2>&1 >out <in g"
    assert words(text) == [["a", "1"], ["b", "2"], ["c"], ["d"], ["e"], ["f", "g"]]


def test_crlf_line_endings() -> None:
    text = "celery worker \\\r\n  -c 3\r\ncelery worker -E\r\n"
    found = parse(text)
    assert [values(c) for c in found] == [{"concurrency": 3}, {"task_events": True}]
    assert found[0].options[0].span == Span(2, 3, 2, 7)


def test_variable_expansion_and_word_splitting() -> None:
    env = {"OPTS": "--a  --b", "N": "4"}
    assert words('x $OPTS ${N} "$OPTS" pre$N', env) == [
        ["x", "--a", "--b", "4", "--a  --b", "pre4"]
    ]


def test_unknown_and_default_variables() -> None:
    ts = tokens("${A:-3} $B ${C-x y} $(cmd) `cmd` $1")
    kinds = [(t.text, t.kind) for t in ts]
    assert kinds == [
        ("3", ("env", "A")),
        ("", ("unknown", "B")),
        ("x", ("env", "C")),
        ("y", ("env", "C")),
        ("", ("unknown", None)),
        ("", ("unknown", None)),
        ("", ("unknown", None)),
    ]


def test_known_empty_variable_uses_the_default_with_colon() -> None:
    assert words("${E:-d} ${E-d} ${E:+alt} ${F:+alt}", {"E": "", "F": "1"}) == [["d", "alt"]]


def test_kubernetes_and_compose_dollar_forms() -> None:
    env = {"C": "2"}
    defined = {"C": Var(Located("2", [0]))}
    item = expand_word(FileText("$(C) $C $$(C) $(D)").whole(), defined, "kubernetes")
    assert (item.text, item.kind) == ("2 $C $(C) ", ("unknown", "D"))
    assert words("$C $$C '$C'", env, "compose") == [["2", "$C", "2"]]
    assert words("$C '$C'", env, "shell") == [["2", "$C"]]


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=200),
    st.sampled_from(["shell", "text", "compose", "systemd", "kubernetes", "plain"]),
)
def test_tokenizer_never_fails_and_spans_stay_in_the_text(text: str, mode: Mode) -> None:
    ft = FileText(text)
    env = {"X": Var(Located("a b", [0, 0, 0])), "CONC": Var(Located("4", [0]), overridable=True)}
    for cmd in tokenize(ft.whole(), env, mode):
        for t in cmd:
            assert_within(text, ft.span(*t.site))
            assert_within(text, ft.span(*t.bounds()))


# --------------------------------------------------------------------------- options


def test_option_forms_and_exact_columns() -> None:
    text = "celery -A proj worker -c4 --prefetch-multiplier=1 -E -Ofair --time-limit 30 -P threads"
    cmd = one(text)
    assert cmd.subcommand == "worker" and cmd.app == "proj"
    assert values(cmd) == {
        "app": "proj",
        "concurrency": 4,
        "prefetch_multiplier": 1,
        "task_events": True,
        "optimization": "fair",
        "time_limit": 30.0,
        "pool": "threads",
    }
    for flag, written in [
        ("-c", "-c4"),
        ("--prefetch-multiplier", "--prefetch-multiplier=1"),
        ("-E", "-E"),
        ("-O", "-Ofair"),
        ("--time-limit", "--time-limit 30"),
        ("-P", "-P threads"),
        ("-A", "-A proj"),
    ]:
        assert under(text, option(cmd, flag).span) == written
    assert option(cmd, "-c").span == Span(1, 23, 1, 26)
    assert option(cmd, "-c").setting == "worker_concurrency"
    assert option(cmd, "-E").value == Value("known", True, "-E")
    assert cmd.span == Span(1, 1, 1, len(text) + 1)


def test_combined_short_flags_as_click_reads_them() -> None:
    cmd = one("celery worker -Ec 3 -BEc5")
    assert [(o.flag, o.value.value) for o in cmd.options] == [
        ("-E", True),
        ("-c", 3),
        ("-B", True),
        ("-E", True),
        ("-c", 5),
    ]
    assert cmd.get("concurrency") is not None and cmd.get("concurrency").value.value == 5  # type: ignore[union-attr]


def test_short_option_with_equals_gets_the_equals_sign() -> None:
    # click reads ``-c=4`` as ``-c`` with the value "=4", which Celery then rejects.
    assert option(one("celery worker -c=4"), "-c").value.value == "=4"


def test_values_are_converted_per_kind_and_bad_values_stay_strings() -> None:
    cmd = one(
        "celery worker -c four --time-limit 1e3 --max-memory-per-child 2x -Q a,b,c "
        "--autoscale 10,3 --soft-time-limit=inf"
    )
    assert values(cmd) == {
        "concurrency": "four",
        "time_limit": 1000.0,
        "max_memory_per_child": "2x",
        "queues": ["a", "b", "c"],
        "autoscale": "10,3",
        "soft_time_limit": float("inf"),
    }
    assert option(cmd, "-c").value.kind == "known"


def test_concurrency_auto() -> None:
    assert values(one("celery worker --concurrency AUTO"))["concurrency"] == "auto"


def test_values_that_fall_back_to_the_config_override_nothing() -> None:
    cmd = one("celery worker -c 0 --prefetch-multiplier=0 -P prefork --statedb=")
    assert [(o.dest, o.setting) for o in cmd.options] == [
        ("concurrency", None),
        ("prefetch_multiplier", None),
        ("pool", None),
        ("statedb", None),
    ]
    assert option(one("celery worker -P processes"), "-P").setting == "worker_pool"


def test_missing_value_is_unknown() -> None:
    assert option(one("celery worker --concurrency"), "--concurrency").value.kind == "unknown"


def test_misplaced_global_options_are_reported_but_name_the_app() -> None:
    text = "celery worker -A proj --broker=redis://x -c 2"
    cmd = one(text)
    assert cmd.app == "proj"
    assert [(o.flag, o.dest) for o in cmd.misplaced] == [("-A", "app"), ("--broker", "broker")]
    assert under(text, cmd.misplaced[0].span) == "-A proj"
    assert values(cmd) == {"concurrency": 2}  # a misplaced broker overrides nothing


def test_global_options_before_the_subcommand() -> None:
    cmd = one("celery --app=proj -b redis://h --config=cfg --skip-checks worker")
    assert cmd.app == "proj" and cmd.config_module == "cfg" and cmd.misplaced == ()
    assert option(cmd, "-b").setting == "broker_url"


def test_unknown_options() -> None:
    text = "celery worker --maxtasksperchild=10 -Z -c 2 --concurency 3"
    cmd = one(text)
    assert [(o.flag, o.dest) for o in cmd.unknown] == [
        ("--maxtasksperchild", ""),
        ("-Z", ""),
        ("--concurency", ""),
    ]
    assert under(text, cmd.unknown[0].span) == "--maxtasksperchild=10"
    assert values(cmd) == {"concurrency": 2}


def test_a_worker_option_before_the_subcommand_is_unknown() -> None:
    cmd = one("celery -c 4 worker")
    assert [o.flag for o in cmd.unknown] == ["-c"] and cmd.options == ()


def test_options_from_variables_point_where_they_are_written() -> None:
    text = 'OPTS="--time-limit=300 --concurrency=8"\nCONC=3\ncelery worker $OPTS -c $CONC\n'
    cmd = one(text)
    assert values(cmd) == {"time_limit": 300.0, "concurrency": 3}
    assert option(cmd, "--concurrency").span == Span(1, 24, 1, 39)
    assert option(cmd, "--time-limit").span == Span(1, 7, 1, 23)
    # The flag is on the command line, its value elsewhere: the option is where the flag is.
    assert under(text, option(cmd, "-c").span) == "-c $CONC"
    assert option(cmd, "-c").value.text == "3"


def test_env_defaults_and_unknown_values() -> None:
    cmd = one("celery worker -c ${CONC:-4} --time-limit=$TL -Q $QUEUES")
    c, tl = option(cmd, "-c").value, option(cmd, "--time-limit").value
    assert c == Value("env", 4, "${CONC:-4}", "CONC")
    assert tl == Value("unknown", None, "$TL", "TL")
    assert not tl.judgeable


# --------------------------------------------------------------------------- programs


@pytest.mark.parametrize(
    "line",
    [
        "celery -A proj worker -c 2",
        "/opt/venv/bin/celery -A proj worker -c 2",
        "python -m celery -A proj worker -c 2",
        "python3.11 -u -m celery -A proj worker -c 2",
        "exec celery -A proj worker -c 2",
        "env -i PATH=/bin C_FORCE_ROOT=1 celery -A proj worker -c 2",
        "FOO=1 celery -A proj worker -c 2",
        "sudo -u celery celery -A proj worker -c 2",
        "gosu app celery -A proj worker -c 2",
        "nice -n 10 celery -A proj worker -c 2",
        "watchmedo auto-restart -d . -p '*.py' --recursive -- celery -A proj worker -c 2",
        "poetry run celery -A proj worker -c 2",
        "python -m debugpy --listen 0.0.0.0:5678 -m celery -A proj worker -c 2",
        "if true; then celery -A proj worker -c 2; fi",
        "${CELERY_BIN} -A proj worker -c 2",
        "$VENV/bin/celery -A proj worker -c 2",
    ],
)
def test_ways_to_start_a_worker(line: str) -> None:
    cmd = one(line)
    assert (cmd.app, values(cmd)["concurrency"]) == ("proj", 2)


@pytest.mark.parametrize(
    "line",
    [
        "celery -A proj beat",
        "celery -A proj inspect active",
        "celery -A proj multi stop w1",
        "celery flower",
        "echo celery worker -c 2",
        "pip install celery",
        "grep celery worker.log",
        "python manage.py runserver",
        "celery",
        "sh script.sh celery worker",
    ],
)
def test_not_a_worker(line: str) -> None:
    assert [c for c in parse(line) if c.subcommand in ("worker", "multi")] == []


def test_sh_c_string_keeps_positions() -> None:
    text = 'sh -c "celery -A proj worker \\\n  --concurrency=$C -E"'
    cmd = one(text)
    assert option(cmd, "--concurrency").span == Span(2, 3, 2, 19)
    assert option(cmd, "--concurrency").value == Value("unknown", None, "$C", "C")
    assert under(text, option(cmd, "-E").span) == "-E"
    assert cmd.span == Span(1, 1, 2, 23)  # the whole outer command


@pytest.mark.parametrize(
    "line",
    [
        "bash -lc 'celery -A proj worker -c 2'",
        "su celery -c 'celery -A proj worker -c 2'",
        'su -s /bin/sh -c "exec celery -A proj worker -c 2" celery',
        "runuser -u celery -- celery -A proj worker -c 2",
        "sh -c 'cd /app && C=2 && celery -A proj worker -c $C'",
    ],
)
def test_shells_and_su(line: str) -> None:
    cmd = one(line)
    assert (cmd.app, values(cmd)["concurrency"]) == ("proj", 2)


def test_assignments_inside_a_command_string_stay_inside() -> None:
    found = parse("sh -c 'C=2; celery worker -c $C'; celery worker -c $C")
    assert [option(c, "-c").value.kind for c in found] == ["known", "unknown"]


def test_legacy_commands() -> None:
    cmd = one("celeryd -c 2 --maxtasksperchild=10 -A proj")
    assert (cmd.legacy, cmd.subcommand, cmd.app) == ("celeryd", "worker", "proj")
    assert [o.flag for o in cmd.unknown] == ["--maxtasksperchild"] and cmd.misplaced == ()
    cmd = one("python manage.py celery worker --settings=shop.settings -B -l info")
    assert cmd.legacy == "manage.py celery worker"
    assert cmd.unknown == () and cmd.get("beat") is not None
    assert one("./manage.py celeryd -c 3").legacy == "manage.py celeryd"
    cmd = one("celeryd-multi start w1 -c 3")
    assert (cmd.legacy, cmd.subcommand, values(cmd)) == (
        "celeryd-multi",
        "multi",
        {"concurrency": 3},
    )
    beat = parse("manage.py celerybeat")
    assert [(c.subcommand, c.legacy) for c in beat] == [("beat", "manage.py celerybeat")]
    assert parse("celeryd-multi stop w1") == []


def test_multi_start_node_names_and_options() -> None:
    text = "celery multi start w1 w2 -A proj -c 3 --pidfile=/run/%n.pid -c:1 9 -E --loglevel=INFO"
    cmd = one(text)
    assert cmd.subcommand == "multi" and cmd.app == "proj" and cmd.misplaced == ()
    assert values(cmd) == {
        "app": "proj",
        "concurrency": 3,
        "pidfile": "/run/%n.pid",
        "task_events": True,
        "loglevel": "INFO",
    }
    assert under(text, option(cmd, "-c").span) == "-c 3"


def test_multi_long_option_needs_equals() -> None:
    # ``celery multi`` takes a value for a long option only after "=": the 4 becomes a node.
    cmd = one("celery multi restart w1 --concurrency 4 --time-limit=30")
    assert option(cmd, "--concurrency").value.kind == "unknown"
    assert values(cmd)["time_limit"] == 30.0


def test_global_options_before_multi() -> None:
    cmd = one("celery -A proj multi start w1 --soft-time-limit=10")
    assert cmd.app == "proj" and values(cmd)["soft_time_limit"] == 10.0


def test_free_text_mode() -> None:
    text = (
        "Run the celery worker with -c 4 or see `celery -A proj worker -c 2`.\n"
        "$ celery worker --concurrency=3\n"
        "command=/venv/bin/celery -A p worker -c 9\n"
        "  - celery worker -E\n"
    )
    found = parse(text, "text", lenient=True)
    assert [values(c) for c in found] == [
        {"app": "proj", "concurrency": 2},
        {"concurrency": 3},
        {"app": "p", "concurrency": 9},
        {"task_events": True},
    ]
    assert under(text, found[0].span) == "celery -A proj worker -c 2"


# --------------------------------------------------------------------------- properties

VOCABULARY = [
    "celery", "worker", "multi", "start", "-A", "proj", "-c", "4", "-c4", "--concurrency",
    "--concurrency=8", "-P", "prefork", "--pool=threads", "-E", "-B", "-Q", "a,b",
    "--autoscale=4,2", "'", '"', "\\", "\\\n", "\n", "$VAR", "${VAR}", "${VAR:-3}",
    "${X:-a b}", "$(", ")", "`", "$$", "sh", "-c", "su", "env", "A=1", "export",
    "OPTS='-c 2 -E'", "$OPTS", ";", "&&", "|", "#", "2>&1", ">", "<<EOF", "python", "-m",
    "manage.py", "celeryd", "--", "watchmedo", "sudo", "-u", "=", "${", "${#X}", "$1", "$@",
    "${X:+-E}", "-c:1", "--time-limit", "inf", "-Ofair", "/usr/bin/celery", "\t", "\r\n", "é",
]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(VOCABULARY), st.sampled_from(["", " ", " ", "\n"])),
        max_size=40,
    ),
    st.sampled_from(["shell", "text"]),
)
def test_command_like_text_never_fails(parts: list[tuple[str, str]], mode: Mode) -> None:
    text = "".join(a + b for a, b in parts)
    parse(text, mode, lenient=mode == "text")


OPTIONS = [
    ("-c", "3", "concurrency", 3),
    ("--concurrency", "5", "concurrency", 5),
    ("--prefetch-multiplier", "2", "prefetch_multiplier", 2),
    ("--max-tasks-per-child", "100", "max_tasks_per_child", 100),
    ("--time-limit", "30", "time_limit", 30.0),
    ("-P", "threads", "pool", "threads"),
    ("-E", None, "task_events", True),
    ("-B", None, "beat", True),
    ("--without-gossip", None, "without_gossip", True),
    ("-l", "INFO", "loglevel", "INFO"),
]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(OPTIONS), st.sampled_from([" ", "=", " \\\n  "])), max_size=8
    ),
    st.booleans(),
)
def test_generated_worker_lines_parse_back(
    chosen: list[tuple[tuple[str, str | None, str, object], str]], via_variable: bool
) -> None:
    parts, expected = [], []
    for (flag, value, dest, parsed), sep in chosen:
        if value is None:
            parts.append(flag)
        elif sep == "=" and flag.startswith("--"):
            parts.append(f"{flag}={value}")
        else:
            parts.append(f"{flag}{' ' if sep == '=' else sep}{value}")
        expected.append((flag, dest, parsed, parts[-1]))
    opts = " ".join(parts)
    if via_variable:
        text = f"OPTS='{opts}'\ncelery -A proj worker $OPTS\n" if "\\" not in opts else opts
        if "\\" in opts:
            return
    else:
        text = f"celery -A proj worker {opts}\n"
    cmd = one(text)
    got = [(o.flag, o.dest, o.value.value, under(text, o.span)) for o in cmd.options[1:]]
    assert got == [(f, d, p, w) for f, d, p, w in expected]
