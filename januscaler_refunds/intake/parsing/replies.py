"""Reply and quote handling: the part of a body the sender wrote themselves.

The split into replies is done by mail-parser-reply (``mailparser_reply``, MIT): it knows the reply
headers of Gmail, Outlook desktop and web, Apple Mail and Thunderbird in English, German, French,
Spanish, Italian, Dutch and Japanese (``Von:``/``Gesendet:``, ``De :``/``Envoyé :``, ``Am … schrieb``,
``Le … a écrit :``, ``El … escribió:``, ``Il … ha scritto:``, ``Op … schreef``) and strips signatures
("Best regards", "Sent from my iPhone", ...). The choice and its measured results on
``tests/intake/corpus_languages`` are in ``docs/intake.md``.

The rules below are kept only where the library falls short on that corpus; each has its own test in
``tests/intake/test_replies.py``:

``R1``  quoted lines (``>``) are never the customer's, whatever header introduced them;
``R2``  reply headers the library does not know: Portuguese ``Em … escreveu:``, Hindi ``… ने लिखा:``,
        Japanese Apple Mail ``…のメッセージ:`` and Thunderbird ``…書きました:``;
``R3``  forwarded-message markers (Gmail's ``---------- Forwarded message ---------`` is matched by
        the library only as a separator it then keeps, with the forwarded text after it);
``R4``  "sent from my phone" lines in the languages whose list in the library lacks them
        (``Von meinem iPhone gesendet``, ``Envoyé de mon iPhone``, ``Enviado do meu iPhone``,
        ``iPhoneから送信``, ``Sent from Outlook for Android``);
``R5``  a signature the library found is removed only when it looks like one (a few short lines), so
        a sentence that starts with "Best regards" or "Thanks," does not cost the customer's text.
"""

from __future__ import annotations

import logging
import re

from mailparser_reply import EmailReplyParser

log = logging.getLogger(__name__)

# Languages whose reply headers and signatures mail-parser-reply should know. English is always
# added by the library.
REPLY_LANGUAGES = ("de", "fr", "es", "it", "nl", "ja")

# R2: attribution lines that introduce quoted text, per language the library lacks. Short lines
# only (< 300 characters), and the marker must end the line, so a sentence that merely contains
# "escreveu" is kept.
_ATTRIBUTION = re.compile(
    r"""^(?:
        Em\s.{1,250}\sescreveu\s*:                # pt: Em seg., 3 de mar. de 2025 às 10:15, X escreveu:
      | .{1,250}\sने\s+लिखा\s*:                   # hi: सोम, 3 मार्च 2025 को ... X ने लिखा:
      | .{1,250}の(?:メッセージ|メール)\s*[:：]     # ja (Apple Mail): 2025/03/03 10:15、X のメッセージ:
      | .{1,250}(?:さん)?(?:は|が)?書きました\s*[:：]  # ja (Thunderbird): ... X さんは書きました:
    )\s*$""",
    re.VERBOSE,
)
# R3: the first line of a forwarded message; everything from it on was written by someone else.
_FORWARD_MARKER = re.compile(
    r"""^(?:-{2,}\s*(?:Forwarded\s+message|Weitergeleitete\s+Nachricht|Message\s+transf[ée]r[ée]
            |Mensaje\s+reenviado|Mensagem\s+encaminhada|Messaggio\s+inoltrato
            |Doorgestuurd\s+bericht|転送されたメッセージ)\s*-{2,}
        | Begin\s+forwarded\s+message\s*:
        | Anfang\s+der\s+weitergeleiteten\s+Nachricht\s*:
        | D[ée]but\s+du\s+message\s+r[ée]exp[ée]di[ée]\s*:
        | -{2,}\s*Original\s+Message\s*-{2,}
        | -{2,}\s*Urspr[üu]ngliche\s+Nachricht\s*-{2,}
        | -{2,}\s*Message\s+d'origine\s*-{2,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# R4: one-line "sent from my phone" signatures.
_SENT_FROM = re.compile(
    r"""^(?:Sent\s+from\s+(?:my\s+)?\S.{0,40}
        | Von\s+meinem\s+\S.{0,30}\s+gesendet
        | Gesendet\s+von\s+(?:meinem\s+)?\S.{0,30}
        | Envoy[ée]\s+de\s+mon\s+\S.{0,30}
        | Enviado\s+(?:desde|do|de)\s+(?:mi|meu|o\s+meu)\s+\S.{0,30}
        | Inviato\s+da\s+\S.{0,30}
        | Verzonden\s+(?:vanaf|met)\s+(?:mijn\s+)?\S.{0,30}
        | \S{1,30}から送信
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_MAX_ATTRIBUTION_CHARS = 300
_MAX_SIGNATURE_LINES = 8
_MAX_SIGNATURE_LINE_CHARS = 80
_MAX_SIGN_OFF_CHARS = 40  # "Mit freundlichen Grüßen", "Thanks, Bob"


def customer_text(body: str) -> str:
    """The part of ``body`` the sender wrote: no quoted reply, no forwarded message, no signature.

    Never raises; if the library fails on odd input the hand-written rules alone apply.
    """
    text = _latest_reply(body)
    own: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if _FORWARD_MARKER.match(stripped):
            break
        if len(stripped) < _MAX_ATTRIBUTION_CHARS and _ATTRIBUTION.match(stripped):
            break
        if stripped.startswith(">") or _SENT_FROM.match(stripped):
            continue
        own.append(line)
    return "\n".join(own).strip()


def _latest_reply(body: str) -> str:
    if not body.strip():
        return ""
    try:
        message = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(body)
        if not message.replies:
            return body
        reply = message.replies[0]
        text = reply.content
        for disclaimer in reply.disclaimers or []:
            text = text.replace(disclaimer, "")
        if reply.signatures and _short_block(reply.signatures):
            text = text.replace(reply.signatures, "")
    except Exception:  # a library bug on hostile input must not cost the message its text
        log.warning("mail-parser-reply failed; using the hand-written rules alone", exc_info=True)
        return body
    return text.strip()


def _short_block(signature: str) -> bool:
    """R5: the library cuts from a sign-off word ("Best regards", "Thanks,") to the end. A real
    signature is a few short lines; a long "signature" is the customer's text after a sentence that
    happens to start with such a word ("Best regards from Berlin! I want a refund of 10 EUR ...")."""
    lines = [line.strip() for line in signature.splitlines() if line.strip()]
    return (
        bool(lines)
        and len(lines) <= _MAX_SIGNATURE_LINES
        and len(lines[0]) <= _MAX_SIGN_OFF_CHARS
        and all(len(line) <= _MAX_SIGNATURE_LINE_CHARS for line in lines)
    )
