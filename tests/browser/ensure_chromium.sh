#!/usr/bin/env bash
# Make Debian's chromium available for tests/browser (the status page in a real browser).
#
# Playwright's own browser download needs the internet; Debian's package only needs the
# package mirror. SLA_CHROMIUM names another Chromium binary to use instead (the test
# reads it too); otherwise the one installer of the real-server tests installs
# `chromium` (tests/realservers/ensure_debian.sh). Never fails the build: when it cannot
# install, it says why (on stderr and in test-artifacts/chromium-unavailable.txt) and
# the browser tests skip with that reason.
set -u

cd "$(dirname "$0")/../.."
if [ -n "${SLA_CHROMIUM:-}" ] && [ -x "$SLA_CHROMIUM" ]; then
    rm -f test-artifacts/chromium-unavailable.txt
    exit 0
fi
exec bash tests/realservers/ensure_debian.sh chromium chromium /usr/bin/chromium
