"""Connecting to Temporal and preparing a namespace (shared by worker, starter, CLI and tests)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey
from temporalio.envconfig import ClientConfig
from temporalio.service import RPCError, RPCStatusCode

from service.codec import codec_from_env, data_converter
from workflows.names import SEARCH_ATTRIBUTES


async def connect(profile: str | None = None, **overrides: Any) -> Client:
    """Connect using the SDK's environment configuration (and the payload codec, if configured).

    ``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``, TLS
    settings and profiles from the Temporal config file all apply, so the same
    code reaches a dev server, a self-hosted cluster or Temporal Cloud.

    Args:
        profile: Config-file profile name (default profile when ``None``).
        **overrides: Arguments for ``Client.connect`` that win over the config.
    """
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config(profile=profile))
    config.setdefault("target_host", "localhost:7233")
    config.update(overrides)
    # Encrypts payloads when SLA_CODEC_KEYS is set (see service/codec.py).
    return await Client.connect(data_converter=data_converter(codec_from_env()), **config)


def _indexed_type(key: SearchAttributeKey[Any]) -> IndexedValueType.ValueType:
    mapping = {
        SearchAttributeIndexedValueType.KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        SearchAttributeIndexedValueType.BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
        SearchAttributeIndexedValueType.DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
        SearchAttributeIndexedValueType.INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
        SearchAttributeIndexedValueType.TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
        SearchAttributeIndexedValueType.DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    }
    return mapping[key.indexed_value_type]


async def ensure_search_attributes(
    client: Client, keys: Iterable[SearchAttributeKey[Any]] = SEARCH_ATTRIBUTES
) -> list[str]:
    """Register the custom search attributes that the namespace lacks; returns the added names.

    The time-skipping test server cannot list search attributes; there every
    key is added and "already exists" answers are ignored.
    """
    wanted = {k.name: _indexed_type(k) for k in keys}
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        added = []
        for name, value_type in wanted.items():
            try:
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(
                        namespace=client.namespace, search_attributes={name: value_type}
                    )
                )
                added.append(name)
            except RPCError as add_exc:
                if add_exc.status != RPCStatusCode.ALREADY_EXISTS:
                    raise
        return sorted(added)
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {name: t for name, t in wanted.items() if name not in known}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)


REPORTED_PROBLEMS_AFTER = 2
"""Consecutive failed workflow tasks after which the server flags a workflow as stuck.

The server sets ``TemporalReportedProblems`` then, which is how the worker's
repair pass finds workflows stuck on a replay divergence (``service/repair.py``).
"""


def dev_server_options() -> list[str]:
    """Dynamic-config options of every ``temporal server start-dev`` the engine starts.

    The same values as ``deploy/temporal/dynamicconfig/production-sql.yaml``.
    """
    return [
        "--dynamic-config-value",
        f"system.numConsecutiveWorkflowTaskProblemsToTriggerSearchAttribute={REPORTED_PROBLEMS_AFTER}",
    ]
