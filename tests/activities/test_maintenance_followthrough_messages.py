"""The German texts of an extended and of an early-ended maintenance, and the page showing them.

Built as the workflow builds them (domain commands, ``messages_for``), rendered
by the real templates; the checks read the German a customer reads.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from activities.rendering import MessageRenderer
from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.maintenance import (
    EndMaintenance,
    ExtendMaintenance,
    MaintenancePlan,
    MaintenanceState,
    PlanMaintenance,
    StartMaintenance,
    execute,
    maintenance_id,
    maintenance_post_for,
    messages_for,
)
from domain.messages import OutgoingMessage
from domain.status import StatusBoard
from tests.maintenance_support import BERLIN, EXPECTED_RECIPIENTS, directory_policy

POLICY = directory_policy()
RULES = POLICY.maintenance
START = datetime(2026, 11, 27, 18, 0, tzinfo=BERLIN)
PLANNED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
MONDAY_TEN = datetime(2026, 11, 30, 10, 0, tzinfo=BERLIN)
REASON = "Die Migration der Datenbank dauert länger als erwartet."
RENDERER = MessageRenderer()


def running() -> MaintenanceState:
    plan = MaintenancePlan(
        start=START,
        end=START + timedelta(hours=4),
        services=("Versand", "Statistik"),
        shipments_possible=True,
        message="Wir spielen ein Update der Datenbank ein.",
    )
    command = PlanMaintenance(maintenance_id=maintenance_id(plan, "Europe/Berlin"), plan=plan)
    state = execute(None, command, PLANNED_AT, RULES)[0]
    return execute(state, StartMaintenance(), START, RULES)[0]


def extended(state: MaintenanceState, until: datetime = MONDAY_TEN) -> MaintenanceState:
    command = ExtendMaintenance(end=until, reason=REASON)
    return execute(state, command, START + timedelta(hours=3), RULES)[0]


def ended(
    state: MaintenanceState,
    note: str | None = None,
    at: datetime = START + timedelta(hours=2, minutes=30),
) -> MaintenanceState:
    return execute(state, EndMaintenance(note=note), at, RULES)[0]


def last_messages(state: MaintenanceState) -> list[OutgoingMessage]:
    return messages_for(state, len(state.events) - 1, POLICY)


def text(message: OutgoingMessage) -> tuple[str, str]:
    subject, body = RENDERER.render_message(message)
    return subject, " ".join(body.split())


def test_an_extension_is_re_announced_to_every_customer() -> None:
    messages = last_messages(extended(running()))
    assert {frozenset(m.to) for m in messages} == EXPECTED_RECIPIENTS
    assert all(".r1.maintenance_extended." in m.message_id for m in messages)


def test_the_extension_names_the_new_end_the_old_one_and_the_reason() -> None:
    subject, body = text(last_messages(extended(running()))[0])

    assert subject.startswith("Verlängert: Wartungsarbeiten an myconvento")
    assert "jetzt bis Montag, 30.11.2026, 10:00 Uhr" in subject
    assert "dauern länger als geplant" in body
    assert "Beginn: Freitag, 27.11.2026, 18:00 Uhr" in body
    assert "Neues Ende: Montag, 30.11.2026, 10:00 Uhr" in body
    assert "Bisher angekündigt: Ende Freitag, 27.11.2026, 22:00 Uhr" in body
    assert f"Grund: {REASON}" in body
    assert "Betroffene Dienste: Versand, Statistik" in body
    assert "Bis zum neuen Ende bleibt myconvento für Sie eingeschränkt" in body
    assert "Störungsseite" in body
    assert "Mit freundlichen Grüßen" in body


def test_each_extension_gets_message_ids_of_its_own() -> None:
    first = extended(running(), START + timedelta(hours=5))
    second = extended(first, START + timedelta(hours=6))
    ids_first = {m.message_id for m in last_messages(first)}
    ids_second = {m.message_id for m in last_messages(second)}
    assert ids_first.isdisjoint(ids_second)
    assert all(".r2.maintenance_extended." in i for i in ids_second)


def test_the_early_end_tells_every_customer_that_myconvento_is_back() -> None:
    messages = last_messages(ended(running(), note="Das Update ist eingespielt."))
    assert {frozenset(m.to) for m in messages} == EXPECTED_RECIPIENTS
    subject, body = text(messages[0])

    assert subject.startswith("Beendet: Wartungsarbeiten an myconvento abgeschlossen")
    assert "früher als angekündigt abgeschlossen" in body
    assert "Beendet: Freitag, 27.11.2026, 20:30 Uhr" in body
    assert "Angekündigtes Ende: Freitag, 27.11.2026, 22:00 Uhr" in body
    assert "Hinweis: Das Update ist eingespielt." in body
    assert "ab sofort wieder wie gewohnt zur Verfügung" in body
    # The shipments advice is for a window to come, not for one that is over.
    assert "zeitversetzt" not in body


def test_the_early_end_without_a_note_says_nothing_about_one() -> None:
    _, body = text(last_messages(ended(running()))[0])
    assert "Hinweis" not in body


def test_an_early_end_after_an_extension_names_the_extended_end() -> None:
    state = extended(running(), START + timedelta(hours=6))
    _, body = text(last_messages(ended(state, at=START + timedelta(hours=4)))[0])
    assert "Beendet: Freitag, 27.11.2026, 22:00 Uhr" in body
    assert "Angekündigtes Ende: Samstag, 28.11.2026, 00:00 Uhr" in body


# -- the status page -----------------------------------------------------------------------------


def board_with(state: MaintenanceState) -> StatusBoard:
    board = StatusBoard()
    for event in state.events:
        post = maintenance_post_for(state, event)
        if post is not None:
            board = board.apply_maintenance(post)
    return board


def render(board: StatusBoard, tmp_path: Path, at: datetime) -> dict[str, str]:
    site = StatusSiteActivities(tmp_path / "status")
    files = site.render(StatusSnapshot(board=board, generated_at=at))
    return {name: content.decode("utf-8") for name, content in files.items()}


def test_the_page_shows_the_extended_end_and_why(tmp_path: Path) -> None:
    state = extended(running())
    site = render(board_with(state), tmp_path, START + timedelta(hours=3))
    html = site["index.html"]
    assert "Laufende Wartungsarbeiten" in html
    assert "bis Montag, 30.11.2026, 10:00 Uhr" in html
    assert f"Verlängert: {REASON}" in html
    (entry,) = json.loads(site["status.json"])["maintenance"]
    assert datetime.fromisoformat(entry["end"]) == MONDAY_TEN


def test_the_page_shows_an_early_end_as_completed_when_it_ended(tmp_path: Path) -> None:
    state = ended(extended(running()), at=START + timedelta(hours=3, minutes=30))
    site = render(board_with(state), tmp_path, START + timedelta(hours=4))
    html = site["index.html"]
    assert "Abgeschlossene Wartungsarbeiten" in html
    assert "Status: abgeschlossen" in html
    assert "Verlängert" not in html
    (entry,) = json.loads(site["status.json"])["maintenance"]
    assert entry["state"] == "completed"
    assert datetime.fromisoformat(entry["end"]) == START + timedelta(hours=3, minutes=30)
