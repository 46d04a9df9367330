"""Settings of the notification sender: ``[notify]`` in the TOML file, ``SALINMAS_NOTIFY_*``.

Example (production, PostgreSQL; Gammu SMSD reads the same database)::

    [notify]
    ledger_url = "postgresql://salinmas@db/salinmas"
    quiet_hours = "21:00-06:00"          # households' default; per household in the app

    [notify.channels.sms]                # SMS through Gammu SMSD's SQL tables
    kind = "gammu"
    household_default = true

    [notify.channels.whatsapp]           # any HTTP gateway Apprise speaks
    kind = "apprise"
    # a secret: or set it in SALINMAS_NOTIFY_CHANNELS__WHATSAPP__URL
    url = "json://gateway.example/wa/send?to={phone_digits}"

    [notify.channels.ops]                # operators' group chat
    kind = "apprise"
    url = "tgram://BOT_TOKEN/CHAT_ID"
    operators = true

``{phone}`` (``+628...``), ``{phone_digits}`` (``628...``) and ``{to}`` (the household's
address for this channel, else its phone) are filled in per message; a URL without them
(a group chat) is used as it is. The in-app inbox (``inapp``) needs no configuration.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from cloud.models.notifications import INAPP
from salinmas.formats import DEFAULT_TZ
from salinmas.settings import ProcessSettings, TimeZoneName

ChannelName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,19}$")]
_HHMM = r"([01]\d|2[0-3]):[0-5]\d"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ChannelBase(_Section):
    #: used for households that did not choose their channels
    household_default: bool = False
    #: operator notifications (device offline, bin full, dead letters) go here
    operators: bool = False
    enabled: bool = True


class GammuChannelSettings(_ChannelBase):
    """SMS through Gammu SMSD's SQL backend on the ledger database."""

    kind: Literal["gammu"] = "gammu"
    household_default: bool = True
    #: Gammu's tables are ``<prefix>outbox``, ``<prefix>sentitems``, ...; "" = Gammu's
    #: own names (``outbox``, ...). ``salinmas notify gammu-setup`` writes the matching
    #: ``[tables]`` section of gammu-smsdrc.
    table_prefix: str = Field(default="gammu_", pattern=r"^([a-z][a-z0-9]{0,15}_)?$")
    #: the gammu-smsd ``PhoneID`` that sends (several modems); None = any
    phone_id: str | None = Field(default=None, max_length=40)
    delivery_report: Literal["default", "yes", "no"] = "default"
    #: create Gammu's tables (schema version 17, gammu-smsd 1.42) when they are missing
    create_tables: bool = True


class AppriseChannelSettings(_ChannelBase):
    """Any HTTP gateway through an Apprise URL (WhatsApp, SMS aggregator, e-mail, Telegram)."""

    kind: Literal["apprise"] = "apprise"
    url: SecretStr
    #: for json://, xml:// and form:// gateways: send this header with the delivery's
    #: idempotency key, so a gateway that honours it turns a resend into no second message
    idempotency_header: str | None = Field(default="Idempotency-Key", max_length=60)
    timeout_s: float = Field(default=15.0, gt=0, le=120)


ChannelSettings = Annotated[
    GammuChannelSettings | AppriseChannelSettings, Field(discriminator="kind")
]


def default_sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:80]


class NotifySettings(ProcessSettings):
    """What ``salinmas notify run`` reads (see the module docs)."""

    model_config = SettingsConfigDict(
        env_prefix="SALINMAS_NOTIFY_", extra="forbid", env_nested_delimiter="__"
    )
    toml_section: ClassVar[str] = "notify"

    ledger_url: str = "sqlite:///var/ledger.db"
    migrate_on_start: bool = True
    #: who claims messages (unique per running sender); default ``host:pid``
    sender_id: str = Field(default_factory=default_sender_id, max_length=80)
    #: seconds between looks for due messages when there was nothing to do
    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    #: most messages claimed per round
    batch_size: int = Field(default=50, ge=1, le=1000)
    #: a message that failed this many times is dead (kept, shown, resendable)
    max_attempts: int = Field(default=8, ge=1, le=10_000)
    #: retry delays: base * 2**(attempt-1), at most backoff_max_s
    backoff_base_s: float = Field(default=30.0, gt=0)
    backoff_max_s: float = Field(default=3600.0, gt=0)
    #: a claimed message not finished in this time is taken again (sender killed)
    lease_s: float = Field(default=120.0, gt=0)
    timezone: TimeZoneName = DEFAULT_TZ
    #: households' default quiet hours, local "HH:MM-HH:MM" ("" or None: none); messages
    #: falling inside are deferred to the end, never dropped
    quiet_hours: str | None = Field(default="21:00-06:00", pattern=rf"^({_HHMM}-{_HHMM})?$")
    channels: dict[ChannelName, ChannelSettings] = Field(default_factory=dict)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("channels")
    @classmethod
    def _inapp_is_built_in(
        cls, v: dict[str, GammuChannelSettings | AppriseChannelSettings]
    ) -> dict[str, GammuChannelSettings | AppriseChannelSettings]:
        if INAPP in v:
            raise ValueError(f"{INAPP!r} is the built-in in-app inbox; choose another name")
        return v

    @property
    def quiet_window(self) -> tuple[str, str] | None:
        if not self.quiet_hours:
            return None
        start, end = self.quiet_hours.split("-")
        return start, end
