# The two front-door commands: `make run` (embedded stack) and `make test`.
# Both create or reuse .venv and install what they need; nothing downloads at
# run or test time beyond the package registries.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SOURCES := domain activities workflows service api cli reporting archive worker.py starter.py telemetry.py bench chaos tests

.PHONY: run test lint typecheck pytest bench chaos histories clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed-run

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/sla dev

test: $(VENV)/.installed-test lint typecheck pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy $(SOURCES)

pytest: $(VENV)/.installed-test chromium realservers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian's chromium for tests/browser (the status page on a phone viewport). Never fails:
# when it cannot be installed, it says why and those tests skip with that reason.
.PHONY: chromium
chromium:
	@bash tests/browser/ensure_chromium.sh

# The real servers the tests run against (Debian's packages, started by the
# tests on loopback): Dovecot for the mailbox, Prometheus Alertmanager for the
# monitoring webhook, PostgreSQL for the archive; tmux, the terminal `sla watch` is
# tested in (tests/cli/test_watch_tmux.py). Never fails: when a package cannot be
# installed, it says why and those tests skip with that reason.
.PHONY: realservers
realservers:
	@bash tests/realservers/ensure_debian.sh dovecot dovecot-imapd /usr/sbin/dovecot
	@bash tests/realservers/ensure_debian.sh alertmanager prometheus-alertmanager /usr/bin/prometheus-alertmanager
	@bash tests/realservers/ensure_debian.sh postgresql postgresql /usr/lib/postgresql/15/bin/postgres
	@bash tests/realservers/ensure_debian.sh tmux tmux /usr/bin/tmux

# The pytest suite LOADED_RUNS times (default 3) while `stress-ng --cpu 2` keeps the
# CPUs busy (installed with apt-get when missing): a suite that passes on a loaded
# 2-core machine every time. One line per run; exits non-zero if any run failed.
# The workflow tests once more with workers that keep no workflow in cache: every
# workflow task is a full replay, the path a worker takes after a crash (~5 min).
.PHONY: test-cacheless
test-cacheless: $(VENV)/.installed-test
	SLA_TEST_CACHELESS=1 $(BIN)/python -m pytest tests/workflows $(PYTEST_ARGS)

.PHONY: test-loaded
test-loaded: $(VENV)/.installed-test chromium realservers
	@VENV=$(VENV) bash tests/load/run_loaded.sh $(PYTEST_ARGS)

$(VENV)/.installed-chaos: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,chaos]'
	touch $@ $(VENV)/.installed-test $(VENV)/.installed-run

# Worker kills, a server restart and an SMTP outage against real processes
# (about 75 s); prints the figures reported in docs/RELIABILITY.md.
chaos: $(VENV)/.installed-chaos
	$(BIN)/python -m chaos.run $(CHAOS_ARGS)

# Re-record the replay histories after a deliberate workflow change, and
# refresh the fingerprint that `make test` checks workflow modules against.
histories: $(VENV)/.installed-test
	$(BIN)/python -m tests.histories.record
	$(BIN)/python -m tests.histories.record_maintenance
	$(BIN)/python -m tests.histories.record_oncall
	$(BIN)/python -m tests.histories.record_change_requests
	$(BIN)/python -m tests.histories.record_audit
	$(BIN)/python -m tests.histories.record_erasure
	$(BIN)/python -m tests.histories.fingerprint --update

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Regenerate the worker image's lock files (requirements.lock, requirements-otel.lock;
# the Dockerfile installs them with --require-hashes) after pyproject.toml's dependencies
# change. Existing pins are kept; LOCK_ARGS=--upgrade moves to the newest allowed releases.
.PHONY: lock
lock: $(VENV)/.installed-run
	$(BIN)/pip install -q uv
	UV=$(BIN)/uv PYTHON=$(BIN)/python bash deploy/lock.sh $(LOCK_ARGS)
