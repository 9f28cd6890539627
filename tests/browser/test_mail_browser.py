"""The HTML part of real mails as a customer sees it: headless Chromium, phone and desktop.

The receipt, the acknowledgement (all users affected: the text names the status
page), the stage-2 escalation and the resolution of one incident are composed
by :class:`NotificationActivities` exactly as sent, their HTML parts written to
files and opened in Debian's ``chromium`` (``tests/browser/ensure_chromium.sh``)
at a 375 px phone viewport (and 320 px, the narrowest) and a 1280 px desktop
one. The resolution's summary carries a long unbroken word and markup-like
text, which must neither widen the page nor become markup. Screenshots go to
``test-artifacts/mail-*.png``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from activities.mail import OutboxMailer
from activities.notifications import NotificationActivities
from domain.notifications import MessageKind, Notification
from tests.activities.test_notifications import RENDERER, SCENARIO, SENDER, TICKET
from tests.browser.chromium import ARTIFACTS, CHROMIUM, skip_reason
from tests.browser.test_status_page_browser import (
    DESKTOP,
    OVERFLOW_JS,
    SMALLEST_FONT_JS,
    Viewport,
    open_page,
)
from tests.mail_checks import parts_of

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=skip_reason())

PHONE = Viewport("phone", 375, 667, mobile=True)
NARROW = Viewport("narrow", 320, 568, mobile=True)  # the smallest phones still in use
STATUS_PAGE = "http://stoerung.convento.de"
LONG_WORD = "Versandschnittstellenkonfigurationsdateiüberprüfungsprotokoll" * 2
SUMMARY = f'{LONG_WORD} neu eingespielt; <b>Cache</b> & "Queue" geleert.'
KINDS = (
    MessageKind.RECEIPT,
    MessageKind.ACKNOWLEDGEMENT,
    MessageKind.STAGE_2,
    MessageKind.RESOLUTION,
)

# WCAG 2.x contrast of an element's computed text colour against the first
# opaque background behind it (the frame uses opaque colours only).
CONTRAST_JS = """
(selector) => {
  const parse = (c) => {
    const p = c.match(/rgba?\\(([^)]+)\\)/)[1].split(',').map((s) => parseFloat(s));
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const element = document.querySelector(selector);
  const colour = getComputedStyle(element).color;
  let background = { r: 255, g: 255, b: 255, a: 1 };
  for (let node = element; node; node = node.parentElement) {
    const c = parse(getComputedStyle(node).backgroundColor);
    if (c.a > 0) { background = c; break; }
  }
  const [light, dark] = [luminance(parse(colour)), luminance(background)].sort((a, b) => b - a);
  return { ratio: (light + 0.05) / (dark + 0.05), colour, background };
}
"""
# Body text, a link, the ID box, the header band and the footer.
CONTRAST_SELECTORS = ("main p", "#status-page", "#reference strong", "header p", "footer p")


def notifications() -> list[Notification]:
    picked = []
    for kind in KINDS:
        notification = SCENARIO.of_kind(kind)
        if kind is MessageKind.RESOLUTION:
            event = notification.event.model_copy(update={"summary": SUMMARY})
            notification = notification.model_copy(update={"event": event})
        picked.append(notification)
    return picked


@pytest.fixture(scope="module")
def mail_files(tmp_path_factory: pytest.TempPathFactory) -> dict[MessageKind, Path]:
    """Each mail's HTML part, as sent, in a file of its own."""
    directory = tmp_path_factory.mktemp("mails")
    activities = NotificationActivities(OutboxMailer(directory), RENDERER, SENDER)
    files = {}
    for notification in notifications():
        assert notification.facts.status_page_url == STATUS_PAGE
        _, html = parts_of(activities.compose(notification))
        path = directory / f"{notification.kind.value}.html"
        path.write_text(html, encoding="utf-8")
        files[notification.kind] = path
    return files


@pytest.mark.parametrize("viewport", [PHONE, NARROW, DESKTOP], ids=lambda v: v.name)
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.value)
async def test_a_customer_reads_the_mail_on_a_phone_and_a_desktop(
    browser: Browser,
    mail_files: dict[MessageKind, Path],
    kind: MessageKind,
    viewport: Viewport,
) -> None:
    page = await open_page(browser, mail_files[kind].as_uri(), viewport)
    try:
        ARTIFACTS.mkdir(exist_ok=True)
        screenshot = ARTIFACTS / f"mail-{kind.value}-{viewport.width}.png"
        await page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 5_000

        assert (await page.title()).endswith(f"[{TICKET}]")
        await expect(page.locator("html")).to_have_attribute("lang", "de")
        await expect(page.get_by_role("heading", level=1)).to_be_visible()
        await expect(page.locator("header")).to_contain_text("Convento GmbH")

        # The ticket ID, prominently: visible on the first screen, inside the width.
        reference = page.locator("#reference")
        await expect(reference).to_be_visible()
        await expect(reference.locator("strong")).to_have_text(TICKET)
        box = await reference.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= viewport.height, box
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport.width, box

        # The status page link, going where the policy says.
        link = page.locator("#status-page")
        await expect(link).to_be_visible()
        await expect(link).to_have_attribute("href", STATUS_PAGE)
        for href in await page.eval_on_selector_all("a", "links => links.map(a => a.href)"):
            assert href.rstrip("/") == STATUS_PAGE
        if kind is MessageKind.ACKNOWLEDGEMENT:  # the sentence naming the page links it too
            await expect(page.locator(f'main a[href="{STATUS_PAGE}"]')).to_be_visible()

        if kind is MessageKind.RESOLUTION:  # the operator's text stayed text
            await expect(page.locator("main")).to_contain_text(SUMMARY)
            assert await page.locator("main b").count() == 0

        # Readable: contrast (WCAG AA, 4.5:1) and no tiny text.
        for selector in CONTRAST_SELECTORS:
            measured = await page.evaluate(CONTRAST_JS, selector)
            assert measured["ratio"] >= 4.5, (selector, measured)
        assert await page.evaluate(SMALLEST_FONT_JS) >= 14

        # Nothing wider than the screen, no horizontal scrolling.
        layout = await page.evaluate(OVERFLOW_JS, viewport.width)
        assert layout["innerWidth"] == viewport.width, layout
        assert layout["scrollWidth"] <= layout["innerWidth"], layout
        assert layout["outside"] == [], layout["outside"]
        assert layout["spilling"] == [], layout["spilling"]

        # The frame keeps to about 640 px on a desktop.
        width = await page.evaluate("document.querySelector('body > div').offsetWidth")
        assert width <= min(viewport.width, 640), width
    finally:
        await page.context.close()


async def test_the_phone_check_would_catch_a_mail_wider_than_the_screen(
    browser: Browser, mail_files: dict[MessageKind, Path]
) -> None:
    """The overflow check is not vacuous for mails either."""
    page = await open_page(browser, mail_files[MessageKind.RECEIPT].as_uri(), PHONE)
    try:
        await page.evaluate(
            """() => {
              const wide = document.createElement('pre');
              wide.id = 'too-wide';
              wide.textContent = 'x'.repeat(200);
              document.querySelector('main').append(wide);
            }"""
        )
        layout = await page.evaluate(OVERFLOW_JS, PHONE.width)
        assert layout["spilling"] or layout["outside"], layout
    finally:
        await page.context.close()
