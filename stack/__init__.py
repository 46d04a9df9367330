"""The roof of Salinmas: the ``salinmas`` command line, the demo, the brokers it starts.

Everything below (``cloud``, ``edge``, ``simulators``, ``contract`` and the ``salinmas``
ground package of settings and clients) may be imported from here; nothing below imports
this package (``scripts/import_graph.py`` checks it).
"""
