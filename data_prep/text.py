"""Question text: the video-to-audio rewrite of AVQA questions (the user-text template around the
question is ``audio_thinker.rows.USER_TEMPLATE``).

Rewrite (paper appendix C, "lexical re-contextualization"): whole words
"video" -> "audio" and "frame" -> "segment", any case. Decisions: plurals
follow the noun ("videos" -> "audios", as R1-AQA's substring replace gives;
"frames" -> "segments"); the case pattern is kept (ALL CAPS, Capitalised,
lower); words that merely contain the noun ("videotape", "framework") are
left alone; possessives ("video's") are rewritten ("audio's").
"""
from __future__ import annotations

import re

_REWRITE = re.compile(r"\b(video|frame)(s?)\b", re.IGNORECASE)
_TARGET = {"video": "audio", "frame": "segment"}


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def rewrite_question(text: str) -> str:
    """Replace whole-word video/frame(s) by audio/segment(s), keeping case."""

    def repl(m: re.Match) -> str:
        noun, plural = m.group(1), m.group(2)
        return _match_case(_TARGET[noun.lower()], noun) + plural

    return _REWRITE.sub(repl, text)

