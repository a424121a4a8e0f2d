"""What an erasure answers (``PiinguinClient.erase_subject``), and checking it.

A receipt is kept as a small JSON file, ``{"receipt": ..., "signature": ..., "key_id":
...}`` (``ErasureReceipt.to_file`` / ``from_file``), and checked offline with the
server's public key (``verify_with``) or with the keys the server publishes
(``PiinguinClient.receipt_keys``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from piinguin.receipts import ReceiptError, load_public_key, verify
from piinguin.v1 import EraseSubjectResponse

#: The fields of a receipt file, all strings.
FILE_FIELDS = ("receipt", "signature", "key_id")


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    """The signed receipt of one erasure; ``pseudonyms`` are the ones tombstoned."""

    receipt: str  # canonical JSON, as signed
    signature: str  # base64 Ed25519
    key_id: str
    pseudonyms: tuple[str, ...] = ()

    @classmethod
    def of(cls, response: EraseSubjectResponse) -> ErasureReceipt:
        return cls(
            response.receipt,
            response.signature,
            response.key_id,
            tuple(response.modified_values),
        )

    def to_file(self) -> str:
        """The receipt file's text (JSON, one object, ending in a newline)."""
        fields = {"receipt": self.receipt, "signature": self.signature, "key_id": self.key_id}
        return json.dumps(fields, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_file(cls, text: str) -> ErasureReceipt:
        """Read a receipt file; ``ReceiptError`` says what is wrong with it."""
        try:
            document = json.loads(text)
        except ValueError:
            raise ReceiptError("not a receipt file: not JSON") from None
        if not isinstance(document, Mapping):
            raise ReceiptError("not a receipt file: not a JSON object")
        missing = [name for name in FILE_FIELDS if not isinstance(document.get(name), str)]
        if missing:
            raise ReceiptError(f"not a receipt file: no {', '.join(missing)} (strings)")
        return cls(document["receipt"], document["signature"], document["key_id"])

    def verify_with(self, public_key_pem: str) -> dict[str, Any]:
        """The receipt's body if the key in ``public_key_pem`` signed it as it stands;
        ``ReceiptError`` otherwise."""
        return verify(self.receipt, self.signature, load_public_key(public_key_pem))
