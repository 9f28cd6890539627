"""The status page as a visitor sees it: rendered by the real code, shown in headless Chromium.

One board with a current disturbance (all users affected, with an expected
resolution time), a planned maintenance and a resolved incident is rendered by
:class:`StatusSiteActivities`, served over HTTP on localhost and opened in
Debian's ``chromium`` through Playwright, on a 390 px phone viewport and a
1280 px desktop one. The screenshots are kept in ``test-artifacts/``.

Chromium comes from ``make chromium`` (``tests/browser/ensure_chromium.sh``,
a step of ``make pytest``); Playwright's own browser download is not used.
Without a browser the tests skip with the reason the setup step recorded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from activities.status_page import StatusSiteActivities, StatusSnapshot
from domain.maintenance import MaintenancePost, MaintenanceStatus
from domain.sla import Severity
from domain.status import StatusBoard, StatusPost, StatusPostKind, public_reference
from tests.browser.chromium import ARTIFACTS, CHROMIUM, skip_reason

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=skip_reason())

ACTIVE = "INC-20261125-7QK2AB"
RESOLVED = "INC-20261124-M4P9XZ"
MAINTENANCE = "MW-20261127-01"
ACTIVE_TITLE = "Anmeldung nicht möglich, Fehlermeldung 503"
# A long German compound must wrap inside the card on a phone, not widen the page.
ACTIVE_UPDATE = (
    "Datenbank-Failover läuft; Versandschnittstellenkonfigurationsdateien werden geprüft"
)
RESOLVED_TITLE = "Etikettendruck im Versandmodul verzögert"
RESOLVED_SUMMARY = "Druckwarteschlange neu gestartet"
MAINTENANCE_TEXT = "Datenbank-Update"

# Winter time: Europe/Berlin is UTC+01:00, so local and UTC clocks differ visibly.
PUBLISHED = datetime(2026, 11, 25, 8, 20, tzinfo=UTC)  # 09:20 in Berlin
UPDATED = datetime(2026, 11, 25, 9, 40, tzinfo=UTC)  # 10:40
EXPECTED = datetime(2026, 11, 25, 13, 30, tzinfo=UTC)  # 14:30 — what a visitor must see
GENERATED = datetime(2026, 11, 25, 9, 45, tzinfo=UTC)  # 10:45
EXPECTED_LOCAL = "Mittwoch, 25.11.2026, 14:30 Uhr"
EXPECTED_UTC_CLOCK = "13:30"
MAINTENANCE_LOCAL = ("Freitag, 27.11.2026, 18:00 Uhr", "Freitag, 27.11.2026, 22:00 Uhr")
RESOLVED_LOCAL = "Dienstag, 24.11.2026, 16:45 Uhr"


def board() -> StatusBoard:
    posts = [
        StatusPost(
            ticket_id=RESOLVED,
            kind=StatusPostKind.PUBLISHED,
            at=datetime(2026, 11, 24, 13, 5, tzinfo=UTC),
            severity=Severity.MAJOR,
            message=RESOLVED_TITLE,
            expected_resolution=datetime(2026, 11, 24, 16, 0, tzinfo=UTC),
        ),
        StatusPost(
            ticket_id=RESOLVED,
            kind=StatusPostKind.RESOLVED,
            at=datetime(2026, 11, 24, 15, 45, tzinfo=UTC),
            severity=Severity.MAJOR,
            message=RESOLVED_SUMMARY,
            expected_resolution=None,
        ),
        StatusPost(
            ticket_id=ACTIVE,
            kind=StatusPostKind.PUBLISHED,
            at=PUBLISHED,
            severity=Severity.CRITICAL,
            message=ACTIVE_TITLE,
            expected_resolution=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        ),
        StatusPost(
            ticket_id=ACTIVE,
            kind=StatusPostKind.UPDATED,
            at=UPDATED,
            severity=Severity.CRITICAL,
            message=ACTIVE_UPDATE,
            expected_resolution=EXPECTED,
        ),
    ]
    result = StatusBoard()
    for post in posts:
        result = result.apply(post)
    return result.apply_maintenance(
        MaintenancePost(
            maintenance_id=MAINTENANCE,
            at=datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
            state=MaintenanceStatus.PLANNED,
            services=("Versand", "Statistik"),
            start=datetime(2026, 11, 27, 17, 0, tzinfo=UTC),
            end=datetime(2026, 11, 27, 21, 0, tzinfo=UTC),
            message=MAINTENANCE_TEXT,
            shipments_possible=True,
        )
    )


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
async def site_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The site as the render activity writes it, served over HTTP on localhost."""
    directory = tmp_path_factory.mktemp("status-site")
    site = StatusSiteActivities(directory)
    await site.render_status_site(StatusSnapshot(board=board(), generated_at=GENERATED))
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    mobile: bool


