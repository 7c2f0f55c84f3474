"""Check that the configured judge answers in format, before a training run loads its model.

    AUDIO_THINKER_JUDGE_URL=... AUDIO_THINKER_JUDGE_MODEL=... python -m swift_plugins.judge.check [--wait 30]

Says what it waits for and for how long, then polls ``<URL>/models`` until the server answers or --wait
runs out (nothing listening, a timeout or a 5xx: the server may still be loading; a 8B judge takes
minutes). Some answers are final at once: an HTTP 4xx (a wrong path, e.g. a URL without /v1, or a key
the server refuses), a body that is not an OpenAI model list, or a list without the configured model.
Then it asks one consistency and one quality judgment of an easy example.

Exit status: 0 the judge answers in format; 1 it did not come up within --wait (timeouts, 5xx), or
answered out of format; 2 a setting is wrong (no URL/model, nothing listening at the URL for the whole wait,
wrong path or model, a server that is not the one started).
``recipes/judge.sh`` passes --server-pid: waiting stops when that server process has exited, and the
process listening on the URL's port must belong to it (not an older server left on that port).
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Sequence
from urllib.parse import urlparse

from audio_thinker.cli import UsageError, parser, run
from swift_plugins.judge.client import judge_many
from swift_plugins.judge.endpoint import UNPARSABLE, EndpointError, answer, open_client
from swift_plugins.judge.ports import describe_pids, listener_pids, process_group
from swift_plugins.judge.prompts import (build_consistency_prompt, build_quality_prompt, parse_consistency,
                                         parse_quality)
from swift_plugins.judge.settings import JudgeConfigError, JudgeSettings

QUESTION = "What is making the sound? Options: dog, cat, car."
REASONING = "The clip contains repeated short barks with a growl between them, which a dog makes."
POLL_S = 2.0          # between attempts while the server is not up
PROGRESS_S = 30.0     # a "still waiting" line this often, so a long wait is never silent


class NotUp(Exception):
    """The server is not (yet) answering: keep waiting."""


def served_models(settings: JudgeSettings, timeout: float = 10.0) -> list[str]:
    """Model ids from ``GET <url>/models``. :class:`NotUp` for what may pass (nothing listening, timeout,
    5xx); :class:`UsageError` for what will not (4xx, not an OpenAI model list)."""
    url = settings.url + "/models"

    async def get():
        async with open_client(settings.url, settings.api_key) as client:
            return await answer(client.models.list(), timeout)

    try:
        page = asyncio.run(get())
    except EndpointError as err:
        if err.status is None or err.status >= 500:  # refused, reset, timeout, DNS, 5xx: may still come up
            if err.cause == UNPARSABLE:
                raise UsageError(f"GET {url} answered, but not with an OpenAI model list: is this the judge "
                                 f"server?", option="AUDIO_THINKER_JUDGE_URL") from None
            raise NotUp(str(err)) from None
        hint = ("the server refuses the key: set AUDIO_THINKER_JUDGE_API_KEY" if err.status in (401, 403) else
                "wrong path: an OpenAI-compatible base URL usually ends in /v1, e.g. http://127.0.0.1:8000/v1")
        raise UsageError(f"GET {url} answered HTTP {err.status}: {hint}", option="AUDIO_THINKER_JUDGE_URL") from None
    try:
        models = [entry.id for entry in page.data]
    except (AttributeError, TypeError):  # the SDK does not validate: a body of another shape gets here
        raise UsageError(f"GET {url} answered, but not with an OpenAI model list: is this the judge server?",
                         option="AUDIO_THINKER_JUDGE_URL") from None
    return models


def check_owner(settings: JudgeSettings, server_pid: int) -> None:
    """The process listening on the URL's port must be in SERVER_PID's process group (judge.sh starts the
    server with setsid, and `swift deploy` serves from a child)."""
    port = urlparse(settings.url).port or (443 if settings.url.startswith("https") else 80)
    group = process_group(server_pid)
    owners = listener_pids(port)
    if owners is None or group is None:
        return  # no /proc, or the server is gone (the wait loop reports that)
    if not any(process_group(pid) == group for pid in owners):
        raise UsageError(f"port {port} answers, but from {describe_pids(owners)}, not from the server started "
                         f"(process group {group}): an older server holds the port, or the new one moved to "
                         f"another; stop the other server or choose another JUDGE_PORT", option="JUDGE_PORT")


def wait_for_server(settings: JudgeSettings, wait_s: float, server_pid: int | None = None) -> list[str] | None:
    """The served model ids once the server answers; None when WAIT_S runs out (or the server process
    exits) first."""
    print(f"judge check: waiting up to {wait_s:.0f} s for an OpenAI-compatible server at {settings.url} "
          f"(model {settings.model!r}; --wait sets the limit)", file=sys.stderr, flush=True)
    start = time.monotonic()
    deadline, next_progress, last = start + wait_s, start + PROGRESS_S, "no attempt"
    while True:
        if server_pid is not None and process_group(server_pid) is None:
            print(f"judge check: the server process {server_pid} exited before answering", file=sys.stderr)
            return None
        try:
            return served_models(settings)
        except NotUp as err:
            last = str(err)
        now = time.monotonic()
        if now >= deadline:
            if server_pid is None and "refused" in last:   # nothing there at all: the address is the problem
                raise UsageError(f"nothing listens at {settings.url} (connection refused for {wait_s:.0f} s): start "
                                 f"the judge (bash recipes/judge.sh) and export the AUDIO_THINKER_JUDGE_URL it "
                                 f"prints; nothing was started, so the same command then resumes the run",
                                 option="AUDIO_THINKER_JUDGE_URL")
            print(f"judge check: no server answering at {settings.url} after {wait_s:.0f} s (last: {last})",
                  file=sys.stderr)
            return None
        if now >= next_progress:
            print(f"judge check: still waiting ({now - start:.0f} of {wait_s:.0f} s; last: {last})",
                  file=sys.stderr, flush=True)
            next_progress += PROGRESS_S
        time.sleep(min(POLL_S, max(deadline - now, 0.05)))


def main(argv: Sequence[str] | None = None) -> int:
    cli = parser("swift_plugins.judge.check", __doc__)
    cli.add_argument("--wait", type=float, default=float(os.environ.get("JUDGE_CHECK_WAIT", 30)),
                     help="seconds to wait for the server to answer (env JUDGE_CHECK_WAIT)")
    cli.add_argument("--server-pid", type=int, default=None,
                     help="the server process just started (recipes/judge.sh): stop waiting if it exits, and "
                          "require that it is what listens on the URL's port")
    args = cli.parse_args(argv)
    try:
        settings = JudgeSettings.from_env()
    except JudgeConfigError as err:
        raise UsageError(str(err)) from None
    models = wait_for_server(settings, args.wait, args.server_pid)
    if models is None:
        return 1
    if settings.model not in models:
        raise UsageError(f"the server at {settings.url} serves {models}, not {settings.model!r}",
                         option="AUDIO_THINKER_JUDGE_MODEL")
    if args.server_pid is not None:
        check_owner(settings, args.server_pid)
    consistency = asyncio.run(judge_many(settings, [build_consistency_prompt(QUESTION, REASONING, "dog")],
                                         parse_consistency))[0]
    quality = asyncio.run(judge_many(settings, [build_quality_prompt(QUESTION, REASONING)], parse_quality))[0]
    for name, judgment in (("consistency", consistency), ("quality", quality)):
        if judgment.value is None:
            print(f"judge check: {name} judgment failed ({judgment.error}) at {settings.url} "
                  f"model {settings.model}", file=sys.stderr)
            return 1
    print(f"judge check: {settings.model} at {settings.url} answers in format "
          f"(consistency {consistency.value:g}, quality {quality.value:g})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
