"""botocore's service models, read once for the whole project: the portal and the AWS sandbox.

Nothing here imports Django. The portal's forms, API and worker and the sandbox (which plays
the services) use the same walk over shapes (``shapes``), the same validator (``constraints``),
the same JSON Schema (``schema``) and the same redaction of sensitive members (``redaction``),
so that the portal can never accept what the (sandbox) service refuses, or the other way round.
"""
