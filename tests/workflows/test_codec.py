"""Payload encryption: no plain personal data in history, key rotation, the codec server."""

from __future__ import annotations

import base64
import json
import os
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from cli.codec_server import serve
from domain.incident import Resolve
from service.codec import (
    ENCODING,
    CodecConfigError,
    EncryptionCodec,
    codec_from_env,
    data_converter,
    parse_keys,
)
from starter import report_incident
from tests.conftest import make_stack, report
from workflows.incident import IncidentWorkflow

KEY_A = os.urandom(32)
KEY_B = os.urandom(32)
PII = [b"Erika", b"Mustermann", b"erika.mustermann@beispiel-versand.de", b"2131 123456"]


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


async def test_round_trip_hides_the_plain_text() -> None:
    codec = EncryptionCodec({"a": KEY_A}, "a")
    original = payload("Erika Mustermann, +49 2131 123456")
    (encoded,) = await codec.encode([original])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata["encryption-key-id"] == b"a"
    assert b"Erika" not in encoded.data
    assert await codec.decode([encoded]) == [original]


async def test_old_payloads_decode_after_a_key_rotation() -> None:
    before = EncryptionCodec({"2026-05": KEY_A}, "2026-05")
    (old,) = await before.encode([payload("vor der Rotation")])
    after = EncryptionCodec({"2026-05": KEY_A, "2026-11": KEY_B}, "2026-11")
    (new,) = await after.encode([payload("nach der Rotation")])
    assert new.metadata["encryption-key-id"] == b"2026-11"
    assert await after.decode([old, new]) == [
        payload("vor der Rotation"),
        payload("nach der Rotation"),
    ]


async def test_a_retired_key_cannot_decode_and_tampering_is_detected() -> None:
    (old,) = await EncryptionCodec({"old": KEY_A}, "old").encode([payload("x")])
    with pytest.raises(ValueError, match="unknown key 'old'"):
        await EncryptionCodec({"new": KEY_B}, "new").decode([old])
    tampered = Payload(metadata=old.metadata, data=old.data[:-1] + bytes([old.data[-1] ^ 1]))
    with pytest.raises(Exception):  # noqa: B017 - cryptography's InvalidTag
        await EncryptionCodec({"old": KEY_A}, "old").decode([tampered])


async def test_unencrypted_payloads_from_before_pass_through() -> None:
    plain = payload("alt")
    assert await EncryptionCodec({"a": KEY_A}, "a").decode([plain]) == [plain]


def test_key_configuration_errors_are_clear() -> None:
    assert codec_from_env({}) is None
    with pytest.raises(CodecConfigError, match="ID:BASE64"):
        parse_keys("nocolon")
    with pytest.raises(CodecConfigError, match="not valid base64"):
        parse_keys("a:%%%")
    with pytest.raises(CodecConfigError, match="32 bytes"):
        codec_from_env({"SLA_CODEC_KEYS": f"a:{b64(b'short')}"})
    with pytest.raises(CodecConfigError, match=r"not one of the key IDs in SLA_CODEC_KEYS \(a\)"):
        codec_from_env({"SLA_CODEC_KEYS": f"a:{b64(KEY_A)}", "SLA_CODEC_KEY_ID": "b"})
    codec = codec_from_env(
        {"SLA_CODEC_KEYS": f"a:{b64(KEY_A)},b:{b64(KEY_B)}", "SLA_CODEC_KEY_ID": "b"}
    )
    assert codec is not None


def test_key_errors_name_the_entry_by_position_and_show_no_key() -> None:
    key = b64(KEY_A)
    for text, expected in [
        (f"a:{key},{key}", "entry 2 is not ID:BASE64"),
        (f"a:{key},{key}:b", "entry 2: the key ID is not 1-64 characters"),
        (f"a:{key},b:{key}%", "entry 2 (key 'b') is not valid base64"),
        (f"a:{key},a:{b64(KEY_B)}", "entry 2: key ID 'a' appears twice"),
    ]:
        with pytest.raises(CodecConfigError) as refused:
            parse_keys(text)
        message = str(refused.value)
        assert expected in message
        assert not any(key[i : i + 4] in message for i in range(len(key) - 3)), message
    with pytest.raises(CodecConfigError) as refused:
        codec_from_env({"SLA_CODEC_KEYS": f"k1:{key}", "SLA_CODEC_KEY_ID": key})
    assert key[:4] not in str(refused.value)
    with pytest.raises(CodecConfigError, match="a key ID in SLA_CODEC_KEYS is not"):
        EncryptionCodec({key: KEY_A}, key)


def test_key_ids_and_values_may_carry_spaces_around_them() -> None:
    keys = parse_keys(f" 2026-11 : {b64(KEY_A)} , 2026-05:{b64(KEY_B)} ")
    assert keys == {"2026-11": KEY_A, "2026-05": KEY_B}


async def test_history_holds_no_plain_personal_data_when_the_key_is_set(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    codec = EncryptionCodec({"k1": KEY_A}, "k1")
    encrypted = await Client.connect(
        time_env.client.service_client.config.target_host,
        namespace=time_env.client.namespace,
        data_converter=data_converter(codec),
    )
    stack = make_stack(encrypted, time_env, tmp_path)
    async with stack.worker:
        ticket = await report_incident(
            encrypted,
            report(request_id=f"codec-{uuid.uuid4().hex[:8]}"),
            task_queue=stack.task_queue,
            status_page_id=stack.status_page_id,
        )
        handle = encrypted.get_workflow_handle_for(IncidentWorkflow.run, ticket)
        view = await handle.execute_update(IncidentWorkflow.resolve, Resolve(summary="erledigt"))
        assert view.reporter == "Erika Mustermann"  # the codec client reads it fine
        await handle.result()
        # What the server stores, read without the key:
        raw = await time_env.client.get_workflow_handle(ticket).fetch_history()
        stored = b"".join(event.SerializeToString() for event in raw.events)
        assert b"binary/encrypted" in stored
        for secret in PII:
            assert secret not in stored, secret
        # The e-mails themselves still go to the customer in plain text.
        assert any(b"Erika Mustermann" in p.read_bytes() for p in stack.outbox.glob("*.eml"))


@pytest.fixture
def codec_server() -> Iterator[str]:
    codec = EncryptionCodec({"k1": KEY_A}, "k1")
    server = serve(codec, port=0, origins=["http://localhost:8233"], token="s3cret")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def post(url: str, body: bytes, token: str | None = "s3cret") -> tuple[int, bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json", "Origin": "http://localhost:8233"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_codec_server_encodes_and_decodes_for_the_ui(codec_server: str) -> None:
    plain = Payloads(payloads=[payload("Erika Mustermann")])
    status, body, headers = post(
        f"{codec_server}/encode", json_format.MessageToJson(plain).encode()
    )
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
    assert b"Erika" not in base64.b64decode(json.loads(body)["payloads"][0]["data"])
    status, body, _ = post(f"{codec_server}/decode", body)
    assert status == 200
    assert json_format.Parse(body, Payloads()) == plain


def test_codec_server_refuses_without_the_token(codec_server: str) -> None:
    plain = json_format.MessageToJson(Payloads(payloads=[payload("x")])).encode()
    assert post(f"{codec_server}/decode", plain, token=None)[0] == 401
    assert post(f"{codec_server}/decode", plain, token="wrong")[0] == 401
    assert post(f"{codec_server}/nope", plain)[0] == 404
