"""Filling an operation's form in the browser the way a person does."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import settle


def field(page: Page, name: str):
    return page.locator(f"#id_{name}")


def add_row_for(page: Page, name: str) -> None:
    """Click the add-row button of the rows that ``name`` belongs to, until its field exists."""
    parts = name.split("__")
    index = max(i for i, part in enumerate(parts) if part.isdigit())
    rows = page.locator(f"#rows-{'__'.join(parts[:index])}")
    # A group's own button comes after its rows (and after the buttons of rows nested in them).
    rows.get_by_role("button", name=re.compile(r"^Add .+ row\b")).last.click()
    expect(field(page, name)).to_be_attached()
    settle(page)


def type_into(page: Page, name: str, value: str) -> None:
    """Type a value (or pick a choice), then leave the field so that it is checked."""
    target = field(page, name)
    tag = page.evaluate("id => document.getElementById(id)?.tagName ?? null", f"id_{name}")
    if tag is None:
        add_row_for(page, name)
    if tag == "SELECT":
        target.select_option(value)
    else:
        target.fill(value)
        target.press("Tab")
    settle(page)


def fill_form(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        type_into(page, name, value)


def expect_values(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        expect(field(page, name)).to_have_value(value)
