"""The project's shared vocabulary: completion tags, answer matching, benchmark and row facts, file and
command-line conventions.

Dependency rule (enforced by tests/test_layout.py): ``audio_thinker`` imports nothing else of this project
and neither torch nor ms-swift, so every other package (``swift_plugins``, ``data_prep``, ``eval``) can build
on it and a test can import it in milliseconds.
"""
