"""The data converter of every client, worker and replayer: pydantic JSON, read back as recorded.

Temporal's ``pydantic_data_converter`` validates every payload it reads with
the full model. Our models check input strictly (bounded, normalised text,
addresses, dates; ``domain/values.py``), and those checks may grow; a value
recorded before a check existed must still read back, or its workflow is stuck
on replay ("Failed decoding arguments"). This converter reads every payload
with the validation context :data:`domain.values.RECORDED_CONTEXT`, which
skips the input checks; writing is unchanged. Decoding is pure, so the module
passes through the workflow sandbox.
"""

from __future__ import annotations

import functools
from typing import Any

import temporalio.api.common.v1
from pydantic import TypeAdapter
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from domain.values import RECORDED_CONTEXT


@functools.lru_cache(maxsize=1024)
def _adapter(type_hint: Any) -> TypeAdapter[Any]:
    return TypeAdapter(type_hint)


class RecordedJSONPayloadConverter(PydanticJSONPlainPayloadConverter):
    """Pydantic JSON that reads payloads back as recorded data (input checks skipped)."""

    def from_payload(
        self,
        payload: temporalio.api.common.v1.Payload,
        type_hint: type | None = None,
    ) -> Any:
        """Validate the JSON payload as ``type_hint`` in the recorded-data context."""
        hint: Any = type_hint if type_hint is not None else Any
        try:
            adapter = _adapter(hint)
        except TypeError:
            try:
                hash(hint)
            except TypeError:  # an unhashable hint: no cache
                adapter = TypeAdapter(hint)
            else:
                raise
        return adapter.validate_json(payload.data, context=dict(RECORDED_CONTEXT))


class SlaPayloadConverter(CompositePayloadConverter):
    """The default payload converters, JSON read by :class:`RecordedJSONPayloadConverter`."""

    def __init__(self) -> None:
        """Build the composite (a nullary constructor, as ``DataConverter`` needs)."""
        json_converter = RecordedJSONPayloadConverter()
        super().__init__(
            *(
                json_converter if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


sla_data_converter = DataConverter(payload_converter_class=SlaPayloadConverter)
"""The engine's data converter (without payload encryption; see ``service/codec.py``)."""
