"""What the option guard says about a command line: a ``Finding`` (the option as typed and why), the
``Verdicts`` of a check, and a ``Rule`` (the fields it reads, its verdict, when it fires and why)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DOCS = "docs/options.md"
REFUSED, WARNED, SUPPORTED = "refused", "warned", "supported"


@dataclass(frozen=True)
class Finding:
    option: str  # as the user types it, with its value: "--scale_rewards gdpo"
    reason: str

    def line(self, verdict: str) -> str:
        return f"{self.option} {verdict}: {self.reason} ({DOCS})"


@dataclass(frozen=True)
class Verdicts:
    refused: list[Finding] = field(default_factory=list)
    warned: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    options: tuple[str, ...]  # the ms-swift fields it reads (the first one names the rule)
    verdict: str              # REFUSED or WARNED
    when: str                 # the values it fires on, as the options table shows them
    reason: str               # why, one line (the message may add the values at hand)
    fires: Callable[[Any], str | Finding | None] = field(compare=False, repr=False)

    def finding(self, args) -> Finding | None:
        hit = self.fires(args)
        return Finding(hit, self.reason) if isinstance(hit, str) else hit

