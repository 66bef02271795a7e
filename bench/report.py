"""The table `python -m bench` prints, and its JSON twin."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field


@dataclass
class Row:
    scenario: str
    rate: str = ""
    p50: str = ""
    p99: str = ""
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    verdict: str = ""
    note: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)

    def add(self, row: Row, **figures: object) -> None:
        self.rows.append(row)
        self.figures.update(figures)

    def render(self) -> str:
        headers = ("scenario", "req/s", "p50 ms", "p99 ms", "baseline", "ratio", "target", "ok")
        table = [headers] + [
            (r.scenario, r.rate, r.p50, r.p99, r.baseline, r.ratio, r.target, r.verdict) for r in self.rows
        ]
        widths = [max(len(str(line[i])) for line in table) for i in range(len(headers))]
        lines = [
            "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip()
            for line in table
        ]
        lines.insert(1, "  ".join("-" * width for width in widths))
        notes = [f"- {r.scenario}: {r.note}" for r in self.rows if r.note]
        return "\n".join(lines + ([""] + notes if notes else []))


def verdict(ok: bool) -> str:
    return "yes" if ok else "MISSED"


def machine() -> dict[str, object]:
    """Where the figures were taken: cores, memory, Python, and the load at the time."""
    memory_kb = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal:")), 0)
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
