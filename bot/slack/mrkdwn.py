"""Text for Slack's mrkdwn, made safe and made to fit.

Slack reads `<...>` as a control sequence (`<!channel>`, `<@U...>`, `<https://x|label>`) and `&` as
the start of an entity, so text the bot did not write itself (reasons from MCP or the CLI, a deploy
pipeline's `deployed_by` and `version`, file paths, host errors, deny reasons) goes through `escape`
wherever it is shown: `<!channel>` then shows as text and pings nobody. Slash-command text arrives
already escaped by Slack; the Slack edge turns it back (`unescape`) so the core holds what the
person typed, and rendering escapes it once.

A section's text holds at most 3000 characters and a message at most 50 blocks: `chunks` splits
long text at line ends (or, for one long line, anywhere but inside a `<...>` token), so nothing is
cut silently."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SECTION_LIMIT = 3000  # a section's (and a context element's) text, in characters
MAX_BLOCKS = 50  # in one message
_TOKEN = re.compile(r"<[^<>]*>")
_DOCTOR = re.compile(r"run `aspreset doctor ([^`]*)`")  # a host error's advice (bot.app.errors.DOCTOR_HINT)


def escape(text: object) -> str:
    """`&`, `<`, `>` as Slack's entities: shown as typed, never a mention or a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What Slack escaped in a slash command's text, back to what the person typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def for_chat(text: str) -> str:
    """A core sentence as chat shows it: the CLI's `aspreset status` is `/recycle status` here, and a
    command given without its front end's prefix (`recycle shop-web --from web03`) is typed
    `/recycle shop-web --from web03`. The advice to run the CLI's doctor on a host, which chat has
    no command for, becomes who can."""
    text = _DOCTOR.sub(r"whoever runs the bot can check how it reaches \1 (its doctor command)", text)
    return text.replace("`aspreset ", "`/recycle ").replace("`recycle ", "`/recycle ")


def code(text: object) -> str:
    """Inline code, escaped; a backtick in the text would end the code span early."""
    return "`" + escape(text).replace("`", "'") + "`"


def web_url(url: str | None) -> str | None:
    """The URL when it is http(s) and cannot break out of a `<url|label>` link, else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    if any(c in url for c in "<>|\"' ") or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    return url


def link(url: str | None, label: str) -> str:
    """`<url|label>` for a safe web URL; the escaped label alone otherwise."""
    safe = web_url(url)
    return f"<{safe}|{escape(label)}>" if safe else escape(label)


def chunks(text: str, limit: int = SECTION_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` characters: whole lines where they fit, a longer line
    split between tokens (never inside `<...>`, never inside an `&...;` entity). Every
    character is kept, in order."""
    out: list[str] = []
    for line in text.split("\n"):
        for piece in _split_line(line, limit):
            if out and len(out[-1]) + 1 + len(piece) <= limit:
                out[-1] += "\n" + piece
            else:
                out.append(piece)
    return out or [""]


def _split_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while len(line) > limit:
        cut = limit
        for token in _TOKEN.finditer(line, 0, limit + 512):
            if token.start() < cut < token.end():
                cut = token.start()
                break
        amp = line.rfind("&", max(0, cut - 8), cut)
        if amp != -1 and ";" not in line[amp:cut] and ";" in line[cut:cut + 8]:
            cut = amp  # not inside &amp; &lt; &gt;
        if cut == 0:  # one token longer than a section: it cannot be kept whole anywhere
            cut = limit
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces
