"""Where code may reach: the product never imports the sandbox, the shared model layer never
imports Django, and production does not install the sandbox at all."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("portal", "integrations", "operations", "awsmodel")
SHARED = ("operations", "awsmodel")


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module each file of ``package`` imports, by the file's path."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


@pytest.mark.parametrize("package", PRODUCT)
def test_no_product_module_imports_the_sandbox(package):
    offenders = {path: names for path, names in imported_modules(package).items() if "sandbox" in map(_top, names)}

    assert offenders == {}


@pytest.mark.parametrize("package", SHARED)
def test_the_shared_model_layer_does_not_import_django(package):
    offenders = {
        path: sorted(n for n in names if _top(n) in ("django", "rest_framework", "integrations", "sandbox"))
        for path, names in imported_modules(package).items()
    }

    assert {path: names for path, names in offenders.items() if names} == {}


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "DJANGO_"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_shared_layer_loads_every_operation_without_django_in_the_process():
    result = _run(
        "import sys; from operations import all_operations; from operations.checks import check_parameters; "
        "print(len(all_operations()), any(m.split('.')[0] == 'django' for m in sys.modules))"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["5", "False"]


def test_production_does_not_install_the_sandbox_app_and_development_does():
    code = (
        "import django; django.setup(); from django.conf import settings; print('sandbox' in settings.INSTALLED_APPS)"
    )
    production = _run(
        code,
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_ENVIRONMENT="production",
        DJANGO_SECRET_KEY="a-production-secret",
        # Production names its database and broker (it never falls back to the embedded ones).
        DATABASE_URL="postgres://portal@db.internal/portal",
        CELERY_BROKER_URL="amqp://mq.internal//",
    )
    development = _run(code, DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_ENVIRONMENT="development")

    assert (production.returncode, development.returncode) == (0, 0), production.stderr + development.stderr
    assert (production.stdout.strip(), development.stdout.strip()) == ("False", "True")
