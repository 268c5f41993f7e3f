"""The model's regular expressions said in words, for help texts and error messages: the shapes
that many services share. Words for one operation's own patterns live in its declaration
(``Operation.words``); keyed by the exact pattern string of botocore's model, so one entry
serves every member with that pattern.
"""

UUID_WORDS = "a UUID in lower-case hex (8-4-4-4-12)"
NAME_WORDS = "letters, digits and / . _ -"

PATTERN_WORDS: dict[str, str] = {
    "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}": UUID_WORDS,
    "^[a-zA-Z0-9\\/\\._\\-]+$": NAME_WORDS,
    ".*\\S.*": "some text on one line (not only spaces)",
    ".*": "a single line of text",
}
