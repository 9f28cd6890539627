#!/usr/bin/env bash
# Make Debian's chromium available for tests/browser (the status page in a real browser).
#
# Playwright's own browser download needs the internet; Debian's package only needs the
# package mirror. Installs `chromium` with apt-get when no browser is there, as root or
# through `sudo -n`. Never fails the build: when it cannot install, it says why (on stderr
# and in test-artifacts/chromium-unavailable.txt) and the browser tests skip with that reason.
set -u

cd "$(dirname "$0")/../.."
mkdir -p test-artifacts
REASON_FILE=test-artifacts/chromium-unavailable.txt
# SLA_CHROMIUM: another Chromium binary to use instead (the test reads it too).
CHROMIUM=${SLA_CHROMIUM:-/usr/bin/chromium}

unavailable() {
    echo "ensure_chromium: $1 — tests/browser will be skipped" >&2
    printf '%s\n' "$1" >"$REASON_FILE"
    exit 0
}

if [ -x "$CHROMIUM" ]; then
    rm -f "$REASON_FILE"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    unavailable "$CHROMIUM is missing and there is no apt-get to install Debian's chromium"
fi

if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n)
else
    unavailable "$CHROMIUM is missing; installing it needs root or password-less sudo"
fi

echo "ensure_chromium: installing Debian chromium (apt-get install chromium)" >&2
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
apt_install() {
    timeout 900 "${AS_ROOT[@]}" apt-get install -y -q --no-install-recommends chromium \
        >"$LOG" 2>&1
}
# A fresh container has empty package lists: update once, then retry.
if ! apt_install; then
    timeout 600 "${AS_ROOT[@]}" apt-get update -q >>"$LOG" 2>&1
    apt_install
fi

if [ -x /usr/bin/chromium ]; then
    [ "$CHROMIUM" = /usr/bin/chromium ] || echo "ensure_chromium: SLA_CHROMIUM=$CHROMIUM is not executable; installed /usr/bin/chromium" >&2
    rm -f "$REASON_FILE"
    echo "ensure_chromium: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) installed" >&2
    exit 0
fi
tail -n 5 "$LOG" >&2
unavailable "apt-get install chromium failed: $(grep -E '^(E|W):' "$LOG" | tail -n 1)"
