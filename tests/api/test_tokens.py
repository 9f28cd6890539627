"""API tokens: only digests configured, every refusal names the entry, never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.tokens import ApiTokens, TokenConfigError, token_digest

DIGEST = token_digest("s3cret")


def test_a_configured_token_is_known_by_its_name_and_others_are_not() -> None:
    tokens = ApiTokens.parse(f"chat:{DIGEST}, phone:{token_digest('other')}", where="env")
    assert tokens.name_of("s3cret") == "chat"
    assert tokens.name_of("other") == "phone"
    for wrong in ("", "s3cret ", "S3CRET", "x" * 10_000, DIGEST):
        assert tokens.name_of(wrong) is None, wrong


def test_lines_comments_and_upper_case_hex_are_read() -> None:
    text = f"# intake systems\nchat:{DIGEST.upper()}  # the chat\n\nphone:{token_digest('p')}\n"
    assert [name for name, _ in ApiTokens.parse(text, where="file").entries] == ["chat", "phone"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("chat", "64 hex digits"),
        (f":{DIGEST}", "needs a name"),
        ("chat:abc", "64 hex digits"),
        (f"chat:{DIGEST},chat:{token_digest('x')}", "listed twice"),
        (f"ch at:{DIGEST}", "needs a name"),
    ],
)
def test_a_malformed_entry_is_named_by_position_without_its_text(text: str, fragment: str) -> None:
    with pytest.raises(TokenConfigError) as info:
        ApiTokens.parse(text, where="SLA_API_TOKENS")
    assert fragment in str(info.value)
    assert "SLA_API_TOKENS" in str(info.value)
    assert "abc" not in str(info.value)


def test_the_environment_and_the_file_add_up(tmp_path: Path) -> None:
    file = tmp_path / "tokens"
    file.write_text(f"phone:{token_digest('p')}\n", "utf-8")
    tokens = ApiTokens.from_env(
        {"SLA_API_TOKENS": f"chat:{DIGEST}", "SLA_API_TOKENS_FILE": str(file)}
    )
    assert tokens.name_of("p") == "phone" and tokens.name_of("s3cret") == "chat"
    with pytest.raises(TokenConfigError, match="cannot read"):
        ApiTokens.from_env({"SLA_API_TOKENS_FILE": str(tmp_path / "missing")})
    file.write_text(f"chat:{token_digest('q')}\n", "utf-8")
    with pytest.raises(TokenConfigError, match="configured twice"):
        ApiTokens.from_env({"SLA_API_TOKENS": f"chat:{DIGEST}", "SLA_API_TOKENS_FILE": str(file)})


def test_no_configuration_is_no_tokens() -> None:
    assert not ApiTokens.from_env({})
