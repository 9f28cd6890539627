"""Optional payload encryption: the Temporal server and UI only ever see ciphertext.

Reports carry names, phone numbers and e-mail addresses, and Temporal keeps
every workflow input, update and activity argument in its history. With
``SLA_CODEC_KEYS`` set, every payload is encrypted with AES-256-GCM before it
leaves the process; ``sla codec-server`` lets an authorized operator's Temporal
UI decrypt for display.

Keys::

    SLA_CODEC_KEYS="2026-11:<base64 32 bytes>,2026-05:<base64 32 bytes>"
    SLA_CODEC_KEY_ID="2026-11"        # the key new payloads are encrypted with

Every encrypted payload names its key ID in its metadata, so old payloads stay
readable after a rotation as long as their key remains in ``SLA_CODEC_KEYS``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
import re
from collections.abc import Mapping, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from workflows.converter import sla_data_converter

ENCODING = b"binary/encrypted"
"""Metadata ``encoding`` of an encrypted payload."""

KEY_ID_METADATA = "encryption-key-id"
_NONCE_BYTES = 12

KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
"""What a key ID may look like (``2026-11``): short, and never mistaken for key material.

No ``+``, ``/`` or ``=``, so that a base64 key pasted where an ID belongs does
not pass as an ID and end up in an error message.
"""

_NOT_SHOWN = "(values are not shown: they may hold key material)"


class CodecConfigError(ValueError):
    """Malformed ``SLA_CODEC_KEYS`` / ``SLA_CODEC_KEY_ID``.

    The message never contains key material, not even a fragment: it names
    entries by position and shows only key IDs that match :data:`KEY_ID_PATTERN`.
    """


class EncryptionCodec(PayloadCodec):
    """AES-GCM codec with key rotation by key ID."""

    def __init__(self, keys: Mapping[str, bytes], current_key_id: str) -> None:
        """Create the codec.

        Args:
            keys: Key ID → 32-byte key; every key that may still be needed to decrypt.
            current_key_id: The key that encrypts new payloads.

        Raises:
            CodecConfigError: Unknown current key, a malformed key ID or a key of
                the wrong length.
        """
        for key_id, key in keys.items():
            if not KEY_ID_PATTERN.fullmatch(key_id):
                raise CodecConfigError(
                    f"a key ID in SLA_CODEC_KEYS is not 1-64 characters of A-Z a-z 0-9 . _ - "
                    f"{_NOT_SHOWN}"
                )
            if len(key) != 32:
                raise CodecConfigError(f"key {key_id!r} must be 32 bytes (AES-256), got {len(key)}")
        if current_key_id not in keys:
            # The value is not echoed: a key pasted into the wrong variable
            # would end up in the log.
            raise CodecConfigError(
                "SLA_CODEC_KEY_ID is not one of the key IDs in SLA_CODEC_KEYS "
                f"({', '.join(sorted(keys))}) {_NOT_SHOWN}"
            )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._current = current_key_id

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt every payload with the current key."""
        cipher = self._ciphers[self._current]
        encoded = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            # The key ID is authenticated too: a payload cannot be relabelled.
            data = cipher.encrypt(nonce, payload.SerializeToString(), self._current.encode())
            encoded.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: self._current.encode()},
                    data=nonce + data,
                )
            )
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt encrypted payloads; others pass unchanged (history from before encryption)."""
        decoded = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                decoded.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
            cipher = self._ciphers.get(key_id)
            if cipher is None:
                raise ValueError(f"payload encrypted with unknown key {key_id!r}")
            nonce, data = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
            decoded.append(Payload.FromString(cipher.decrypt(nonce, data, key_id.encode())))
        return decoded


def parse_keys(text: str) -> dict[str, bytes]:
    """``id:base64,id:base64`` → key ID → key bytes.

    Raises:
        CodecConfigError: An entry without ``:``, with a malformed key ID, a
            repeated key ID, or invalid base64. The message names the entry
            by its position and never shows key material.
    """
    keys: dict[str, bytes] = {}
    entries = [part.strip() for part in text.split(",")]
    for position, entry in enumerate(filter(None, entries), start=1):
        where = f"SLA_CODEC_KEYS entry {position}"
        key_id, separator, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not separator or not key_id:
            raise CodecConfigError(f"{where} is not ID:BASE64 {_NOT_SHOWN}")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise CodecConfigError(
                f"{where}: the key ID is not 1-64 characters of A-Z a-z 0-9 . _ - {_NOT_SHOWN}"
            )
        if key_id in keys:
            raise CodecConfigError(f"{where}: key ID {key_id!r} appears twice")
        try:
            keys[key_id] = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            # binascii's message can quote the offending characters: not shown.
            raise CodecConfigError(
                f"{where} (key {key_id!r}) is not valid base64 {_NOT_SHOWN}"
            ) from None
    return keys


def codec_from_env(env: Mapping[str, str] | None = None) -> EncryptionCodec | None:
    """The codec configured by ``SLA_CODEC_KEYS``/``SLA_CODEC_KEY_ID``, or ``None``.

    Raises:
        CodecConfigError: The variables are set but malformed.
    """
    env = os.environ if env is None else env
    text = env.get("SLA_CODEC_KEYS", "").strip()
    if not text:
        return None
    keys = parse_keys(text)
    if not keys:
        raise CodecConfigError("SLA_CODEC_KEYS is set but holds no key")
    current = env.get("SLA_CODEC_KEY_ID") or next(iter(keys))
    return EncryptionCodec(keys, current)


def data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    """The engine's data converter (:mod:`workflows.converter`); encrypts with a codec."""
    if codec is None:
        return sla_data_converter
    return dataclasses.replace(sla_data_converter, payload_codec=codec)
