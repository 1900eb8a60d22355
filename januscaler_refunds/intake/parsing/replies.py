"""Reply and quote handling: the part of a body the sender wrote."""

from __future__ import annotations

import re

_QUOTE_HEADER_LINE = re.compile(
    r"""^(?:-{2,}\s*Original\s+Message\s*-{2,}
      | -{2,}\s*(?:Forwarded|Weitergeleitete)\s+(?:message|Nachricht)\s*-{2,}
      | Begin\s+forwarded\s+message:
      | _{20,}\s*$)""",
    re.IGNORECASE | re.VERBOSE,
)
_ATTRIBUTION_START = re.compile(r"^(?:On|Am|Le|El)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(?:wrote|schrieb|a\s+[ée]crit|escribi[óo])\s*:\s*$", re.IGNORECASE)
_OUTLOOK_FIELD = re.compile(r"^(?:Sent|Date|Gesendet|Envoy[ée]|Enviado)\s*:", re.IGNORECASE)


def customer_text(body: str) -> str:
    """The part of a body the sender wrote: up to the first quote header, without ``>`` lines.

    Cuts at "On <date>, <name> wrote:" (also when wrapped over two lines, and its German, French and
    Spanish forms), "-----Original Message-----", Outlook's "From: / Sent:" block, forwarded-message
    markers and Outlook's underscore rule.
    """
    lines = body.splitlines()
    own: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if _QUOTE_HEADER_LINE.match(stripped):
            break
        if _ATTRIBUTION_START.match(stripped) and len(stripped) < 400:
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if _ATTRIBUTION_END.search(stripped) or (
                len(following) < 200 and _ATTRIBUTION_END.search(following)
            ):
                break
        if stripped.lower().startswith("from:") and index + 1 < len(lines):
            following = lines[index + 1].strip() or (
                lines[index + 2].strip() if index + 2 < len(lines) else ""
            )
            if _OUTLOOK_FIELD.match(following):
                break
        if not stripped.startswith(">"):
            own.append(line)
    return "\n".join(own)
