from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """The local AWS sandbox and the development helpers around it (``aws_sandbox``,
    ``ensure_local_admin``). A development and test tool: not installed in production, and
    never imported by the portal's own code."""

    name = "sandbox"
    verbose_name = "AWS sandbox (development)"
