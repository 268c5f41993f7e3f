"""Reading the portal's HTML in tests as a browser would: form values, field containers, links."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class Page(HTMLParser):
    """Each form control's value, each field's container, each link and each rows button."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        self.values: dict[str, str] = {}
        self.containers: list[str] = []
        self.buttons: list[str] = []
        self.links: list[str] = []
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", html)]
        self._divs: list[tuple[bool, int]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div":
            self._divs.append(("field" in (a.get("class") or "").split(), self._offset()))
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "button" and a.get("name") == "_rows":
            self.buttons.append(a.get("value") or "")
        elif tag == "input" and a.get("name") and a.get("type") != "submit":
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "select" and a.get("name"):
            # A select without a name is never submitted (a page control, such as the theme's).
            self._select = a.get("name")
            self.values.setdefault(self._select, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            is_field, start = self._divs.pop()
            if is_field:
                self.containers.append(self.html[start : self._offset() + len("</div>")])
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            # Like a browser, drop the one newline that follows <textarea>.
            self.values[self._textarea] = self.values[self._textarea].removeprefix("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    @property
    def fields(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if k != "csrfmiddlewaretoken"}

    def container(self, name: str) -> str:
        """The HTML of the field container holding the control named ``name``."""
        [found] = [c for c in self.containers if re.search(rf'name="{re.escape(name)}"', c)]
        return found


def page(response) -> Page:
    return Page(response.content.decode())
