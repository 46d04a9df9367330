"""Fraud signals: rules as data, detectors, cases for an operator, payout holds.

* :mod:`cloud.fraud.rules` — each rule's threshold and plain explanation (id/en), rows
  of ``fraud_rules`` seeded from defaults;
* :mod:`cloud.fraud.detectors` — how each rule computes its figure over local days;
* :mod:`cloud.fraud.cases` — a scan (``salinmas fraud scan``) turns hits into cases,
  idempotently; an operator dismisses a case with a note or confirms it;
* :mod:`cloud.fraud.holds` — a confirmed case against a household holds its payouts
  (:mod:`cloud.payouts` refuses them) until an administrator releases the hold.

Nothing is automatic beyond raising a case.
"""
