"""Command functions: plain Python, no click, each returning an exit code.

0 ok, 1 findings (or a failed measurement), 2 usage or input error.
"""
