"""Characters a request must never carry: those PostgreSQL cannot store and botocore cannot send.

A Python ``str`` (and JSON text, through ``\\u0000`` and ``\\ud800`` escapes) can hold the NUL
character and lone surrogates (U+D800–U+DFFF, halves of a UTF-16 pair without the other half).
PostgreSQL refuses both in text and ``jsonb`` (SQLite stores them, and then every page that shows
them fails to encode its response), and no UTF-8 encoder can write a lone surrogate. Every value
of a request, map keys included, is checked for them before anything is recorded.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_character(text: str) -> str | None:
    """The first character of ``text`` that cannot be stored, or None when there is none."""
    found = _UNSTORABLE.search(text)
    return found[0] if found else None


def character_name(character: str) -> str:
    """``U+0000 (NUL)``, ``U+D800 (a lone surrogate)``: a character named so that people can find it."""
    code = f"U+{ord(character):04X}"
    if character == "\x00":
        return f"{code} (NUL)"
    if "\ud800" <= character <= "\udfff":
        return f"{code} (a lone surrogate)"
    return code


def must_not_contain(character: str) -> str:
    """The violation's words: ``must not contain the character U+D800 (a lone surrogate)``."""
    return f"must not contain the character {character_name(character)}"


def printable(text: str) -> str:
    """``text`` with every character that cannot be stored written as its escape (``\\ud800``),
    so that a message or a path naming it can always be encoded and stored."""
    return _UNSTORABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)
