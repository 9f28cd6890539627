#!/usr/bin/env bash
# Make Debian's server packages available for the tests that run the real thing:
#   ensure_debian.sh NAME PACKAGE BINARY [PACKAGE BINARY]...
# e.g. `ensure_debian.sh dovecot dovecot-imapd /usr/sbin/dovecot`.
#
# Installs each PACKAGE with apt-get when its BINARY is missing, as root or through
# `sudo -n` (CI runs as root on a clean machine). Never fails the build: when it
# cannot install, it says why (on stderr and in test-artifacts/NAME-unavailable.txt)
# and the tests that need NAME skip with that reason.
set -u

cd "$(dirname "$0")/../.."
mkdir -p test-artifacts
NAME=$1
shift
REASON_FILE=test-artifacts/$NAME-unavailable.txt

unavailable() {
    echo "ensure_debian($NAME): $1 — the tests that need it will be skipped" >&2
    printf '%s\n' "$1" >"$REASON_FILE"
    exit 0
}

missing=()
while [ $# -ge 2 ]; do
    [ -x "$2" ] || missing+=("$1")
    shift 2
done
if [ ${#missing[@]} -eq 0 ]; then
    rm -f "$REASON_FILE"
    exit 0
fi

command -v apt-get >/dev/null 2>&1 || unavailable "${missing[*]} missing and there is no apt-get"
if [ "$(id -u)" -eq 0 ]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n)
else
    unavailable "${missing[*]} missing; installing needs root or password-less sudo"
fi

echo "ensure_debian($NAME): installing ${missing[*]} (apt-get install)" >&2
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
# Only install: packages whose maintainer scripts start a system service must not
# leave one listening (policy-rc.d 101 = "do not start"); tests start their own.
POLICY_RC=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY_RC" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${AS_ROOT[@]}" tee "$POLICY_RC" >/dev/null
    "${AS_ROOT[@]}" chmod 755 "$POLICY_RC"
    CREATED_POLICY=1
fi
apt_install() {
    timeout 900 "${AS_ROOT[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
        >>"$LOG" 2>&1
}
# A fresh container has empty package lists: update once, then retry.
if ! apt_install; then
    timeout 600 "${AS_ROOT[@]}" apt-get update -q >>"$LOG" 2>&1
    apt_install
fi
status=$?
[ "$CREATED_POLICY" -eq 1 ] && "${AS_ROOT[@]}" rm -f "$POLICY_RC"
if [ "$status" -eq 0 ]; then
    rm -f "$REASON_FILE"
    echo "ensure_debian($NAME): installed ${missing[*]}" >&2
    exit 0
fi
tail -n 5 "$LOG" >&2
unavailable "apt-get install ${missing[*]} failed: $(grep -E '^(E|W):' "$LOG" | tail -n 1)"
