"""The real ``prometheus-alertmanager`` against our payload model and request IDs.

A recording webhook receiver on loopback stands in for the HTTP API; every wait
polls with a deadline (Alertmanager notifies after group_wait = 1 s, changes
after group_interval = 2 s), so a loaded machine only makes a test slower.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from service.alertmanager import (
    AlertmanagerPayload,
    MonitoringIntake,
    group_request_id,
    report_fields,
    timeline_text,
)
from tests.realservers.alertmanager import RECEIVER, alertmanager_or_skip, running_alertmanager

pytestmark = pytest.mark.timeout(60)

PATH = "/v1/alerts/alertmanager"
WAIT = 12.0
"""Seconds a notification may take: group_wait/group_interval plus a loaded machine."""


@dataclass
class Delivery:
    path: str
    authorization: str | None
    content_type: str | None
    body: bytes

    def payload(self) -> AlertmanagerPayload:
        return AlertmanagerPayload.model_validate_json(self.body)


@dataclass
class WebhookReceiver:
    """Records every POST; answers 401 unless it carries ``Authorization: Bearer <token>``."""

    token: str
    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def record(self, delivery: Delivery) -> int:
        with self.lock:
            if delivery.authorization == f"Bearer {self.token}" and delivery.path == PATH:
                self.deliveries.append(delivery)
                return 200
            self.refused.append(delivery)
            return 401

    def payloads(self) -> list[AlertmanagerPayload]:
        with self.lock:
            return [d.payload() for d in self.deliveries]

    async def wait_for(
        self, what: str, done: Callable[[list[AlertmanagerPayload]], bool]
    ) -> list[AlertmanagerPayload]:
        deadline = time.monotonic() + WAIT
        while True:
            payloads = self.payloads()
            if done(payloads):
                return payloads
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WAIT} s; received {_shown(payloads)}")
            await asyncio.sleep(0.05)


def _shown(payloads: list[AlertmanagerPayload]) -> str:
    return json.dumps(
        [p.model_dump(mode="json", by_alias=True) for p in payloads], indent=1, ensure_ascii=False
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    alertmanager_or_skip()  # skip before starting anything
    recorder = WebhookReceiver(token=secrets.token_urlsafe(24))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            delivery = Delivery(
                path=self.path,
                authorization=self.headers.get("Authorization"),
                content_type=self.headers.get("Content-Type"),
                body=self.rfile.read(length),
            )
            status = recorder.record(delivery)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the deliveries are the record; keep test output readable

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for it at every teardown.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
    )
    thread.start()
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _alert_count(n: int) -> Callable[[list[AlertmanagerPayload]], bool]:
    return lambda payloads: len(payloads) >= n


async def test_one_alert_gives_one_firing_notification_and_one_resolved(
    receiver: WebhookReceiver,
) -> None:
    async with running_alertmanager(
        webhook_url=receiver.url, bearer_token=receiver.token
    ) as manager:
        alert = manager.alert(
            "SlaEngineDown",
            labels={"severity": "critical", "instance": "app-1:8080"},
            annotations={
                "summary": "Anmeldung nicht möglich",
                "description": "HTTP 503\nseit 5 min",
            },
            generator_url="http://prometheus.example/graph?g0.expr=up%3D%3D0",
        )
        await manager.post_alerts([alert])
        (first,) = await receiver.wait_for("firing notification", _alert_count(1))

        assert first.version == "4"
        assert first.status == "firing"
        assert first.receiver == RECEIVER
        assert first.group_labels == {"alertname": "SlaEngineDown"}
        assert first.external_url == manager.base_url
        assert first.truncated_alerts == 0
        (fired,) = first.alerts
        assert fired.status == "firing"
        assert fired.labels == alert["labels"]
        assert fired.annotations["description"] == "HTTP 503\nseit 5 min"
        # Alertmanager writes Go's zero time as endsAt of a firing alert.
        assert fired.ends_at is None
        assert fired.generator_url == alert["generatorURL"]

        fields = report_fields(first, MonitoringIntake())
        assert fields["request_id"] == group_request_id(first.group_key)
        assert fields["reported_severity"] == "critical"
        assert fields["first_noticed_at"] == fired.starts_at.isoformat()
        assert "Anmeldung nicht möglich" in str(fields["description"])

        await manager.resolve([alert])
        payloads = await receiver.wait_for(
            "resolved notification", lambda ps: any(p.status == "resolved" for p in ps)
        )

        # Nothing between the first notification and the resolution: no repeat,
        # no duplicate.
        assert [p.status for p in payloads] == ["firing", "resolved"]
        resolved = payloads[1]
        assert group_request_id(resolved.group_key) == group_request_id(first.group_key)
        assert resolved.alerts[0].status == "resolved"
        assert resolved.alerts[0].ends_at is not None
        assert resolved.alerts[0].starts_at == fired.starts_at
        assert "behoben" in timeline_text(resolved)
        assert "SlaEngineDown: Anmeldung nicht möglich" in timeline_text(resolved)

    assert receiver.refused == []
    assert all(d.content_type == "application/json" for d in receiver.deliveries)


async def test_a_second_alert_of_the_group_notifies_again_under_the_same_request_id(
    receiver: WebhookReceiver,
) -> None:
    async with running_alertmanager(
        webhook_url=receiver.url, bearer_token=receiver.token
    ) as manager:
        await manager.post_alerts(
            [manager.alert("DiskFull", labels={"instance": "db-1", "severity": "warning"})]
        )
        await receiver.wait_for("first notification", _alert_count(1))

        await manager.post_alerts(
            [
                manager.alert("DiskFull", labels={"instance": "db-2", "severity": "critical"}),
                manager.alert("QueueStuck", labels={"severity": "info"}),
            ]
        )

        def both_groups_notified(payloads: list[AlertmanagerPayload]) -> bool:
            disk = [p for p in payloads if p.group_labels == {"alertname": "DiskFull"}]
            queue = [p for p in payloads if p.group_labels == {"alertname": "QueueStuck"}]
            return len(disk) >= 2 and len(queue) >= 1

        payloads = await receiver.wait_for("second DiskFull notification", both_groups_notified)

    disk = [p for p in payloads if p.group_labels == {"alertname": "DiskFull"}]
    queue = [p for p in payloads if p.group_labels == {"alertname": "QueueStuck"}]
    assert len(disk) == 2
    assert len(queue) == 1
    assert [len(p.alerts) for p in disk] == [1, 2]
    assert {group_request_id(p.group_key) for p in disk} == {group_request_id(disk[0].group_key)}
    assert group_request_id(queue[0].group_key) != group_request_id(disk[0].group_key)

    config = MonitoringIntake()
    assert report_fields(disk[0], config)["reported_severity"] == "major"  # warning
    assert report_fields(disk[1], config)["reported_severity"] == "critical"
    assert report_fields(queue[0], config)["reported_severity"] == "minor"  # info
    assert "2 Alarme aktiv" in timeline_text(disk[1])


async def test_an_alert_firing_again_after_resolution_keeps_its_group_key(
    receiver: WebhookReceiver,
) -> None:
    async with running_alertmanager(
        webhook_url=receiver.url, bearer_token=receiver.token
    ) as manager:
        alert = manager.alert("CertExpiry", labels={"severity": "page"})
        await manager.post_alerts([alert])
        await receiver.wait_for("firing notification", _alert_count(1))
        await manager.resolve([alert])
        await receiver.wait_for("resolved notification", _alert_count(2))

        again = manager.alert("CertExpiry", labels={"severity": "page"})
        await manager.post_alerts([again])
        payloads = await receiver.wait_for("second firing notification", _alert_count(3))

    assert [p.status for p in payloads] == ["firing", "resolved", "firing"]
    # One group key for the whole life of the group: the intake decides whether
    # a re-fire reopens the incident or starts a new one.
    assert len({group_request_id(p.group_key) for p in payloads}) == 1
    assert payloads[2].alerts[0].starts_at > payloads[0].alerts[0].starts_at
