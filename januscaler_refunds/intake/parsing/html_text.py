"""HTML to text, for messages whose only body is HTML."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from .charsets import _WHITESPACE
from .results import MAX_BODY_CHARS, MAX_HTML_CHARS

_SKIP_TAGS = frozenset({"script", "style", "template", "title", "xml", "head"})
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
        "pre", "section", "article", "header", "footer", "address", "dl", "dt", "dd", "center",
        "form", "fieldset", "main", "nav", "aside", "figure", "figcaption", "tbody", "thead",
    }
)  # fmt: skip


class _HTMLToText(HTMLParser):
    """HTML to readable text: tags go, entities are unescaped, blocks and ``<br>`` become line
    breaks, scripts and styles vanish, and ``<blockquote>`` lines get ``> `` like a plain reply."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0
        self.size = 0

    def _newline(self) -> None:
        self.chunks.append("\n" + "> " * self.quote)
        self.size += 1 + 2 * self.quote

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            if tag != "head" or not self.skip:
                self.skip += 1
            return
        if tag == "body" and self.skip:
            self.skip = 0  # an unclosed <head> must not swallow the body
        if tag == "blockquote":
            self.quote += 1
            self._newline()
        elif tag == "br" or tag in _BLOCK_TAGS:
            self._newline()
        if tag == "li":
            self.chunks.append("- ")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag == "pre":
            self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr", "p", "div"):
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
            return
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self._newline()
        elif tag in _BLOCK_TAGS:
            self._newline()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            data = data.replace("\n", "\n" + "> " * self.quote)
        else:
            data = _WHITESPACE.sub(" ", data)
        self.chunks.append(data)
        self.size += len(data)


_TAG = re.compile(r"<[^>]*>")


def _html_to_text(markup: str) -> str:
    markup = markup[:MAX_HTML_CHARS]
    try:
        parser = _HTMLToText()
        # Fed in slices so a huge newsletter stops costing time once the body cap is reached.
        for start in range(0, len(markup), 65536):
            parser.feed(markup[start : start + 65536])
            if parser.size > MAX_BODY_CHARS:
                break
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # html.parser is lenient, but an odd document must not cost the body
        text = html.unescape(_TAG.sub(" ", markup))
    lines: list[str] = []
    blank = False
    for line in text.split("\n"):
        line = line.strip()
        if not line.strip("> "):
            if lines and not blank:
                lines.append("")
            blank = True
            continue
        lines.append(line)
        blank = False
    return "\n".join(lines).strip()
