"""Point the rewards at a judge server: the ``AUDIO_THINKER_JUDGE_*`` settings, in one place."""
from __future__ import annotations


def judge_env(url: str, model: str = "scripted", **settings: object) -> dict[str, str]:
    """The variables for a judge at ``url`` (``.../v1``); ``settings`` adds others by suffix
    (``timeout=1`` -> ``AUDIO_THINKER_JUDGE_TIMEOUT=1``)."""
    env = {"AUDIO_THINKER_JUDGE_URL": url, "AUDIO_THINKER_JUDGE_MODEL": model}
    env.update({f"AUDIO_THINKER_JUDGE_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def use_judge(monkeypatch, url: str, model: str = "scripted", **settings: object) -> None:
    """Point this process's rewards at the judge: set the variables and drop the settings read before."""
    from swift_plugins.judge.settings import settings_from_env

    for name, value in judge_env(url, model, **settings).items():
        monkeypatch.setenv(name, value)
    settings_from_env.cache_clear()