PHONE = Viewport("phone", 390, 844, mobile=True)
DESKTOP = Viewport("desktop", 1280, 800, mobile=False)

# Every visible element whose box leaves the device width, and every block whose content
# is wider than its box (text spilling out of a card without widening the page). Measured
# against the device width passed in, not window.innerWidth: a mobile browser widens its
# layout viewport to fit content that overflows (and zooms out), so innerWidth grows too.
OVERFLOW_JS = """
(width) => {
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.className ? '.' + String(el.className).split(' ').join('.') : '');
  const outside = [];
  const spilling = [];
  for (const el of document.querySelectorAll('body, body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      outside.push(`${describe(el)} [${Math.round(box.left)}, ${Math.round(box.right)}]`);
    }
    const style = getComputedStyle(el);
    if (style.display !== 'inline' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      spilling.push(`${describe(el)} content ${el.scrollWidth} > box ${el.clientWidth}`);
    }
  }
  return {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    bodyScrollWidth: document.body.scrollWidth,
    outside,
    spilling,
  };
}
"""

SMALLEST_FONT_JS = """
() => {
  let smallest = Infinity;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (!node.textContent.trim() || !node.parentElement) continue;
    const size = parseFloat(getComputedStyle(node.parentElement).fontSize);
    smallest = Math.min(smallest, size);
  }
  return smallest;
}
"""


