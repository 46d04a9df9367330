"""Salinmas cloud: the domain (ledger, pricing, pickups, devices), ingest and API.

Layout (the domain is written once; ``ingest`` and ``api`` both call it):

- :mod:`cloud.db` — engines (SQLite WAL / PostgreSQL via psycopg 3), sessions, ``migrate``,
  IN-list chunks, the race-retry rule;
- :mod:`cloud.models` — ORM tables on one ``Base``; Alembic migrations in ``migrations/``;
- :mod:`cloud.errors` — what a domain rule raises when it refuses;
- :mod:`cloud.households` — sites, households, member cards;
- :mod:`cloud.pricing` — waste categories, versioned prices, rounding;
- :mod:`cloud.postings` — accounts, the account lock, double-entry postings, the balance
  (:func:`cloud.postings.funds`), statements;
- :mod:`cloud.crediting` — crediting weigh-ins exactly once (the one crediting path);
- :mod:`cloud.corrections` — assigning an unassigned weigh-in, reversing a credit;
- :mod:`cloud.payouts` — cash payouts, never beyond the available balance;
- :mod:`cloud.devices` — the device registry (status, Last Will, health);
- :mod:`cloud.pickups` — bins, the fill policy, pickups and alerts;
- :mod:`cloud.deadletters` — refused messages kept for operators;
- :mod:`cloud.telemetry` — the telemetry store (InfluxDB v1 API, or embedded SQLite);
- :mod:`cloud.ingest` — MQTT -> validate -> ledger + telemetry -> receipts;
- :mod:`cloud.api` — the HTTP API and dashboard;
- :mod:`cloud.broker_accounts` — Mosquitto password and ACL files.
"""
