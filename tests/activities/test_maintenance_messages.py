"""Maintenance e-mails and the maintenance part of the status site, without a Temporal server.

Messages are built the way the workflow builds them: domain commands are
executed on a maintenance state and ``messages_for`` turns each new event into
one message per directory customer, rendered by the real templates.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from temporalio.testing import ActivityEnvironment

from activities.mail import OutboxMailer, outbox_name
from activities.notifications import NotificationActivities
from activities.rendering import MessageRenderer
from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.maintenance import (
    CancelMaintenance,
    CompleteMaintenance,
    MaintenancePlan,
    MaintenancePlanned,
    MaintenanceState,
    MaintenanceTemplate,
    PlanMaintenance,
    RescheduleMaintenance,
    StartMaintenance,
    execute,
    maintenance_id,
    maintenance_message_id,
    maintenance_post_for,
    messages_for,
)
from domain.messages import OutgoingMessage
from domain.sla import Severity, StatusPagePolicy
from domain.status import StatusBoard, StatusPost, StatusPostKind
from tests.maintenance_support import BERLIN, EXPECTED_RECIPIENTS, directory_policy

POLICY = directory_policy()
RULES = POLICY.maintenance
SENDER = "myconvento Support <support@myconvento.com>"
START = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
PLANNED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
RENDERER = MessageRenderer()


def planned(*, shipments_possible: bool = True) -> MaintenanceState:
    plan = MaintenancePlan(
        start=START,
        end=START + timedelta(hours=4),
        services=("Versand", "Statistik"),
        shipments_possible=shipments_possible,
        message="Wir spielen ein Update der Datenbank ein.",
    )
    command = PlanMaintenance(maintenance_id=maintenance_id(plan, "Europe/Berlin"), plan=plan)
    return execute(None, command, PLANNED_AT, RULES)[0]


def rescheduled(state: MaintenanceState, days: int = 7) -> MaintenanceState:
    start = START + timedelta(days=days)
    command = RescheduleMaintenance(start=start, end=start + timedelta(hours=3))
    return execute(state, command, PLANNED_AT + timedelta(hours=1), RULES)[0]


def cancelled(state: MaintenanceState) -> MaintenanceState:
    command = CancelMaintenance(reason="Das Update wird verschoben.")
    return execute(state, command, PLANNED_AT + timedelta(hours=2), RULES)[0]


def last_messages(state: MaintenanceState) -> list[OutgoingMessage]:
    return messages_for(state, len(state.events) - 1, POLICY)


def text(message: OutgoingMessage) -> tuple[str, str]:
    """Subject and body with line breaks folded, so phrases can be found across lines."""
    subject, body = RENDERER.render_message(message)
    return subject, " ".join(body.split())


# -- recipients and Message-IDs ---------------------------------------------------------


def test_each_directory_customer_with_contacts_gets_a_message_of_its_own() -> None:
    messages = last_messages(planned())

    assert {frozenset(m.to) for m in messages} == EXPECTED_RECIPIENTS
    assert len(messages) == len(EXPECTED_RECIPIENTS)
    assert {m.context["company"] for m in messages} == {
        "Beispiel Versand GmbH",
        "Nordlicht Handel KG",
        "Alpen Logistik AG",
    }


def test_message_ids_are_deterministic() -> None:
    first = [m.message_id for m in last_messages(planned())]
    again = [m.message_id for m in last_messages(planned())]
    assert first == again
    assert len(set(first)) == len(first)  # one per recipient set


def test_message_ids_differ_per_revision_and_kind_but_not_per_address_order() -> None:
    state = planned()
    announcement = {m.message_id for m in last_messages(state)}
    state = rescheduled(state)
    first_reschedule = {m.message_id for m in last_messages(state)}
    state = rescheduled(state, days=14)
    second_reschedule = {m.message_id for m in last_messages(state)}
    cancellation = {m.message_id for m in last_messages(cancelled(state))}

    groups = [announcement, first_reschedule, second_reschedule, cancellation]
    assert len(set().union(*groups)) == sum(len(g) for g in groups)
    assert all(".r1.maintenance_rescheduled." in i for i in first_reschedule)
    assert all(".r2.maintenance_rescheduled." in i for i in second_reschedule)
    assert all(".r2.maintenance_cancelled." in i for i in cancellation)

    announce = MaintenanceTemplate.ANNOUNCEMENT
    ident = maintenance_message_id("MNT-1", PLANNED_AT, 0, announce, ["a@x.de", "B@x.de"])
    assert ident == maintenance_message_id("MNT-1", PLANNED_AT, 0, announce, ["b@x.de", "a@x.de"])
    assert ident != maintenance_message_id("MNT-1", PLANNED_AT, 0, announce, ["a@x.de"])


def test_a_cancelled_plan_planned_again_gets_new_message_ids() -> None:
    first = {m.message_id for m in last_messages(planned())}
    opened = planned().events[0]
    assert isinstance(opened, MaintenancePlanned)
    command = PlanMaintenance(maintenance_id=opened.maintenance_id, plan=opened.plan)
    again = execute(None, command, PLANNED_AT + timedelta(hours=3), RULES)[0]
    assert again.maintenance_id == planned().maintenance_id
    assert first.isdisjoint(m.message_id for m in last_messages(again))


def test_start_and_completion_send_no_customer_mail() -> None:
    state = execute(planned(), StartMaintenance(), START, RULES)[0]
    assert last_messages(state) == []
    state = execute(state, CompleteMaintenance(), state.end, RULES)[0]
    assert last_messages(state) == []


# -- German texts ------------------------------------------------------------------------------


def test_announcement_names_window_services_and_that_shipments_can_be_scheduled() -> None:
    message = last_messages(planned(shipments_possible=True))[0]
    subject, body = text(message)

    assert subject.startswith("Ankündigung: Wartungsarbeiten")
    assert "Freitag, 27.11.2026, 18:00 Uhr" in subject
    assert str(message.context["maintenance_id"]) in subject
    assert "Beginn: Freitag, 27.11.2026, 18:00 Uhr" in body
    assert "Ende: Freitag, 27.11.2026, 22:00 Uhr" in body
    assert "Betroffene Dienste: Versand, Statistik" in body
    assert "Wir spielen ein Update der Datenbank ein." in body
    assert "für die Nutzung gesperrt" in body
    assert "Versandaufträge können Sie trotzdem" in body
    assert "vorab zeitversetzt ein" in body
    assert "werden dann trotzdem vom Versandsystem abgearbeitet" in body
    assert "nicht verarbeitet" not in body
    assert "Mit freundlichen Grüßen" in body


def test_announcement_says_when_shipments_cannot_be_processed() -> None:
    _, body = text(last_messages(planned(shipments_possible=False))[0])

    assert "Versandaufträge können in diesem Zeitraum leider nicht verarbeitet werden" in body
    assert "trotzdem vom Versandsystem abgearbeitet" not in body


def test_rescheduled_message_shows_old_and_new_window() -> None:
    subject, body = text(last_messages(rescheduled(planned()))[0])

    assert subject.startswith("Geänderter Termin: Wartungsarbeiten")
    assert "Freitag, 04.12.2026, 18:00 Uhr" in subject
    assert "Neuer Beginn: Freitag, 04.12.2026, 18:00 Uhr" in body
    assert "Neues Ende: Freitag, 04.12.2026, 21:00 Uhr" in body
    assert (
        "Bisher geplant: Freitag, 27.11.2026, 18:00 Uhr bis Freitag, 27.11.2026, 22:00 Uhr" in body
    )
    assert "Betroffene Dienste: Versand, Statistik" in body
    assert "vorab zeitversetzt ein" in body


def test_cancellation_names_the_reason_and_drops_the_shipments_advice() -> None:
    subject, body = text(last_messages(cancelled(planned()))[0])

    assert subject.startswith("Abgesagt: Wartungsarbeiten")
    assert "finden nicht statt" in body
    assert "Grund: Das Update wird verschoben." in body
    assert "Betroffene Dienste: Versand, Statistik" in body
    assert "zeitversetzt" not in body
    assert "wie gewohnt verarbeitet" in body


def test_times_follow_berlin_wall_clock_in_summer() -> None:
    start = datetime(2026, 7, 3, 16, 0, tzinfo=UTC)  # 18:00 CEST
    plan = MaintenancePlan(
        start=start, end=start + timedelta(hours=4), services=("Statistik",), message="Update"
    )
    command = PlanMaintenance(maintenance_id="MNT-20260703-1800-TEST", plan=plan)
    state = execute(None, command, start - timedelta(days=3), RULES)[0]
    _, body = text(last_messages(state)[0])
    assert "Beginn: Freitag, 03.07.2026, 18:00 Uhr" in body
    assert "Ende: Freitag, 03.07.2026, 22:00 Uhr" in body


# -- composing and sending ----------------------------------------------------------------------


def activities(tmp_path: Path) -> NotificationActivities:
    return NotificationActivities(OutboxMailer(tmp_path / "outbox"), RENDERER, SENDER)


def test_compose_is_byte_identical_for_identical_messages(tmp_path: Path) -> None:
    first = activities(tmp_path).compose_message(last_messages(planned())[0])
    again = activities(tmp_path).compose_message(last_messages(planned())[0])
    assert bytes(first) == bytes(again)
    assert first["X-SLA-Kind"] == "maintenance_announcement"


async def test_send_message_writes_one_outbox_file_per_message_id(tmp_path: Path) -> None:
    notifications = activities(tmp_path)
    env = ActivityEnvironment()
    messages = last_messages(planned())
    for message in [*messages, *messages]:  # a retry sends the same files again
        await env.run(notifications.send_message, message)

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert [f.name for f in files] == sorted(outbox_name(m.message_id) for m in messages)
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert "Wartungsarbeiten" in str(parsed["Subject"])
    assert "Betroffene Dienste" in parsed.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


# -- status site ----------------------------------------------------------------------------------


def board_with(*states: MaintenanceState) -> StatusBoard:
    board = StatusBoard()
    for state in states:
        for event in state.events:
            post = maintenance_post_for(state, event)
            if post is not None:
                board = board.apply_maintenance(post)
    return board


def render(board: StatusBoard, tmp_path: Path, at: datetime = PLANNED_AT) -> dict[str, str]:
    site = StatusSiteActivities(tmp_path / "status")
    files = site.render(StatusSnapshot(board=board, generated_at=at))
    return {name: content.decode("utf-8") for name, content in files.items()}


def test_status_site_lists_planned_maintenance(tmp_path: Path) -> None:
    state = planned(shipments_possible=False)
    site = render(board_with(state), tmp_path)

    html = site["index.html"]
    assert "Geplante Wartungsarbeiten" in html
    assert "Alle Systeme arbeiten normal" in html  # nothing is disturbed yet
    assert state.maintenance_id in html
    assert "Versand, Statistik" in html
    assert "Freitag, 27.11.2026, 18:00 Uhr bis Freitag, 27.11.2026, 22:00 Uhr" in html
    assert "nicht verarbeitet" in html
    (entry,) = json.loads(site["status.json"])["maintenance"]
    assert entry["id"] == state.maintenance_id
    assert entry["state"] == "planned"
    assert entry["services"] == ["Versand", "Statistik"]
    assert datetime.fromisoformat(entry["start"]) == START
    assert entry["shipments_possible"] is False
    assert "Geplante Wartungsarbeiten: Versand, Statistik" in site["feed.atom"]


def test_status_site_shows_maintenance_in_progress_and_then_completed(tmp_path: Path) -> None:
    running = execute(planned(), StartMaintenance(), START, RULES)[0]
    site = render(board_with(running), tmp_path, START)
    html = site["index.html"]
    assert "Laufende Wartungsarbeiten" in html
    assert "Wartungsarbeiten laufen" in html  # the banner
    assert "Geplante Wartungsarbeiten" not in html
    assert "vorab zeitversetzt einstellen" in html
    assert json.loads(site["status.json"])["maintenance"][0]["state"] == "in_progress"

    done = execute(running, CompleteMaintenance(), running.end, RULES)[0]
    site = render(board_with(done), tmp_path, done.end)
    html = site["index.html"]
    assert "Abgeschlossene Wartungsarbeiten" in html
    assert "Status: abgeschlossen" in html
    assert "Alle Systeme arbeiten normal" in html
    assert json.loads(site["status.json"])["maintenance"][0]["state"] == "completed"


def test_status_site_marks_a_cancelled_maintenance(tmp_path: Path) -> None:
    site = render(board_with(cancelled(planned())), tmp_path)
    assert "Status: abgesagt" in site["index.html"]
    assert "Das Update wird verschoben." in site["index.html"]
    (entry,) = json.loads(site["status.json"])["maintenance"]
    assert entry["state"] == "cancelled"
    assert entry["reason"] == "Das Update wird verschoben."
    assert "Wartungsarbeiten abgesagt" in site["feed.atom"]


@pytest.mark.parametrize("with_maintenance", [False, True])
def test_incidents_still_win_the_banner(tmp_path: Path, with_maintenance: bool) -> None:
    board = StatusBoard().apply(
        StatusPost(
            ticket_id="INC-20261124-ABCDEF",
            kind=StatusPostKind.PUBLISHED,
            at=PLANNED_AT,
            severity=Severity.CRITICAL,
            message="Anmeldung gestört",
            expected_resolution=None,
        )
    )
    if with_maintenance:
        running = execute(planned(), StartMaintenance(), START, RULES)[0]
        post = maintenance_post_for(running, running.events[-1])
        assert post is not None
        board = board.apply_maintenance(post)
    site = render(board, tmp_path)
    assert "Aktuell 1 Störung" in site["index.html"]
    document = json.loads(site["status.json"])
    assert len(document["active"]) == 1
    assert len(document["maintenance"]) == int(with_maintenance)


def test_the_notice_names_the_public_status_page() -> None:
    # Issue 16: every customer mail that mentions the page names its address.
    _, body = text(last_messages(planned())[0])
    assert "auf unserer Störungsseite: http://stoerung.convento.de" in body
    no_page = POLICY.model_copy(update={"status_page": StatusPagePolicy()})
    state = planned()
    _, plain = text(messages_for(state, len(state.events) - 1, no_page)[0])
    assert "auf unserer Störungsseite." in plain and "http" not in plain
