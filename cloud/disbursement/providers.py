"""The seam to payment providers: e-wallets (DANA, GoPay, OVO) and bills (PLN, phone credit).

One small HTTP protocol (:class:`HttpProvider`); a real provider is an adapter that
speaks it or translates to it. Only :class:`HttpProvider` is built here, tested against
:class:`cloud.disbursement.fake.FakeProvider` on localhost (real HTTP).

* ``POST {base_url}/disbursements`` with ``Authorization: Bearer <api_key>``,
  ``Idempotency-Key: <key>`` and ``{"reference", "kind", "provider", "account",
  "amount_rp", "description", "callback_url"}``: answers ``{"id", "status"}``
  (``pending`` | ``succeeded`` | ``failed``). The same key always means the same
  transfer: a retry after a timeout never pays twice.
* The provider later POSTs the outcome to ``callback_url``:
  ``{"reference", "id", "status", "failure"}`` signed
  ``X-Signature: hex(HMAC-SHA256(callback_secret, body))`` (:func:`verify_signature`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

import httpx

EWALLETS = ("dana", "gopay", "ovo")
BILLERS = ("pln", "pulsa", "pdam")


class ProviderError(RuntimeError):
    """The provider could not be reached or refused the request (retry with the same key)."""


@dataclass(frozen=True, slots=True)
class TransferRequest:
    reference: str
    idempotency_key: str
    kind: str  # "ewallet" | "bill"
    provider: str
    account: str
    amount_rp: int
    description: str
    callback_url: str


@dataclass(frozen=True, slots=True)
class TransferAnswer:
    provider_ref: str
    status: str  # pending | succeeded | failed


class Provider(Protocol):
    def send(self, req: TransferRequest) -> TransferAnswer: ...


class HttpProvider:
    def __init__(self, base_url: str, api_key: str, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def send(self, req: TransferRequest) -> TransferAnswer:
        body = {
            "reference": req.reference,
            "kind": req.kind,
            "provider": req.provider,
            "account": req.account,
            "amount_rp": req.amount_rp,
            "description": req.description,
            "callback_url": req.callback_url,
        }
        try:
            r = self._client.post(
                "/disbursements", json=body, headers={"Idempotency-Key": req.idempotency_key}
            )
        except httpx.HTTPError as exc:
            raise ProviderError(f"provider unreachable: {type(exc).__name__}") from None
        if r.status_code >= 400:
            raise ProviderError(f"provider refused: HTTP {r.status_code}")
        data = r.json()
        status = str(data.get("status", ""))
        if status not in ("pending", "succeeded", "failed"):
            raise ProviderError(f"provider answered an unknown status {status!r}")
        return TransferAnswer(provider_ref=str(data.get("id", ""))[:120], status=status)

    def close(self) -> None:
        self._client.close()


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str | None) -> bool:
    return (
        bool(secret)
        and signature is not None
        and hmac.compare_digest(sign(secret, body), signature)
    )
