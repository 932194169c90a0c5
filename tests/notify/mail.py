"""E-mails as the local SMTP receiver got them, read as a reader's mail program reads them; their HTML parsed."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from html.parser import HTMLParser


def parsed(received: dict[str, str]) -> EmailMessage:
    """A message off the wire: SMTP doubles a line's leading dot (RFC 5321 4.5.2), the receiver keeps it."""
    raw = "\n".join(line[1:] if line.startswith("..") else line for line in received["text"].split("\r\n"))
    message = email.message_from_string(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str | None]:
    """(the text/plain part, the text/html part or None), decoded."""
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    return plain.get_content(), html.get_content() if html is not None else None  # type: ignore[attr-defined]


class Html(HTMLParser):
    """Every element (tag, attributes), the text a reader sees, and each decision row's cells as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None
        self._cell: list[str] | None = None

    @classmethod
    def of(cls, source: str) -> Html:
        doc = cls()
        doc.feed(source)
        doc.close()
        return doc

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.elements.append((tag, found))
        decision = found.get("data-decision")
        if tag == "tr" and decision:
            self._row = decision
            self.rows[decision] = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self.rows[self._row].append("".join(self._cell))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    @property
    def visible(self) -> str:
        return "".join(self.text)
