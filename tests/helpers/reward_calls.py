"""Call an ms-swift ORM the way ms-swift does: completions plus row columns as kwargs."""
import asyncio
from types import SimpleNamespace


def rows_kwargs(n, solution="Dog", choices=("Dog", "Cat", "Bird"), question="<audio>What is making the sound?",
                step=0, max_steps=100):
    return dict(solution=[solution] * n, choices=[list(choices)] * n,
                messages=[[{"role": "user", "content": question}]] * n,
                trainer_state=SimpleNamespace(global_step=step, max_steps=max_steps))


def call(reward, completions, **kwargs):
    out = reward(completions, **kwargs)
    return asyncio.run(out) if asyncio.iscoroutine(out) else out
