"""Helpers of the test suite, imported one way: ``from tests.helpers.<module> import name``.

- ``paths``: the checkout, its cache, the real benchmark metadata;
- ``loopback_server``: scripted OpenAI-compatible servers on 127.0.0.1;
- ``judge``: the environment that points the rewards at a judge server;
- ``swift``: running real ``swift`` / recipe jobs (environment, logged runs, output folders, audio-QA rows);
- ``reward_calls``: calling an ORM the way ms-swift does;
- ``media``: real audio and video made with real encoders (data-prep tests);
- ``audio_guard``: checks that audio reaches the model through ms-swift (runs without pytest too).

Fixtures live in the ``conftest.py`` files and only wrap these.
"""
