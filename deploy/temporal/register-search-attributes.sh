#!/bin/bash
# One-shot job of docker-compose.yml (service `search-attributes`, admin-tools image):
# registers the engine's custom search attributes in the namespace, then exits 0 when
# every one exists with its type. Idempotent: attributes already there are left alone.
#
#   TEMPORAL_ADDRESS        frontend, e.g. temporal:7233 (read by the `temporal` CLI)
#   TEMPORAL_NAMESPACE      namespace (read by the `temporal` CLI)
#   SLA_SEARCH_ATTRIBUTES   "Name=Type Name=Type ..." (docker-compose.yml; must equal
#                           workflows/names.py SEARCH_ATTRIBUTES, tests/deploy checks it)
#
# The worker registers missing attributes itself at start (ensure_search_attributes);
# this job makes them exist before the first worker, and fails loudly on a type clash.
set -euo pipefail

namespace="${TEMPORAL_NAMESPACE:-default}"
: "${SLA_SEARCH_ATTRIBUTES:?SLA_SEARCH_ATTRIBUTES is not set}"

# auto-setup creates the namespace in the background once the server is up, and a new
# namespace needs a moment before its search attributes can be listed.
for attempt in $(seq 1 60); do
    if existing="$(temporal operator search-attribute list --namespace "$namespace" 2>/dev/null)"; then
        break
    fi
    if [ "$attempt" -eq 60 ]; then
        echo "namespace $namespace is not ready on ${TEMPORAL_ADDRESS:-?}" >&2
        exit 1
    fi
    sleep 2
done

for spec in $SLA_SEARCH_ATTRIBUTES; do
    name="${spec%%=*}"
    type="${spec#*=}"
    if grep -qE "(^|[[:space:]])${name}([[:space:]]|$)" <<<"$existing"; then
        echo "search attribute $name exists"
        continue
    fi
    echo "creating search attribute $name ($type) in namespace $namespace"
    temporal operator search-attribute create --namespace "$namespace" --name "$name" --type "$type"
done

# Verify: every attribute listed, with the expected type.
listed="$(temporal operator search-attribute list --namespace "$namespace")"
missing=0
for spec in $SLA_SEARCH_ATTRIBUTES; do
    name="${spec%%=*}"
    type="${spec#*=}"
    # The type column reads "Keyword" (or the enum name ending in KEYWORD): case-insensitive.
    if ! grep -qiE "(^|[[:space:]])${name}[[:space:]].*${type}([[:space:]]|$)" <<<"$listed"; then
        echo "search attribute $name is not registered as $type" >&2
        missing=1
    fi
done
if [ "$missing" -ne 0 ]; then
    echo "$listed" >&2
    exit 1
fi
echo "all search attributes registered in namespace $namespace"