async def open_page(browser: Browser, url: str, viewport: Viewport) -> Page:
    context = await browser.new_context(
        viewport={"width": viewport.width, "height": viewport.height},
        is_mobile=viewport.mobile,
        has_touch=viewport.mobile,
        device_scale_factor=2 if viewport.mobile else 1,
        locale="de-DE",
        # The page must not rely on the visitor's clock: it says Berlin time itself.
        timezone_id="America/New_York",
    )
    page = await context.new_page()
    response = await page.goto(url, wait_until="load")
    assert response is not None and response.ok
    return page


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=lambda v: v.name)
async def test_a_visitor_sees_disturbance_maintenance_and_resolved_incident(
    browser: Browser, site_url: str, viewport: Viewport
) -> None:
    page = await open_page(browser, site_url, viewport)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / f"status-page-{viewport.width}.png"
        await page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000

        await expect(page).to_have_title("myconvento Störungsseite")
        await expect(page.get_by_role("heading", level=1)).to_have_text("myconvento Störungsseite")
        banner = page.locator(".banner")
        await expect(banner).to_be_visible()
        await expect(banner).to_contain_text("Aktuell 1 Störung")

        # The current disturbance, with its expected resolution in Berlin time.
        await expect(page.get_by_role("heading", name="Aktuelle Störungen")).to_be_visible()
        # The public page names disturbances by a public reference, not the ticket ID.
        active = page.locator(f"article#{public_reference(ACTIVE)}")
        await expect(active).to_be_visible()
        await expect(active.locator(".badge")).to_have_text("Kritische Störung")
        await expect(active.locator("strong")).to_have_text(ACTIVE_TITLE)  # what is broken
        await expect(active).to_contain_text(f"Störung {public_reference(ACTIVE)}")
        await expect(page.locator("body")).not_to_contain_text(ACTIVE)
        await expect(active).to_contain_text(ACTIVE_UPDATE)
        expected = active.locator(".expected")
        await expect(expected).to_be_visible()
        await expect(expected).to_have_text(f"Voraussichtlich behoben: {EXPECTED_LOCAL}")

        # The planned maintenance, in local time.
        await expect(page.get_by_role("heading", name="Geplante Wartungsarbeiten")).to_be_visible()
        maintenance = page.locator(f"article#{MAINTENANCE}")
        await expect(maintenance).to_be_visible()
        await expect(maintenance).to_contain_text(MAINTENANCE_TEXT)
        await expect(maintenance).to_contain_text("Versand, Statistik")
        await expect(maintenance).to_contain_text(
            f"{MAINTENANCE_LOCAL[0]} bis {MAINTENANCE_LOCAL[1]}"
        )
        await expect(maintenance.locator(".badge")).to_have_text("Wartung geplant")
        await expect(maintenance).not_to_contain_text("abgesagt")
        await expect(maintenance).not_to_contain_text("abgeschlossen")

        # The resolved incident, listed as resolved and not among the current ones.
        await expect(
            page.get_by_role("heading", name="Behobene Störungen (letzte 7 Tage)")
        ).to_be_visible()
        resolved = page.locator(f"article#{public_reference(RESOLVED)}")
        await expect(resolved).to_be_visible()
        await expect(resolved.locator(".badge")).to_have_text("Behoben")
        await expect(resolved.locator("strong")).to_have_text(RESOLVED_TITLE)
        await expect(resolved).to_contain_text(f"behoben {RESOLVED_LOCAL}")
        await expect(resolved).to_contain_text(RESOLVED_SUMMARY)
        await expect(page.locator("article.active")).to_have_count(1)
        await expect(page.locator("article.resolved")).to_have_count(1)

        # Status colours: a current disturbance does not look like a resolved one.
        colours = await page.evaluate(
            """() => ['article.active', 'article.resolved', 'article.maintenance']
                .map((s) => getComputedStyle(document.querySelector(s)).borderLeftColor)"""
        )
        assert len(set(colours)) == 3, colours

        # Local clock only: 14:30 Berlin appears, 13:30 UTC nowhere; the zone is named.
        text = await page.locator("body").inner_text()
        assert EXPECTED_LOCAL in text
        assert EXPECTED_UTC_CLOCK not in text, "a UTC clock leaked onto the page"
        assert "Stand: Mittwoch, 25.11.2026, 10:45 Uhr" in text
        await expect(page.locator("footer")).to_contain_text("Europe/Berlin")

        # Readable, and nothing wider than the screen.
        assert await page.evaluate(SMALLEST_FONT_JS) >= 12
        layout = await page.evaluate(OVERFLOW_JS, viewport.width)
        # At the device width (meta viewport, nothing forcing the phone to zoom out) ...
        assert layout["innerWidth"] == viewport.width, layout
        # ... and no horizontal scrolling.
        assert layout["scrollWidth"] <= layout["innerWidth"], layout
        assert layout["bodyScrollWidth"] <= layout["innerWidth"], layout
        assert layout["outside"] == [], layout["outside"]
        assert layout["spilling"] == [], layout["spilling"]
    finally:
        await page.context.close()


async def test_the_layout_check_catches_a_page_wider_than_the_phone(
    browser: Browser, site_url: str
) -> None:
    """The overflow check is not vacuous: a too-wide block in a card is reported."""
    page = await open_page(browser, site_url, PHONE)
    try:
        await page.evaluate(
            """() => {
              const wide = document.createElement('div');
              wide.id = 'too-wide';
              wide.style.width = '600px';
              wide.textContent = 'x';
              document.querySelector('article.active').append(wide);
            }"""
        )
        layout = await page.evaluate(OVERFLOW_JS, PHONE.width)
        assert layout["innerWidth"] > PHONE.width  # the phone zoomed out to fit it
        assert layout["scrollWidth"] > PHONE.width
        assert any(o.startswith("div#too-wide") for o in layout["outside"]), layout
        assert any(s.startswith("article#") for s in layout["spilling"]), layout
    finally:
        await page.context.close()
