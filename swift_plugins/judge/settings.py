"""Judge settings, read once from ``AUDIO_THINKER_JUDGE_*`` environment variables.

ms-swift has no per-reward settings channel, so the judge is configured through
the environment (which also reaches every rank of a torchrun/DeepSpeed launch)
and validated when the first judge reward is built, failing fast with a message
that names the variable.

| variable | default | meaning |
|---|---|---|
| AUDIO_THINKER_JUDGE_URL | (required) | OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 |
| AUDIO_THINKER_JUDGE_MODEL | (required) | model name the server expects |
| AUDIO_THINKER_JUDGE_API_KEY | EMPTY | bearer token, if the server wants one |
| AUDIO_THINKER_JUDGE_TIMEOUT | 60 | seconds per attempt, from when it got a node slot |
| AUDIO_THINKER_JUDGE_MAX_RETRIES | 2 | extra attempts after an error (a reply out of format: one, with a reminder) |
| AUDIO_THINKER_JUDGE_CONCURRENCY | 64 | requests in flight per training process |
| AUDIO_THINKER_JUDGE_NODE_CONCURRENCY | 64 | requests in flight across the machine's processes (0: no cap); the judge's capacity / nodes sharing it |
| AUDIO_THINKER_JUDGE_MAX_TOKENS | 16 | reply budget (the verdict is one short line) |
| AUDIO_THINKER_JUDGE_REASONING_CHARS | 6000 | reasoning longer than this is cut, keeping its tail |
| AUDIO_THINKER_JUDGE_BREAKER_FAILURE_RATE | 0.2 | stop when more than this share of judgments failed over the window (1: never) |
| AUDIO_THINKER_JUDGE_BREAKER_WINDOW_STEPS | 20 | the window of that share, in optimisation steps |
| AUDIO_THINKER_JUDGE_BREAKER_DEAD_STEPS | 3 | stop when every judgment failed this many steps in a row (0: never) |

The three ``BREAKER_*`` settings drive the judge circuit breaker (``swift_plugins/judge_breaker.py``,
docs/rewards.md §7).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import lru_cache
from urllib.parse import urlparse

PREFIX = "AUDIO_THINKER_JUDGE_"


class JudgeConfigError(ValueError):
    """A judge setting is missing or invalid."""


@dataclass(frozen=True)
class JudgeSettings:
    url: str
    model: str
    api_key: str = "EMPTY"
    timeout: float = 60.0
    max_retries: int = 2
    concurrency: int = 64
    node_concurrency: int = 64
    max_tokens: int = 16
    reasoning_chars: int = 6000
    breaker_failure_rate: float = 0.2
    breaker_window_steps: int = 20
    breaker_dead_steps: int = 3

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise JudgeConfigError(f"{PREFIX}URL must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                                   f"got {self.url!r}")
        if not self.model.strip():
            raise JudgeConfigError(f"{PREFIX}MODEL must name the served model")
        checks = {"TIMEOUT": self.timeout > 0, "MAX_RETRIES": self.max_retries >= 0,
                  "CONCURRENCY": self.concurrency >= 1, "NODE_CONCURRENCY": self.node_concurrency >= 0,
                  "MAX_TOKENS": self.max_tokens >= 1,
                  "REASONING_CHARS": self.reasoning_chars >= 100,
                  "BREAKER_FAILURE_RATE": 0.0 <= self.breaker_failure_rate <= 1.0,
                  "BREAKER_WINDOW_STEPS": self.breaker_window_steps >= 1,
                  "BREAKER_DEAD_STEPS": self.breaker_dead_steps >= 0}
        for name, ok in checks.items():
            if not ok:
                raise JudgeConfigError(f"{PREFIX}{name} is out of range: {getattr(self, name.lower())!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "JudgeSettings":
        env = os.environ if environ is None else environ
        missing = [name for name in ("URL", "MODEL") if not env.get(PREFIX + name, "").strip()]
        if missing:
            raise JudgeConfigError(
                "the judge rewards (think_consistency, think_quality) need an OpenAI-compatible judge: set "
                + " and ".join(PREFIX + m for m in missing)
                + " (see docs/judge.md; recipes/judge.sh starts one)")

        def number(field):  # the numeric fields above: their names, types and defaults in one place
            name, kind = PREFIX + field.name.upper(), {"int": int, "float": float}[field.type]
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return field.default
            try:
                return kind(raw)
            except ValueError:
                raise JudgeConfigError(f"{name} must be {kind.__name__}, got {raw!r}") from None

        return cls(url=env[PREFIX + "URL"].strip().rstrip("/"), model=env[PREFIX + "MODEL"].strip(),
                   api_key=env.get(PREFIX + "API_KEY", "EMPTY") or "EMPTY",
                   **{f.name: number(f) for f in fields(cls) if f.type in ("int", "float")})


@lru_cache(maxsize=1)
def settings_from_env() -> JudgeSettings:
    """Read once per process, so that every judgment of a run uses the same settings; validated when the first
    judge reward is built, with an error naming the variable (docs/judge.md)."""
    return JudgeSettings.from_env()
