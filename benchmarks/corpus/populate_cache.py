"""Fill the corpus cache (third-party files, never committed) from local git snapshots.

The corpus is the list in ``index.tsv``: (repo, path, commit, kind).  The files themselves are
public third-party code and stay out of this repository; they live in a cache directory,
``$CELERY_TUNE_CORPUS_CACHE`` or ``/work/corpus-cache``, laid out as
``<cache>/<owner>/<name>/<commit>/<path>`` so that each file keeps its own name (the audit picks
its reader by name: ``Procfile``, ``*.service``, ``docker-compose.yml``...).

Two ways to fill it:

1. From git snapshots of the repositories (what this script does).  A snapshot is a bare git
   directory holding the commit named in the index, found under ``--mirrors`` (default
   ``/work/.mirror``) as ``<owner>+<name>/repo`` or ``<owner>+<name>/repo/.git``; the search tool's
   ``fetch github:<owner>/<name>`` produces exactly that, and a plain
   ``git clone --bare https://github.com/<owner>/<name>`` followed by ``git fetch origin <commit>``
   works as well.  ``git show <commit>:<path>`` is written to the cache.
2. By hand with the search tool: ``read_file(repo=<repo>, path=<path>, commit=<commit>)`` for
   each row of ``index.tsv``, saving the text at the cache path above.  (This script cannot call
   the search tool itself.)

Usage: ``python benchmarks/corpus/populate_cache.py [--mirrors DIR] [--cache DIR]``.
Prints the rows it could not fill; exit status 1 if any.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
INDEX = HERE / "index.tsv"
DEFAULT_CACHE = "/work/corpus-cache"


def cache_dir() -> Path:
    return Path(os.environ.get("CELERY_TUNE_CORPUS_CACHE", DEFAULT_CACHE))


def read_index() -> list[dict[str, str]]:
    with open(INDEX, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def cached_path(cache: Path, row: dict[str, str]) -> Path:
    return cache / row["repo"] / row["commit"] / row["path"]


def _git_dir(mirrors: Path, repo: str) -> Path | None:
    base = mirrors / repo.replace("/", "+", 1) / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "HEAD").exists():
            return candidate
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    cache = args.cache or cache_dir()
    missing = 0
    written = 0
    for row in read_index():
        target = cached_path(cache, row)
        if target.exists():
            continue
        git_dir = _git_dir(args.mirrors, row["repo"])
        if git_dir is None:
            print(f"no snapshot of {row['repo']} under {args.mirrors}: {row['path']}")
            missing += 1
            continue
        proc = subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"{row['commit']}:{row['path']}"],
            capture_output=True,
        )
        if proc.returncode != 0:
            where = f"{row['repo']}@{row['commit'][:8]}:{row['path']}"
            print(f"{where}: {proc.stderr.decode().strip()}")
            missing += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(proc.stdout)
        written += 1
    print(f"{written} written, {missing} missing, cache {cache}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
