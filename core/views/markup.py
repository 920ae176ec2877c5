"""Text from outside (a URL, a file, an error message) made inert for Streamlit's Markdown.

    st.warning("Ignored: " + inert(value))     # shows the value's characters, never markup

Streamlit renders st.markdown, st.caption, st.warning, st.error, st.info, st.success and widget
labels as GitHub-flavoured Markdown plus its own extensions: `:red[...]`/`:blue-background[...]`
colour directives, `:material/name:` icons and `:smile:` emoji shortcodes, `$...$` LaTeX, and
HTML when a page allows it. `inert` backslash-escapes every ASCII punctuation character (the
CommonMark rule: an escaped punctuation character is a literal), so links, images, emphasis,
code, tables, headings, HTML tags and entities, directives and LaTeX cannot start. Emoji
icons and GFM's bare autolinks (www.x, a@b.c) are matched on the text after escapes are
resolved, so an invisible U+2060 WORD JOINER also follows every colon and "@" and splits "www.",
which breaks each of those patterns (tested in a real browser: tests/test_browser.py). Line
breaks become spaces: one value, one line.
"""
from __future__ import annotations

import re
import string

WORD_JOINER = "\u2060"
_ESCAPES = {c: "\\" + c for c in string.punctuation}
_ESCAPES[":"] = "\\:" + WORD_JOINER
_ESCAPES["@"] = "\\@" + WORD_JOINER
_ESCAPES.update({"\n": " ", "\r": " ", "\t": " "})
_TABLE = str.maketrans(_ESCAPES)
_WWW = re.compile(r"(w)(ww\\\.)", re.IGNORECASE)


def inert(text) -> str:
    """`text` (any value, as str()) escaped so Streamlit's Markdown shows it literally."""
    return _WWW.sub(r"\1" + WORD_JOINER + r"\2", str(text).translate(_TABLE))
