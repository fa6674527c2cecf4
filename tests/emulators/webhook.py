"""A webhook receiver that checks what a careful receiver checks: the HMAC-SHA256 signature over
``f"{timestamp}.{body}"``, a timestamp within tolerance (401 otherwise), JSON with the fields we
promise, and de-duplication on ``Idempotency-Key``.

The signature check is written out here on purpose instead of calling the adapter's
``verify_signature``: a bug shared by signer and verifier would otherwise go unnoticed."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
from tests.emulators.server import Emulator, Request, Response, json_response


class WebhookReceiver(Emulator):
    def __init__(
        self,
        secret: str,
        tolerance_s: float = 300,
        clock: Callable[[], float] = time.time,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__()
        self.latency_s = latency_s  # a slow receiver: each answer takes this long
        self.secret = secret.encode()
        self.tolerance_s = tolerance_s
        self.clock = clock
        self.deliveries: Counter[str] = Counter()  # accepted first deliveries per Idempotency-Key
        self.duplicates: Counter[str] = Counter()  # repeated deliveries of a key already accepted
        self.bodies: dict[str, dict[str, Any]] = {}
        self.paths: dict[str, str] = {}
        #: Injected answers for the next requests: (status, Retry-After or None).
        self.fail_next: list[tuple[int, int | None]] = []
        self.rejected: list[str] = []  # why requests were refused, for assertions

    def handle(self, request: Request) -> Response:
        if request.method != "POST":
            return json_response({"error": "method not allowed"}, 405)
        if self.latency_s:
            time.sleep(self.latency_s)
        with self.lock:
            if self.fail_next:
                status, retry_after = self.fail_next.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return Response(status, {"error": "injected"}, headers)
        problem = self._check_signature(request)
        if problem:
            with self.lock:
                self.rejected.append(problem)
            return json_response({"error": problem}, 401)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return json_response({"error": "content-type must be application/json"}, 415)
        key = request.headers.get("idempotency-key")
        if not key:
            return json_response({"error": "Idempotency-Key header required"}, 400)
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return json_response({"error": "body is not JSON"}, 400)
        missing = [f for f in ("event", "data", "contact_id") if f not in body]
        if missing:
            return json_response({"error": f"missing fields: {missing}"}, 422)
        with self.lock:
            if key in self.deliveries:
                self.duplicates[key] += 1
                return json_response({"received": True, "duplicate": True})
            self.deliveries[key] += 1
            self.bodies[key] = body
            self.paths[key] = request.path
        return json_response({"received": True}, **{"X-Request-Id": f"wh-{len(self.bodies)}"})

    def _check_signature(self, request: Request) -> str | None:
        timestamp = request.headers.get("x-siyu-timestamp", "")
        header = request.headers.get("x-siyu-signature", "")
        if not timestamp.isdigit():
            return "missing or malformed X-Siyu-Timestamp"
        if abs(self.clock() - int(timestamp)) > self.tolerance_s:
            return "timestamp outside tolerance"
        expected = hmac.new(self.secret, timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        given = [
            p.strip().removeprefix("sha256=") for p in header.split(",") if p.strip().startswith("sha256=")
        ]
        if not any(hmac.compare_digest(expected, g) for g in given):
            return "signature mismatch"
        return None
