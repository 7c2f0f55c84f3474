"""The miniature experiment (docs/mini-experiment.md): the paper's claims tested on CPU with a small
Qwen2-Audio that hears pitch. One room for everything that exists only for it, each a command:

    python -m mini.task           the tone task with graded difficulty (training, SFT and held-out rows)
    python -m mini.judge          its deterministic judge behind the OpenAI-compatible interface
    python -m mini.build          the mini backbone (warm-started through ``swift sft``)
    python -m mini.precondition   does thinking pay on hard items before any GRPO?
    python -m mini.claims         the paper's claims (a)-(d) from a mini table's results
    bash mini/table.sh            the mini table: every row with the same overrides

It builds on the real pipeline (``data_prep``, ``eval``, ``recipes``); nothing there imports it."""
