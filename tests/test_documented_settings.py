"""Every environment variable the portal reads is documented: in the README's settings table and
in .env.example. The variables are found where the code reads them, so a new one without its
documentation fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"

# Where settings are read, and how: the settings helpers and os.environ in Python, %(ENV_X)s and
# ${X} in the supervisord configurations, ${X} and the checked list in the Makefile.
PYTHON_READS = re.compile(
    r"""(?:env_(?:str|bool|int|float)\(|os\.environ\.get\(|os\.environ\[|os\.getenv\()\s*["']([A-Z][A-Z0-9_]*)["']"""
)
SHELL_READS = re.compile(r"%\(ENV_([A-Z][A-Z0-9_]*)\)s|\$\{([A-Z][A-Z0-9_]*)")
MAKE_CHECKED = re.compile(r"^SERVE_NEEDS\s*:=\s*(.*)$", re.MULTILINE)
# The system's own variables and Django's standard one, which are not the portal's settings.
NOT_SETTINGS = {"PATH", "HOME", "DJANGO_SETTINGS_MODULE"}


def variables_read() -> dict[str, set[str]]:
    """Each variable the code reads, with the files that read it."""
    found: dict[str, set[str]] = {}

    def note(names, path: Path) -> None:
        for name in names:
            if name and name not in NOT_SETTINGS:
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))

    for folder in ("portal", "integrations", "sandbox", "operations", "awsmodel"):
        for path in (ROOT / folder).rglob("*.py"):
            if "migrations" not in path.parts:
                note(PYTHON_READS.findall(path.read_text()), path)
    for path in [*(ROOT / "deploy").glob("*.conf"), ROOT / "Makefile"]:
        text = path.read_text()
        note((a or b for a, b in SHELL_READS.findall(text)), path)
        for listed in MAKE_CHECKED.findall(text):
            note(listed.split(), path)
    return found


def readme_settings_table() -> str:
    text = README.read_text()
    section = text[text.index("## Settings (environment variables)") :]
    section = section[: section.index("\n## ", 1)]
    return "\n".join(line for line in section.splitlines() if line.startswith("|"))


def test_the_search_finds_the_variables_read_in_each_kind_of_file():
    found = variables_read()

    assert "portal/settings.py" in found["DJANGO_SECRET_KEY"]
    assert "portal/gunicorn.conf.py" in found["PORTAL_WEB_BIND"]
    assert "deploy/supervisord.conf" in found["PORTAL_QUEUE_PREFIX"]
    assert "Makefile" in found["DATABASE_URL"]


def test_every_variable_read_is_in_the_readme_settings_table():
    table = readme_settings_table()

    missing = {name: files for name, files in variables_read().items() if f"`{name}`" not in table}

    assert not missing, f"not in the README's settings table: {missing}"


def test_every_variable_read_is_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))

    missing = {name: files for name, files in variables_read().items() if name not in documented}

    assert not missing, f"not in .env.example: {missing}"
