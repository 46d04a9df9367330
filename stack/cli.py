"""``salinmas`` — one command line, a subcommand per process.

    salinmas demo                         the whole system with simulated devices
    salinmas edge run --config F          the Raspberry Pi agent (scale station and/or bins)
    salinmas edge reprint --config F      print the last (or one) ticket again
    salinmas edge identity --config F     the device's key (made if missing), code and config hashes
    salinmas ingest run --config F        cloud ingest worker (MQTT -> ledger + InfluxDB)
    salinmas ingest retire --config F     drain a worker's broker session, then end it
    salinmas ingest rollup --config F --since DAY   roll up InfluxDB history for the charts
    salinmas api run --config F           cloud API and operator dashboard
    salinmas notify run --config F        send notifications (SMS via Gammu, HTTP gateways)
    salinmas notify gammu-setup ...       create Gammu SMSD's tables, write its smsdrc
    salinmas sim {scale,cards,bin,fleet,load,printer} ...   hardware simulators
    salinmas broker config|accounts       production Mosquitto configuration and accounts
    salinmas db migrate --url URL         create/upgrade the ledger schema
    salinmas audit --url URL              check the journal's and the stations' hash chains
    salinmas admin create-user ...        the first operator/admin account
    salinmas fraud scan --url URL         raise fraud cases (idempotent; run from a timer)
    salinmas report monthly --url URL     the monthly programme report as print-ready HTML
    salinmas contract schemas [DIR]       export the wire contract's JSON Schemas

Every subcommand has ``--help``. Imports happen inside the subcommand, so a Pi with only
the ``edge`` extra installed can run ``salinmas edge`` without the cloud packages.

One module of ~470 lines on purpose: the command table (every parser) is read in one
place, and each handler is a few lines that import its subsystem lazily.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from salinmas import __version__

SIMULATORS = {
    "scale": ("simulators.scales.cli", "a weighing indicator on a pseudo-terminal"),
    "cards": ("simulators.cards", "an RDM6300 / barcode member-card reader on a pty"),
    "bin": ("simulators.bins", "a bin's ultrasonic fill sensor on gpiozero mock pins"),
    "fleet": ("simulators.fleet", "N scale stations and M bins as real edge agents"),
    "load": ("simulators.load", "publish contract events at a set rate (benchmarks)"),
    "printer": ("simulators.printer", "an ESC/POS ticket printer on a pty (tickets to a file)"),
}


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )


def _call(target: str, *args: Any, **kwargs: Any) -> Any:
    """Import ``module:function`` lazily and call it."""
    module, _, path = target.partition(":")
    obj: Any = importlib.import_module(module)
    for name in path.split("."):
        obj = getattr(obj, name)
    fn: Callable[..., Any] = obj
    return fn(*args, **kwargs)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        "-c",
        type=Path,
        help="TOML settings file (env SALINMAS_CONFIG); environment variables override it",
    )


def _run_edge(ns: argparse.Namespace) -> int:
    settings = _call("edge.config:EdgeSettings.load", ns.config)
    return int(_call("edge.agent:run", settings) or 0)


def _reprint(ns: argparse.Namespace) -> int:
    settings = _call("edge.config:EdgeSettings.load", ns.config)
    return int(_call("edge.tickets:reprint_cli", settings, ns.event_id) or 0)


def _edge_identity(ns: argparse.Namespace) -> int:
    import json

    settings = _call("edge.config:EdgeSettings.load", ns.config)
    print(json.dumps(_call("edge.identity:describe_identity", settings), indent=2))
    return 0


def _run_ingest(ns: argparse.Namespace) -> int:
    settings = _call("cloud.ingest.settings:IngestSettings.load", ns.config)
    return int(_call("cloud.ingest.lifecycle:run", settings) or 0)


def _retire_ingest(ns: argparse.Namespace) -> int:
    settings = _call("cloud.ingest.settings:IngestSettings.load", ns.config)
    return int(_call("cloud.ingest.lifecycle:retire", settings, idle_s=ns.idle_s) or 0)


def _rollup_ingest(ns: argparse.Namespace) -> int:
    settings = _call("cloud.ingest.settings:IngestSettings.load", ns.config)
    tz = ZoneInfo(settings.telemetry.timezone)
    since = datetime.combine(date.fromisoformat(ns.since), time(), tz)
    done = _call(
        "cloud.telemetry:backfill_rollups",
        settings.telemetry,
        since,
        lambda name, at: print(f"{name}: covered from {at.astimezone(tz):%Y-%m-%d %H:%M}"),
    )
    if not done:
        print("no InfluxDB sink in [ingest.telemetry]: nothing to roll up")
    for covered in done:
        for name, at in sorted(covered.items()):
            print(f"{name}: complete from {at.astimezone(tz):%Y-%m-%d %H:%M %Z}")
    return 0


def _run_api(ns: argparse.Namespace) -> int:
    given = (("host", ns.host), ("port", ns.port), ("workers", ns.workers))
    overrides = {k: v for k, v in given if v is not None}
    settings = _call("cloud.api.settings:ApiSettings.load", ns.config, **overrides)
    return int(_call("cloud.api.app:run", settings, config_file=ns.config) or 0)


def _run_notify(ns: argparse.Namespace) -> int:
    settings = _call("cloud.notifications.settings:NotifySettings.load", ns.config)
    return int(_call("cloud.notifications.sender:run", settings) or 0)


def _gammu_setup(ns: argparse.Namespace) -> int:
    settings = _call("cloud.notifications.settings:NotifySettings.load", ns.config)
    kw = {"channel": ns.channel, "smsdrc_path": ns.smsdrc, "device": ns.device}
    return int(_call("cloud.notifications.channels.gammu:setup", settings, **kw) or 0)


def _run_demo(ns: argparse.Namespace) -> int:
    return int(_call("stack.demo:main", ns) or 0)


def _run_migrate(ns: argparse.Namespace) -> int:
    _call("cloud.db:migrate", ns.url)
    print(f"ledger schema is at head: {ns.url}")
    return 0


def _run_audit(ns: argparse.Namespace) -> int:
    head = None
    if ns.head:
        pos, _, digest = ns.head.partition(":")
        head = (int(pos), digest)
    return int(_call("cloud.chain_audit:main", ns.url, head=head))


def _run_create_user(ns: argparse.Namespace) -> int:
    try:
        _call(
            "cloud.auth:create_user_cli",
            url=ns.url,
            username=ns.username,
            role=ns.role,
            password=ns.password,
            site=ns.site,
        )
    except ValueError as exc:  # cloud.auth.InvalidInput: a rule the account breaks
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _run_fraud_scan(ns: argparse.Namespace) -> int:
    r = _call("cloud.stock_commands:fraud_scan", url=ns.url, days=ns.days, last=ns.last, tz=ns.tz)
    print(
        f"scanned {r.first}..{r.last}: {r.hits} hits, {r.raised} new cases "
        f"{dict(sorted(r.raised_by_rule.items()))}, {r.extended} extended, {r.known} known"
    )
    return 0


def _run_report_monthly(ns: argparse.Namespace) -> int:
    month = date.fromisoformat(f"{ns.month}-01")
    out = ns.out or Path(f"salinmas-report-{ns.month}{'-' + ns.site if ns.site else ''}.html")
    path = _call(
        "cloud.stock_commands:monthly_html",
        url=ns.url,
        month=month,
        out=out,
        lang=ns.lang,
        site=ns.site,
        tz=ns.tz,
    )
    print(path)
    return 0


def _run_schemas(ns: argparse.Namespace) -> int:
    from contract.__main__ import write_schemas

    for p in write_schemas(ns.dir):
        print(p)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salinmas",
        description="Salinmas: scale stations, bins and exactly-once credits for waste "
        "buy-back programmes. Start with `salinmas demo`.",
    )
    parser.add_argument("--version", action="version", version=f"salinmas {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=1, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbose")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run broker, ingest, API, dashboard and simulated devices locally",
        description="Start the whole system on embedded defaults (in-process MQTT broker or "
        "a local Mosquitto, SQLite ledger, SQLite telemetry) with simulated scale stations "
        "and bins, and print where to look. Ctrl-C stops everything.",
    )
    demo.add_argument("--port", type=int, default=8000, help="API/dashboard port (8000)")
    demo.add_argument("--mqtt-port", type=int, default=0, help="broker port (a free one)")
    demo.add_argument("--stations", type=int, default=2, help="simulated scale stations (2)")
    demo.add_argument("--bins", type=int, default=3, help="simulated bins (3)")
    demo.add_argument(
        "--speed", type=float, default=288.0, help="time acceleration (288: a day in 5 min)"
    )
    demo.add_argument("--data-dir", type=Path, default=Path("var/demo"), help="state (var/demo)")
    demo.add_argument("--seconds", type=float, default=0, help="stop after N s (0: Ctrl-C)")
    demo.add_argument(
        "--broker",
        choices=["auto", "embedded", "mosquitto"],
        default="auto",
        help="auto: Mosquitto when installed, else the embedded amqtt broker",
    )
    demo.set_defaults(func=_run_demo)

    edge = sub.add_parser("edge", help="the edge agent that runs on a Raspberry Pi")
    edge_sub = edge.add_subparsers(dest="edge_command", required=True, metavar="ACTION")
    edge_run = edge_sub.add_parser(
        "run",
        help="run the agent (scale station and/or bins)",
        description="Read the scale, card reader and bin sensors configured in the TOML file "
        "and publish weigh-ins, fill levels and health over MQTT, store-and-forward. "
        "See deploy/station.toml for an example.",
    )
    _config_arg(edge_run)
    edge_run.set_defaults(func=_run_edge)
    edge_reprint = edge_sub.add_parser(
        "reprint",
        help="print a ticket again (the last one, or --event-id)",
        description="Mark a ticket in the station's ticket spool for printing again; the "
        "running agent prints it (within a second, or when the printer is back).",
    )
    _config_arg(edge_reprint)
    edge_reprint.add_argument("--event-id", help="the weigh-in's event id (default: the last)")
    edge_reprint.set_defaults(func=_reprint)
    edge_id = edge_sub.add_parser(
        "identity",
        help="print the device's public key, software hash and configuration hash",
        description="Make the device's Ed25519 key if there is none yet (provisioning; the "
        "private key stays in key_file, mode 0600) and print what an operator compares "
        "with the dashboard before approving the device: key id and public key, the hash "
        "of the installed code and of the station's metrological configuration.",
    )
    _config_arg(edge_id)
    edge_id.set_defaults(func=_edge_identity)

    ingest = sub.add_parser("ingest", help="cloud ingest worker")
    ingest_sub = ingest.add_subparsers(dest="ingest_command", required=True, metavar="ACTION")
    ingest_run = ingest_sub.add_parser(
        "run",
        help="consume device messages: validate, store telemetry, credit the ledger",
        description="Subscribe to every device topic (shared subscription when configured), "
        "validate against the wire contract, write telemetry to InfluxDB (or SQLite), credit "
        "weigh-ins exactly once and publish receipts. Bad messages go to the dead letters.",
    )
    _config_arg(ingest_run)
    ingest_run.set_defaults(func=_run_ingest)
    ingest_retire = ingest_sub.add_parser(
        "retire",
        help="retire a worker for good: process what the broker queued for it, end its session",
        description="Reconnect with the worker's client_id (from the config) without "
        "subscribing, process the messages the broker queued for its session until none "
        "arrived for --idle-s seconds, then end the session so the other workers on the "
        "shared subscription receive everything. Stop the worker first.",
    )
    _config_arg(ingest_retire)
    ingest_retire.add_argument(
        "--idle-s", type=float, default=5.0, help="quiet time that means drained (default 5)"
    )
    ingest_retire.set_defaults(func=_retire_ingest)
    ingest_rollup = ingest_sub.add_parser(
        "rollup",
        help="roll up InfluxDB's raw history since a day, so charts read it after it expires",
        description="The continuous queries roll up readings as they arrive; history "
        "written before they existed (an upgrade) is rolled up here, newest first, from "
        "where the rollups are complete back to --since (no earlier than the raw retention "
        "keeps whole days). Safe to run again, or while the ingest runs.",
    )
    _config_arg(ingest_rollup)
    ingest_rollup.add_argument("--since", required=True, help="first local day, YYYY-MM-DD")
    ingest_rollup.set_defaults(func=_rollup_ingest)

    api = sub.add_parser("api", help="cloud API and operator dashboard")
    api_sub = api.add_subparsers(dest="api_command", required=True, metavar="ACTION")
    api_run = api_sub.add_parser(
        "run",
        help="serve the HTTP API (OpenAPI docs at /docs) and the dashboard",
        description="Serve the REST API, the live stream and the dashboard with uvicorn.",
    )
    _config_arg(api_run)
    api_run.add_argument("--host", help="bind address (default from settings)")
    api_run.add_argument("--port", type=int, help="port (default from settings)")
    api_run.add_argument("--workers", type=int, help="worker processes (default from settings)")
    api_run.set_defaults(func=_run_api)

    notify = sub.add_parser("notify", help="notifications to households and operators")
    notify_sub = notify.add_subparsers(dest="notify_command", required=True, metavar="ACTION")
    notify_run = notify_sub.add_parser(
        "run",
        help="send what the notification outbox holds (SMS, HTTP gateways)",
        description="Claim due notifications, hand SMS to Gammu SMSD (its SQL tables in the "
        "ledger database), post to the Apprise URLs of [notify.channels], retry with backoff "
        "and read back delivery status. Several senders may run on one database.",
    )
    _config_arg(notify_run)
    notify_run.set_defaults(func=_run_notify)
    gammu = notify_sub.add_parser(
        "gammu-setup",
        help="create Gammu SMSD's tables in the ledger database and write its smsdrc",
        description="For the [notify.channels.NAME] Gammu channel: create Gammu's tables "
        "(schema 17, gammu-smsd 1.42) and write the gammu-smsdrc that points gammu-smsd "
        "at them (then: gammu-smsd -c FILE).",
    )
    _config_arg(gammu)
    gammu.add_argument("--channel", default="sms", help="the Gammu channel's name (sms)")
    gammu.add_argument("--smsdrc", type=Path, required=True, help="where to write the smsdrc")
    gammu.add_argument("--device", default="/dev/ttyUSB0", help="the modem (/dev/ttyUSB0)")
    gammu.set_defaults(func=_gammu_setup)

    sim = sub.add_parser(
        "sim",
        help="hardware simulators (scales on ptys, card readers, bins, fleets, load)",
        description="Simulated hardware. `salinmas sim KIND --help` for each.",
    )
    sim.add_argument("kind", choices=sorted(SIMULATORS), help="which simulator")
    sim.add_argument("args", nargs=argparse.REMAINDER, help="the simulator's own arguments")

    broker = sub.add_parser("broker", help="the production Mosquitto broker")
    broker_sub = broker.add_subparsers(dest="broker_command", required=True, metavar="ACTION")
    bconf = broker_sub.add_parser("config", help="print the production mosquitto.conf")
    bconf.add_argument("--port", type=int, default=8883)
    bconf.add_argument("--data-dir", type=Path, default=Path("/var/lib/mosquitto"))
    bconf.add_argument(
        "--tls-dir",
        type=Path,
        default=Path("/etc/mosquitto/certs"),
        help="holds ca.crt, server.crt, server.key",
    )
    bconf.add_argument("--plugin", type=Path, help="dynamic-security plugin (found if omitted)")
    bconf.set_defaults(func=lambda ns: int(_call("stack.mosquitto:cli_config", ns)))
    bacc = broker_sub.add_parser(
        "accounts",
        help="write the initial dynamic-security document (service accounts)",
        description="Passwords from SALINMAS_BROKER_INGEST_PASSWORD, "
        "SALINMAS_BROKER_API_PASSWORD and SALINMAS_BROKER_ADMIN_PASSWORD.",
    )
    bacc.add_argument("--out", type=Path, default=Path("/var/lib/mosquitto/dynamic-security.json"))
    bacc.add_argument("--force", action="store_true", help="replace an existing document")
    bacc.set_defaults(func=lambda ns: int(_call("stack.mosquitto:cli_accounts", ns)))

    db = sub.add_parser("db", help="ledger database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = db_sub.add_parser("migrate", help="create or upgrade the ledger schema")
    migrate.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. sqlite:///ledger.db")
    migrate.set_defaults(func=_run_migrate)

    aud = sub.add_parser(
        "audit",
        help="check that nothing in the ledger or the weigh-ins was rewritten",
        description="Walk the journal's hash chain (every entry and its postings), every "
        "station key's weigh-in chain (signatures checked again from the stored columns) "
        "and the weigh-ins' credits; print the first break and exit 1 if there is one. "
        "Read-only: run it on a copy of the database too.",
    )
    aud.add_argument("--url", required=True, help="ledger database URL")
    aud.add_argument(
        "--head", help="POS:HASH of a journal head recorded earlier, checked to be unchanged"
    )
    aud.set_defaults(func=_run_audit)

    admin = sub.add_parser("admin", help="administration")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    cu = admin_sub.add_parser("create-user", help="create a staff account (the first: admin)")
    cu.add_argument("--url", required=True, help="ledger database URL")
    cu.add_argument("--username", required=True)
    cu.add_argument(
        "--role",
        default="admin",
        help="admin or auditor (every site), or operator, cashier or collector of --site",
    )
    cu.add_argument("--site", metavar="CODE", help="the site's code (for a site role)")
    cu.add_argument("--password", help="the password (prompted when omitted)")
    cu.set_defaults(func=_run_create_user)

    fraud = sub.add_parser("fraud", help="fraud signals")
    fraud_sub = fraud.add_subparsers(dest="fraud_command", required=True, metavar="ACTION")
    fs = fraud_sub.add_parser(
        "scan",
        help="run every fraud rule over recent days and raise cases (idempotent)",
        description="Run the fraud rules (thresholds from the fraud_rules table) over the last "
        "--days local days and raise a case for an operator per new hit. Re-running raises "
        "no duplicate case: run it from a timer (e.g. hourly).",
    )
    fs.add_argument("--url", required=True, help="ledger database URL")
    fs.add_argument("--days", type=int, default=35, help="local days to judge (35)")
    fs.add_argument("--last", type=date.fromisoformat, help="last local day (default today)")
    fs.add_argument("--tz", default="Asia/Jakarta", help="the programme's time zone")
    fs.set_defaults(func=_run_fraud_scan)

    report = sub.add_parser("report", help="programme reports")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="ACTION")
    rm = report_sub.add_parser(
        "monthly",
        help="the monthly programme report as a print-ready HTML page",
        description="kg by category, households active, rupiah credited and paid, sales, "
        "mass balance and open cases of one month; print it (or chromium --print-to-pdf).",
    )
    rm.add_argument("--url", required=True, help="ledger database URL")
    rm.add_argument("--month", required=True, help="YYYY-MM")
    rm.add_argument("--site", help="one site's code (default: the whole programme)")
    rm.add_argument("--lang", choices=["id", "en"], default="id")
    rm.add_argument("--out", type=Path, help="output file (default salinmas-report-MONTH.html)")
    rm.add_argument("--tz", default="Asia/Jakarta", help="the programme's time zone")
    rm.set_defaults(func=_run_report_monthly)

    contract = sub.add_parser("contract", help="the wire contract")
    contract_sub = contract.add_subparsers(dest="contract_command", required=True)
    schemas = contract_sub.add_parser("schemas", help="export the JSON Schemas")
    schemas.add_argument("dir", type=Path, nargs="?", default=Path("contract/schemas"))
    schemas.set_defaults(func=_run_schemas)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    _setup_logging(ns.verbose)
    if ns.command == "sim":
        module, _ = SIMULATORS[ns.kind]
        return int(_call(f"{module}:main", list(ns.args)) or 0)
    if ns.command == "admin" and ns.password is None:
        import getpass

        ns.password = getpass.getpass(f"password for {ns.username}: ")
    try:
        return int(ns.func(ns))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
