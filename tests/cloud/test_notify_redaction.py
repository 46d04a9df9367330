"""No phone numbers, PINs or gateway URLs in logs (a sender run with logs captured)."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.db import make_engine, migrate, session_factory
from cloud.notifications import Outgoing, enqueue_many
from cloud.notifications.preferences import ChannelSpec
from cloud.notifications.redact import add_secret, install_log_redaction, redact
from cloud.notifications.sender import Sender
from cloud.notifications.settings import AppriseChannelSettings, NotifySettings
from tests.cloud.notify_support import credit_data, seed
from tests.support.services import free_port

#: the seeded household's number, in every form it could be logged in
DIGITS = re.compile(r"8123456789|812[\s\-.]?3456|6281234")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG and above, through a plain handler, redaction on."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    uninstall = install_log_redaction()
    yield out
    uninstall()
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_redact_masks_phones_pins_credentials_and_secrets() -> None:
    add_secret("tgram://123456:SECRET-BOT-TOKEN/-100200300")
    text = redact(
        'to 0812-3456-7890 and +62 812 3456 7890 or 6281234567890; {"pin": "123456"} '
        "password=hunter22 json://user:pw@gw/x tgram://123456:SECRET-BOT-TOKEN/-100200300 "
        "weigh-in st-1:123456789 Rp 1.250.000 at 2026-12-01 10:53:08"
    )
    assert text == (
        'to [phone] and [phone] or [phone]; {"pin": "[redacted]"} '
        "password=[redacted] json://[redacted]@gw/x [redacted] "
        "weigh-in st-1:123456789 Rp 1.250.000 at 2026-12-01 10:53:08"
    )


def test_a_sender_run_logs_no_phone_number(captured: io.StringIO, tmp_path: Path) -> None:
    """Apprise logs the URL it posts to at DEBUG (the phone is in its path); our own
    warnings carry errors; an exception carries a number. None of it reaches the log.

    mutant: install_log_redaction a no-op -> the phone shows up in Apprise's debug lines.
    """
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate(url)
    engine = make_engine(url)
    with session_factory(engine)() as s:
        p = seed(s, channels=[ChannelSpec("wa", "apprise", household_default=True)])
        enqueue_many(s, [Outgoing("weighin_credited", "w:1", credit_data(), p.with_phone)])
        s.commit()
    gateway = f"json://127.0.0.1:{free_port()}/sms/{{phone_digits}}?pin=4321"  # nothing listens
    channel = AppriseChannelSettings(url=gateway, timeout_s=1)
    settings = NotifySettings(
        ledger_url=url, migrate_on_start=False, quiet_hours="", channels={"wa": channel}
    )
    sender = Sender(settings, engine=engine)
    try:
        sender.run_once()
    finally:
        sender.close()
        engine.dispose()
    try:
        raise RuntimeError("gateway refused 0812-3456-7890")
    except RuntimeError:
        logging.getLogger("cloud.notifications.test").exception("with a traceback")
    log = captured.getvalue()
    assert "apprise" in log  # Apprise did log (its debug lines are in)
    assert "[phone]" in log
    assert DIGITS.search(log) is None, log
    assert "4321" not in log
