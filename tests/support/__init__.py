"""Test support: private real services (Mosquitto, InfluxDB, PostgreSQL) on free ports."""
