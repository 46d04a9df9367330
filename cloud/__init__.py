"""Salinmas cloud: the domain (ledger, pricing, pickups, devices), ingest and API."""
