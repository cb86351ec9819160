"""The profile as a text table or as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tuner.profile.analysis import ProcessProfile


@dataclass(frozen=True)
class Profile:
    processes: tuple[ProcessProfile, ...]
    verdicts: Mapping[int, str]  # worker main pid -> verdict
    method: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        if len(self.verdicts) == 1:
            return next(iter(self.verdicts.values()))
        return "\n".join(f"worker {pid}: {text}" for pid, text in self.verdicts.items())

    def as_dict(self) -> dict[str, object]:
        return {
            "processes": [p.as_dict() for p in self.processes],
            "verdict": self.verdict,
            "workers": [{"pid": pid, "verdict": text} for pid, text in self.verdicts.items()],
            "method": dict(self.method),
            "notes": list(self.notes),
        }


def to_json(profile: Profile) -> str:
    return json.dumps(profile.as_dict(), indent=2) + "\n"


def _top(p: ProcessProfile, n: int = 2) -> str:
    return ", ".join(f"{t.function} {t.pct:.0f}%" for t in p.top[:n]) or "-"


def to_text(profile: Profile) -> str:
    m = profile.method
    lines = [
        f"py-spy, {m.get('rate_hz')} samples/s requested ({m.get('achieved_hz')} achieved) "
        f"for {m.get('duration_s')} s, on {_plural(len(profile.processes), 'process')}. "
        "GIL state read from native stacks; see docs/profile.md.",
        "",
    ]
    head = ("PID", "ROLE", "SAMPLES", "ACTIVE%", "GIL%", "GIL-WAIT%", "IDLE%", "TOP FUNCTIONS")
    rows: list[Sequence[str]] = [head]
    for p in profile.processes:
        rows.append(
            (
                str(p.pid),
                p.role,
                str(p.samples),
                f"{p.active_pct:.1f}",
                f"{p.gil_pct:.1f}",
                f"{p.gil_wait_pct:.1f}",
                f"{p.idle_pct:.1f}",
                _top(p),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    for r in rows:
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=False))
        ]
        lines.append("  ".join([*cells, r[-1]]))
    lines.append("")
    for note in profile.notes:
        lines.append(f"note: {note}")
    if len(profile.verdicts) == 1:
        lines.append(f"Verdict: {profile.verdict}")
    else:
        lines.extend(f"Verdict for worker {pid}: {text}" for pid, text in profile.verdicts.items())
    return "\n".join(lines) + "\n"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}es" if word.endswith("s") else f"{n} {word}s"
