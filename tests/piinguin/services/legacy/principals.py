"""The principals of the legacy tests' policy, and their tokens."""

from __future__ import annotations

from piinguin.access.policy import Policy, token_digest

TOKENS = {
    "writer": "writer-token-5c2e",
    "reader": "reader-token-0a7d",
    "modern": "modern-token-44b1",
    "patterned": "patterned-token-9f3c",
}
ALL_BASES = [
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
]
GRANTS: dict[str, dict[str, object]] = {
    "writer": {"operations": ["write", "delete"]},
    # Reads through the legacy API, on any basis.
    "reader": {"operations": ["read"], "lawful_bases": ALL_BASES, "legacy_consent_reads": True},
    # Reads through v1 only.
    "modern": {"operations": ["read"], "lawful_bases": ["consent"]},
    # Would read through the legacy API, but must give a purpose; ".*" matches any.
    "patterned": {
        "operations": ["read"],
        "lawful_bases": ["consent"],
        "purpose_pattern": ".*",
        "legacy_consent_reads": True,
    },
}
POLICY = Policy.from_document(
    {
        "principals": {
            name: {"token_sha256": [token_digest(TOKENS[name])], **grant}
            for name, grant in GRANTS.items()
        }
    }
)
