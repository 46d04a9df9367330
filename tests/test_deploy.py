"""The systemd units and configuration files in ``deploy/`` are real and agree with the code.

Every ``deploy/*.service`` is read the way systemd reads it (``%i`` filled in for a
template) and checked: its ``ExecStart`` is a command of the installed venv that the
command line accepts as written (``salinmas ...`` parsed by the CLI's own parser;
``python -m edge ...`` run with ``--check``), the configuration file it names (the file
of ``deploy/`` installed at that ``/etc/salinmas`` path) loads with the settings class
that subcommand loads, under the unit's ``Environment=`` and its ``EnvironmentFile=``
example once the example's placeholders are filled in, and is refused while they are
not; ``systemd-analyze verify`` accepts the unit (and the Mosquitto drop-in on Debian's
own ``mosquitto.service``). The ingest template makes distinct workers on one shared
subscription, each writing only where its unit lets it, and the retire unit drains the
same worker; the production settings point at the production broker's listener.

mutant: a unit's ExecStart names `salinmas ingest serve` (no such subcommand) -> fails
mutant: ExecStart runs `python -m edgex` or a binary outside /opt/salinmas/venv -> fails
mutant: cloud.toml gains a misspelt key (`[api] worker = 2`) -> fails (the loader refuses it)
mutant: the ingest template loses `Environment=SALINMAS_INGEST_CLIENT_ID=...%i` -> fails
mutant: the ingest template's ReadWritePaths no longer covers its telemetry buffer -> fails
mutant: the retire unit drains another client id than the worker it retires -> fails
mutant: an env example holds a real-looking secret instead of a placeholder -> fails
mutant: `ProtectSytem=strict` (a misspelt directive) in any unit -> fails (systemd-analyze)
mutant: cloud.toml's [api.mqtt] port 1883 while the production broker listens on 8883 -> fails
mutant: `migrate_on_start = true` for the N ingest workers -> fails
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from salinmas.settings import PLACEHOLDER_SECRETS
from stack.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
VENV_BIN = "/opt/salinmas/venv/bin/"
ETC = "/etc/salinmas/"
UNITS = sorted(p.name for p in DEPLOY.glob("*.service"))
#: how a settings loader appears in a CLI handler: _call("pkg.module:Class.load", ...)
LOADER = re.compile(r'_call\(\s*"([\w.]+):(\w+)\.load"')


# ------------------------------------------------------------------ reading units


@dataclass(frozen=True)
class Unit:
    name: str
    entries: tuple[tuple[str, str, str], ...]  # (section, key, value), in file order

    def values(self, section: str, key: str) -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def value(self, section: str, key: str) -> str:
        found = self.values(section, key)
        assert len(found) == 1, f"{self.name}: [{section}] {key}= appears {len(found)} times"
        return found[0]


def read_unit(name: str, instance: str = "1") -> Unit:
    """``deploy/<name>`` as systemd reads it; ``%i`` is ``instance`` in a template."""
    section = ""
    entries = []
    for raw in (DEPLOY / name).read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        assert not line.endswith("\\"), f"{name}: keep every directive on one line"
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{name}: not a directive: {raw!r}"
        if "@." in name:
            value = value.replace("%i", instance)
        assert "%" not in value, f"{name}: a specifier this test does not expand: {raw!r}"
        entries.append((section, key.strip(), value.strip()))
    return Unit(name, tuple(entries))


def installed(path: str) -> Path:
    """The file of deploy/ that docs/operations.md installs at ``/etc/salinmas/NAME``."""
    assert path.startswith(ETC), f"{path}: configuration lives in {ETC}"
    name = path.removeprefix(ETC)
    for candidate in (DEPLOY / name, DEPLOY / f"{name}.example"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no deploy/{name} or deploy/{name}.example for {path}")


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip().strip("'\"")
    return env


def is_placeholder(value: str) -> bool:
    return value.strip().lower() in PLACEHOLDER_SECRETS


def service_environment(unit: Unit, *, fill: bool) -> dict[str, str]:
    """What the service's process sees: its EnvironmentFile examples, then Environment=.

    ``fill``: every placeholder replaced by a strong random secret, as the operator does.
    """
    env: dict[str, str] = {}
    for spec in unit.values("Service", "EnvironmentFile"):
        optional = spec.startswith("-")
        try:
            example = installed(spec.lstrip("-"))
        except FileNotFoundError:
            if optional:
                continue
            raise
        for key, value in read_env_file(example).items():
            env[key] = secrets.token_urlsafe(48) if fill and is_placeholder(value) else value
    for spec in unit.values("Service", "Environment"):
        for assignment in shlex.split(spec):
            key, _, value = assignment.partition("=")
            env[key] = value
    return env


@dataclass(frozen=True)
class Command:
    module: str  # "salinmas" (the CLI) or the module run with `python -m`
    args: list[str]


def exec_start(unit: Unit) -> Command:
    argv = shlex.split(unit.value("Service", "ExecStart"))
    binary = argv[0]
    assert binary.startswith(VENV_BIN), f"{unit.name}: {binary} is not in the venv {VENV_BIN}"
    program = binary.removeprefix(VENV_BIN)
    if program == "salinmas":
        return Command("salinmas", argv[1:])
    assert program == "python", f"{unit.name}: runs {binary}"
    assert argv[1] == "-m", f"{unit.name}: runs {binary} without -m MODULE"
    module = argv[2]
    return Command("salinmas" if module in ("salinmas", "stack") else module, argv[3:])


# ------------------------------------------------------------------ loading settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in list(os.environ):
        if key.startswith(("SALINMAS_", "PG")):
            monkeypatch.delenv(key)
    return monkeypatch


def cli_namespace(unit: Unit, args: list[str]) -> Any:
    try:
        return build_parser().parse_args(args)
    except SystemExit:
        pytest.fail(f"{unit.name}: `salinmas {shlex.join(args)}` is not a command of the CLI")


def settings_class(func: Any) -> type[Any]:
    found = LOADER.search(inspect.getsource(func))
    assert found, f"{func.__name__} loads no settings"
    cls: type[Any] = getattr(importlib.import_module(found[1]), found[2])
    return cls


def load_settings(
    name: str, mp: pytest.MonkeyPatch, *, instance: str = "1", fill: bool = True
) -> Any:
    """The settings the unit's ExecStart loads, under the unit's environment."""
    unit = read_unit(name, instance)
    command = exec_start(unit)
    assert command.module == "salinmas", f"{unit.name}: load_settings is for the salinmas CLI"
    ns = cli_namespace(unit, command.args)
    assert ns.config is not None, f"{unit.name}: name the configuration file (--config)"
    with mp.context() as m:
        for key, value in service_environment(unit, fill=fill).items():
            m.setenv(key, value)
        return settings_class(ns.func).load(installed(str(ns.config)))


def edge_check(unit: Unit, *, fill: bool) -> subprocess.CompletedProcess[str]:
    """Run the unit's ``python -m <module> ...`` with ``--check`` (validate, print, exit)."""
    command = exec_start(unit)
    args = [str(installed(a)) if a.startswith(ETC) else a for a in command.args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALINMAS_")}
    env |= service_environment(unit, fill=fill) | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", command.module, *args, "--check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("name", UNITS)
def test_exec_start_is_a_real_command_and_its_config_loads(
    name: str, clean_env: pytest.MonkeyPatch
) -> None:
    unit = read_unit(name)
    command = exec_start(unit)
    if command.module == "salinmas":
        settings = load_settings(name, clean_env)
        assert settings.environment == "production"
    else:
        done = edge_check(unit, fill=True)
        assert done.returncode == 0, done.stderr
        assert '"environment": "production"' in done.stdout


@pytest.mark.parametrize("name", UNITS)
def test_the_shipped_examples_hold_placeholders_the_loader_refuses(
    name: str, clean_env: pytest.MonkeyPatch
) -> None:
    unit = read_unit(name)
    secrets_shipped: dict[str, str] = {}
    for spec in unit.values("Service", "EnvironmentFile"):
        try:
            secrets_shipped |= read_env_file(installed(spec.lstrip("-")))
        except FileNotFoundError:
            continue
    for key, value in secrets_shipped.items():
        assert is_placeholder(value), f"{name}: {key} in the example is not a placeholder"
    if not any(key.startswith("SALINMAS_") for key in secrets_shipped):
        return  # e.g. the sender's only secret is libpq's PGPASSWORD
    refused = re.compile("placeholder|real secret")
    if exec_start(unit).module == "salinmas":
        with pytest.raises(ValueError, match=refused):
            load_settings(name, clean_env, fill=False)
    else:
        done = edge_check(unit, fill=False)
        assert done.returncode != 0, done.stdout
        assert refused.search(done.stderr), done.stderr


@pytest.mark.parametrize("name", UNITS)
def test_every_unit_is_hardened(name: str) -> None:
    unit = read_unit(name)
    assert unit.value("Service", "User") not in ("", "root")
    assert unit.value("Service", "NoNewPrivileges") == "true"
    assert unit.value("Service", "ProtectSystem") == "strict"
    assert unit.value("Service", "ProtectHome") == "true"
    assert unit.value("Service", "Restart") in ("on-failure", "always")
    for spec in unit.values("Service", "EnvironmentFile"):
        assert spec.lstrip("-").startswith(ETC)


def test_ingest_instances_are_distinct_workers_on_one_share_group(
    clean_env: pytest.MonkeyPatch,
) -> None:
    worker = "salinmas-ingest@.service"
    one, two = (load_settings(worker, clean_env, instance=i) for i in ("1", "2"))
    assert one.client_id != two.client_id
    assert one.telemetry.buffer_path != two.telemetry.buffer_path
    assert one.share
    assert one.share == two.share
    assert one.mqtt_protocol == "5"  # ReceiveMaximum and session expiry (docs/benchmarks.md)
    assert not one.migrate_on_start  # N workers must not race the migrations
    for instance, settings in (("1", one), ("2", two)):
        unit = read_unit(worker, instance)
        writable = [Path(p) for p in unit.values("Service", "ReadWritePaths")]
        telemetry = settings.telemetry
        written = [telemetry.buffer_path, *(s.buffer_path for s in telemetry.also)]
        for path in written:
            assert any(path.is_relative_to(w) for w in writable), f"{path} is read-only there"
    retire = load_settings("salinmas-ingest-retire@.service", clean_env, instance="2")
    assert (retire.client_id, retire.telemetry.buffer_path) == (
        two.client_id,
        two.telemetry.buffer_path,
    )
    assert read_unit("salinmas-ingest-retire@.service", "2").value("Unit", "Conflicts") == (
        "salinmas-ingest@2.service"
    )


def test_the_cloud_services_point_at_the_production_broker(clean_env: pytest.MonkeyPatch) -> None:
    conf = (DEPLOY / "mosquitto/mosquitto.conf").read_text().splitlines()
    listener = next(line.split() for line in conf if line.startswith("listener "))
    port, tls = int(listener[1]), any(line.startswith("cafile ") for line in conf)
    ingest = load_settings("salinmas-ingest@.service", clean_env)
    api = load_settings("salinmas-api.service", clean_env)
    notify = load_settings("salinmas-notify.service", clean_env)
    assert (ingest.mqtt_port, ingest.mqtt_tls) == (port, tls)
    assert (api.mqtt.port, api.mqtt.tls) == (port, tls)
    assert api.workers >= 2  # the API's worker processes are a setting, used here
    assert ingest.ledger_url == api.ledger_url == notify.ledger_url
    assert not api.migrate_on_start
    assert not notify.migrate_on_start


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed")
    return found


def _verify(tmp_path: Path, target: str) -> None:
    done = subprocess.run(
        [_systemd_analyze(), "verify", str(tmp_path / target)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not done.stdout + done.stderr, "systemd-analyze verify: warnings"


@pytest.mark.parametrize("name", UNITS)
def test_systemd_analyze_verify(name: str, tmp_path: Path) -> None:
    venv_bin = f"{Path(sys.executable).parent}/"
    assert (Path(venv_bin) / "salinmas").exists(), f"install the package into {venv_bin}"
    for unit in DEPLOY.glob("*.service"):  # beside each other: Conflicts=, After= resolve
        (tmp_path / unit.name).write_text(unit.read_text().replace(VENV_BIN, venv_bin))
    _verify(tmp_path, name.replace("@.", "@1."))


def test_the_mosquitto_drop_in_verifies_on_debians_unit(tmp_path: Path) -> None:
    debian = Path("/lib/systemd/system/mosquitto.service")
    if not debian.exists():
        pytest.skip("Debian's mosquitto.service is not installed")
    _systemd_analyze()
    shutil.copy(debian, tmp_path / "mosquitto.service")
    (tmp_path / "mosquitto.service.d").mkdir()
    shutil.copy(DEPLOY / "mosquitto/salinmas-limits.conf", tmp_path / "mosquitto.service.d")
    _verify(tmp_path, "mosquitto.service")
