"""Idempotency keys: one key per logical request, stable across processes.

Two functions, and a store must stick to one of them (their keys differ):

* :func:`idempotency_key` (also ``TrustLayer.idempotency_key``) is the
  published key of warrantd 0.1.0 and warrantd-core 0.3.0, byte for byte: the
  SHA-256 of ``{"action", "params", "tenant_id", "value"}`` as JSON with sorted
  keys, no spaces and non-ASCII escaped as ``\\uXXXX``; the value is
  ``str(value)`` and anything else JSON cannot encode (a ``Decimal``,
  ``datetime`` or ``UUID`` in ``params``, ...) is written as its ``str()``.
  Equal decimals spelled differently (``Decimal("250")``, ``Decimal("250.00")``)
  therefore give different keys, and ``1`` and ``1.0`` in params too.
* :func:`normalized_idempotency_key` (warrantd's addition, opt in) spells equal
  numbers alike, so those give one key, and refuses what it cannot spell
  canonically (``TypeError``) instead of falling back to ``str()``.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from .decision import ActionRequest

__all__ = ["idempotency_key", "normalized_idempotency_key"]


def idempotency_key(req: ActionRequest) -> str:
    """The published idempotency key of ``req`` (see the module docstring).

    Params are hashed in sorted key order, so their order never changes the
    key, and a missing value (``None``) differs from ``Decimal(0)``.
    """
    body = {
        "action": req.action,
        "tenant_id": req.tenant_id,
        "value": None if req.value is None else str(req.value),
        "params": req.params,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalized_idempotency_key(req: ActionRequest) -> str:
    """A key in which equal values are spelled alike (warrantd's addition, opt in).

    SHA-256 hex of a canonical JSON of the request: keys sorted, decimals
    written as normalized strings (``Decimal("1.0")`` and ``Decimal("1")``
    alike, ``-0`` as ``0``), floats equal to an integer written as that
    integer, tuples as lists, non-ASCII text as UTF-8. ``None`` and ``0``
    differ, and so do ``True`` and ``1``. A value other than ``None``, bool,
    int, float, str, ``Decimal``, dict, list or tuple raises ``TypeError``.

    Its keys are not those of :func:`idempotency_key`: use one or the other
    for a given store.
    """
    body = {
        "action": req.action,
        "tenant_id": req.tenant_id,
        "value": req.value,
        "params": req.params,
    }
    text = json.dumps(_canonical(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        return str(value)
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _canonical(value: Any) -> Any:
    """A JSON-ready copy of ``value`` in which equal values are spelled alike."""
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        # 1.0 == 1 in Python, so equal requests must hash alike.
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    raise TypeError(
        f"normalized_idempotency_key cannot encode a {type(value).__name__} "
        f"in the request: {value!r}"
    )
