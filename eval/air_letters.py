"""AIR-Bench Foundation's option-letter reading, kept official where it is sound.

AIR-Bench's prompt asks for "A or B or C or D", and its ``score_foundation.py``
takes the letter from the reply's first character, or else from its
second-to-last character ("The answer is A."), after stripping and deleting
newlines; replies it cannot read are left out of the denominator.

Decisions (ours):
- the reply is first matched against the choices with the shared matcher
  (``audio_thinker.matching.match_choice``), so the choice *text*, "B",
  "(B)", "B." and "(B) text" all count; the letter positions are the fallback;
- a letter is read only where it stands alone: the first character when it
  is the whole reply or punctuation follows it ("A", "A.", "A) ..."; not the
  article in "A dog barks"), the second-to-last
  when it is enclosed by non-alphanumerics ("... is A.", "(A)"), and, beyond
  the official rule, a final standalone letter ("Answer: A"). The official
  first-character rule reads "Dog barking" as D and "Answer: C" as A; we do not;
- an unreadable reply is wrong and counted as ``unparsable`` (never dropped).
"""
from __future__ import annotations

LETTERS = "ABCD"


def _alone(text: str, i: int) -> bool:
    """``text[i]`` is an option letter with no letter or digit beside it."""
    if text[i] not in LETTERS:
        return False
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return not before.isalnum() and not after.isalnum()


def air_letter(reply: str | None) -> str | None:
    """The option letter a reply names by position, or None."""
    text = (reply or "").strip().replace("\n", "")
    if not text or text == "None":  # the official script treats "None" as no reply
        return None
    if _alone(text, 0) and (len(text) == 1 or not text[1].isspace()):
        return text[0]
    for i in (len(text) - 2, len(text) - 1):
        if i > 0 and _alone(text, i):
            return text[i]
    return None
