"""Command functions: plain Python, no click, each returning an exit code.

0 ok, 1 findings (or a failed measurement), 2 usage or input error.
"""

ERROR_PREFIX = "celery-tune: error: "


def error_line(message: object) -> str:
    """One error line as every subcommand prints it (newline included)."""
    return f"{ERROR_PREFIX}{message}\n"
