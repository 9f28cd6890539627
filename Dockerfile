# syntax=docker/dockerfile:1
#
# The SLA engine worker image: `sla worker` as a non-root user.
# Build: docker build -t sla-engine:0.1.0 .   (docker compose builds it as the `worker` service)
#
# Base image pinned by exact tag AND by the digest of its multi-architecture index
# (python:3.11.14-slim-bookworm). The digest is the one recorded for that tag in public
# Dockerfiles and deployment notes; before bumping it, check it against the registry:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# -- build: install the package into a virtual environment -------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Optional extra, e.g. --build-arg SLA_EXTRAS=otel for OTLP tracing (telemetry.py):
# installs from requirements-otel.lock instead of requirements.lock.
ARG SLA_EXTRAS=""

WORKDIR /src
# Dependencies first, and only from the lock file: every package pinned to one version
# and checked against the sha256 hashes recorded there (`make lock` regenerates it from
# pyproject.toml; tests/deploy checks every dependency is in it). --require-hashes
# refuses anything unpinned or unhashed, --no-deps anything the lock does not list;
# the build backend (setuptools, wheel) comes from the lock too. Its own layer: a
# change of the source alone does not reinstall the dependencies.
COPY requirements.lock requirements-otel.lock ./
RUN python -m venv /opt/sla \
    && /opt/sla/bin/pip install --require-hashes --no-deps \
       -r "requirements${SLA_EXTRAS:+-${SLA_EXTRAS}}.lock"

# The build context as .dockerignore filters it: pyproject.toml, README.md and the
# packages and modules pyproject lists (tests/deploy checks none is filtered out);
# no tests, caches, .venv, .git, local data or secrets.
COPY . .

# The project itself: no dependencies, no index, no isolated build environment (which
# would fetch the build backend unhashed). `pip check` fails the build when the lock
# misses a dependency.
RUN /opt/sla/bin/pip install --no-deps --no-index --no-build-isolation . \
    && /opt/sla/bin/pip check \
    && /opt/sla/bin/python -m compileall -q /opt/sla/lib \
    && /opt/sla/bin/sla --help > /dev/null
# Bytecode is compiled here because the runtime never writes it (read-only for
# user 10001, PYTHONDONTWRITEBYTECODE): the workflow sandbox imports each workflow
# module again for every new workflow run, and without bytecode every run would
# compile the source (docs/PERFORMANCE.md).

# -- runtime ------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="sla-engine" \
      org.opencontainers.image.description="Temporal worker of the myconvento SLA incident engine"

# A fixed, numeric, non-root user (10001): volume permissions and `runAsNonRoot`
# checks depend on the number, not on a name.
RUN groupadd --system --gid 10001 sla \
    && useradd --system --uid 10001 --gid sla --home-dir /home/sla --create-home \
       --shell /usr/sbin/nologin sla \
    && mkdir -p /data/status \
    && chown 10001:10001 /data /data/status

COPY --from=build /opt/sla /opt/sla

# /data is the data directory (outbox, status site, dev tickets, billing, audits);
# /data/status the public status site, a volume of its own in docker-compose.yml (the
# web server mounts only that one). A new named volume mounted on either takes over
# its owner (10001) from the image.
ENV PATH=/opt/sla/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SLA_DATA_DIR=/data \
    SLA_METRICS_PORT=9464

USER 10001:10001
WORKDIR /home/sla

# Prometheus metrics of the worker (telemetry.py): also what the health check asks.
EXPOSE 9464

# Healthy = the worker process is up and its metrics endpoint answers HTTP 200.
# The endpoint lives inside the worker's Temporal runtime, so a hung or dead worker
# fails the check; urlopen raises (exit 1) on refusal, timeout or an HTTP error.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; port = os.environ.get('SLA_METRICS_PORT') or '9464'; r.urlopen('http://127.0.0.1:' + port + '/metrics', timeout=4).read(1)"]

# SIGTERM (docker stop) shuts the worker down cleanly (worker.run); activities still
# running are cancelled and Temporal retries them.
STOPSIGNAL SIGTERM
CMD ["sla", "worker"]
