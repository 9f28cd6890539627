#!/usr/bin/env bash
# The whole pytest suite under CPU load, several times: `make test-loaded`.
#
# A suite that passes on an idle machine can still fail on a loaded one (CI
# runners, a laptop building something else): timing races, too-short waits,
# locks that only contend when the scheduler interleaves differently. This
# keeps two CPU hogs running (`stress-ng --cpu 2`, Debian's package, installed
# with apt-get when missing) while the suite runs LOADED_RUNS times (default 3).
#
#   LOADED_RUNS=5 bash tests/load/run_loaded.sh -x -k workflows   # args go to pytest
#
# Prints one line per run (PASS/FAIL, pytest's counts, seconds) and the failed
# tests of a failed run; full output in test-artifacts/loaded/run-N.log. Exits 1
# when any run failed. The load stops at the end, on failure and on Ctrl-C.
# When stress-ng cannot be installed (no apt-get, not root), two pure-Python
# busy loops stand in for it, and it says so.
set -u

cd "$(dirname "$0")/../.."
PYTHON=${VENV:-.venv}/bin/python
RUNS=${LOADED_RUNS:-3}
LOGS=test-artifacts/loaded
CPUS=2

case "$RUNS" in
'' | *[!0-9]* | 0)
    echo "test-loaded: LOADED_RUNS must be a positive number, not '$RUNS'" >&2
    exit 2
    ;;
esac
mkdir -p "$LOGS"

# -- the load ------------------------------------------------------------------

LOAD_PIDS=()
stop_load() {
    if [ "${#LOAD_PIDS[@]}" -gt 0 ]; then
        kill "${LOAD_PIDS[@]}" 2>/dev/null
        wait "${LOAD_PIDS[@]}" 2>/dev/null
        LOAD_PIDS=()
    fi
}
# Background jobs of a script ignore Ctrl-C, so the load is stopped here: on
# every way out (EXIT runs after INT/TERM too).
trap stop_load EXIT
trap 'echo; echo "test-loaded: interrupted" >&2; exit 130' INT TERM

install_stress_ng() {
    command -v apt-get >/dev/null 2>&1 || {
        WHY="no apt-get"
        return 1
    }
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root=(sudo -n)
        else
            WHY="installing it needs root or password-less sudo"
            return 1
        fi
    fi
    echo "test-loaded: installing Debian's stress-ng (apt-get install stress-ng)" >&2
    local log=$LOGS/apt-stress-ng.log
    export DEBIAN_FRONTEND=noninteractive
    # A fresh container has empty package lists: update once, then retry.
    timeout 600 "${as_root[@]}" apt-get install -y -q stress-ng >"$log" 2>&1 ||
        {
            timeout 600 "${as_root[@]}" apt-get update -q >>"$log" 2>&1
            timeout 600 "${as_root[@]}" apt-get install -y -q stress-ng >>"$log" 2>&1
        }
    command -v stress-ng >/dev/null 2>&1 && return 0
    WHY="apt-get install stress-ng failed: $(grep -E '^(E|W):' "$log" | tail -n 1) (see $log)"
    return 1
}

WHY=""
if command -v stress-ng >/dev/null 2>&1 || install_stress_ng; then
    stress-ng --cpu "$CPUS" --quiet &
    LOAD_PIDS+=($!)
    LOAD="stress-ng --cpu $CPUS"
else
    echo "test-loaded: stress-ng unavailable ($WHY); using $CPUS pure-Python busy loops instead" >&2
    for _ in $(seq "$CPUS"); do
        "$PYTHON" -c 'while True: pass' &
        LOAD_PIDS+=($!)
    done
    LOAD="$CPUS Python busy loops (stress-ng unavailable)"
fi
sleep 1
for pid in "${LOAD_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || {
        echo "test-loaded: the load ($LOAD) did not start" >&2
        exit 2
    }
done

# -- the runs ------------------------------------------------------------------

echo "test-loaded: $RUNS run(s) of the suite under $LOAD on $(nproc) CPUs"
failed=0
for run in $(seq "$RUNS"); do
    log=$LOGS/run-$run.log
    start=$EPOCHREALTIME
    "$PYTHON" -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
    rc=$?
    seconds=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
    # pytest's last line: "938 passed, 1 xfailed, 2 warnings in 98.76s (0:01:38)"
    counts=$(grep -E '^=*[ ]*[0-9]+ (passed|failed|errors?|skipped|xfailed|xpassed|deselected)' "$log" |
        tail -n 1 | sed -E 's/^=+ //; s/ =+$//; s/ in [0-9.]+s.*$//')
    if [ "$rc" -eq 0 ]; then
        verdict=PASS
    else
        verdict=FAIL
        failed=$((failed + 1))
    fi
    printf 'run %d/%d: %s  %s  %ss  (exit %d, %s)\n' \
        "$run" "$RUNS" "$verdict" "${counts:-no summary}" "$seconds" "$rc" "$log"
    if [ "$rc" -ne 0 ] && grep -qE '^(FAILED|ERROR) [^ ]+\.py' "$log"; then
        # pytest's short summary: "FAILED tests/x.py::test_y - reason" (not captured logs).
        summary=$(grep -E '^(FAILED|ERROR) [^ ]+\.py' "$log" | cut -c1-160)
        printf '%s\n' "$summary" | head -n 30 | sed 's/^/    /'
        more=$(($(printf '%s\n' "$summary" | grep -c .) - 30))
        [ "$more" -le 0 ] || echo "    ... and $more more in $log"
    fi
done

stop_load
if [ "$failed" -gt 0 ]; then
    echo "test-loaded: $failed of $RUNS run(s) failed under load"
    exit 1
fi
echo "test-loaded: all $RUNS run(s) passed under load"
