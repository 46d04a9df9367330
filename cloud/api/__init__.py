"""The Salinmas cloud API (FastAPI): see :func:`cloud.api.app.create_app`.

Layout: ``settings.py`` (``ApiSettings``), ``app.py`` (factory + runner), ``deps.py``
(session, caller, the one place for role and ownership rules), ``errors.py``
(problem+json), ``idempotency.py``, ``live.py`` + ``mqtt.py`` (the live stream and
device commands), ``routes/<resource>.py`` (one router each), ``static/`` (the
dashboard, owned by its own module).
"""
