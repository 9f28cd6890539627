#!/bin/sh
# The compose job `password-check`: refuses to let the stack start with a PostgreSQL
# password anyone could guess. Runs before PostgreSQL initialises its database (which
# keeps the password it was first started with), with POSTGRES_PASSWORD and
# POSTGRES_USER from .env. Prints why it refused, never the password itself.
#
# Refused: empty; a well-known default (the value .env.example once shipped, the
# image's and tutorials' usual ones), compared without case and surrounding blanks;
# the user name; fewer than 12 characters.
set -eu

password=${POSTGRES_PASSWORD-}
user=${POSTGRES_USER:-temporal}

refuse() {
    echo "password-check: POSTGRES_PASSWORD $1. Set a long random value in .env," >&2
    echo "password-check: e.g. \`openssl rand -base64 24\` (see .env.example)." >&2
    exit 1
}

normalised=$(printf '%s' "$password" | tr -d ' \t\r\n' | tr '[:upper:]' '[:lower:]')

[ -n "$normalised" ] || refuse "is empty"

case "$normalised" in
    change-me | changeme | change_me | changeit | change-it | \
    postgres | postgresql | password | passwort | pass | secret | \
    temporal | admin | root | example | test | default | \
    123456 | 12345678 | 123456789 | 1234567890 | qwerty)
        refuse "is a well-known default"
        ;;
esac

[ "$normalised" != "$(printf '%s' "$user" | tr '[:upper:]' '[:lower:]')" ] ||
    refuse "equals POSTGRES_USER"

[ "${#password}" -ge 12 ] || refuse "is shorter than 12 characters"

echo "password-check: POSTGRES_PASSWORD accepted"
