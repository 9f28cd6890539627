#!/usr/bin/env bash
# Regenerates the worker image's lock files from pyproject.toml (`make lock`):
#
#   requirements.lock        the runtime dependencies and the build backend, each pinned
#                            with the sha256 of every file PyPI has for that version
#   requirements-otel.lock   the same plus the `otel` extra (--build-arg SLA_EXTRAS=otel)
#
# The Dockerfile installs one of them with `pip install --require-hashes`, then the
# project itself with --no-deps; tests/deploy checks that every dependency in
# pyproject.toml is pinned there. Pins already in a lock file are kept: pass
# --upgrade (`make lock LOCK_ARGS=--upgrade`) to move to the newest allowed releases,
# or --upgrade-package NAME for one.
#
# Resolved for the image's interpreter: CPython 3.11 on Linux (the hashes cover the
# wheels of every architecture).
set -euo pipefail
cd "$(dirname "$0")/.."

uv=${UV:-.venv/bin/uv}
python=${PYTHON:-.venv/bin/python}

# [build-system] requires: `pip install --no-build-isolation .` in the image builds
# with these, so they come from the lock file too.
build_requires=$("$python" -c '
import tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["build-system"]["requires"]))
')

for extra in "" otel; do
    out="requirements${extra:+-$extra}.lock"
    printf '%s\n' "$build_requires" | "$uv" pip compile pyproject.toml - \
        ${extra:+--extra "$extra"} \
        --generate-hashes \
        --python-version 3.11 \
        --python-platform linux \
        --custom-compile-command "make lock" \
        --quiet \
        --output-file "$out" \
        "$@"
    echo "wrote $out"
done
