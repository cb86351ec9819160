"""Command functions: plain Python, no click, each returning an exit code (0 ok, 1 findings, 2 error)."""
