"""The blind index: a keyed, truncated HMAC of an original's normalised form.

Equal originals, after normalisation, get equal indexes, so a person's records can be found
from a value without the value resting anywhere in clear. The key is the keyring's index
key, never an encryption key; the HMAC is truncated to the keyring's ``bits`` so that
distinct values share index values by design (README, "Blind index"): a lookup's
candidates are confirmed by decrypting them.

Normalisation, by what the value looks like:

    an e-mail address (text@text, no spaces)   trimmed and lower-cased
    an IP address (``ipaddress`` accepts it)   its canonical form; an IPv4-mapped IPv6
                                               address as the IPv4 address
    anything else                              Unicode NFC
"""

from __future__ import annotations

import hashlib
import ipaddress
import unicodedata

from storage.crypto.keyring import IndexKey

_IP_CHARACTERS = frozenset("0123456789abcdefABCDEF.:")
_BLOCK = 64  # SHA-256's block size, for HMAC's pads
_HEX = "0123456789abcdef"


def normalise(value: str) -> str:
    text = value if value.isascii() else unicodedata.normalize("NFC", value)
    trimmed = text.strip()
    if "@" in trimmed:
        local, _, domain = trimmed.rpartition("@")
        # No space and nothing unprintable (which covers every other whitespace).
        if local and domain and " " not in trimmed and trimmed.isprintable():
            return trimmed.lower()
    if (":" in trimmed or "." in trimmed) and _IP_CHARACTERS.issuperset(trimmed):
        try:
            address = ipaddress.ip_address(trimmed)
        except ValueError:
            return text
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(address)
    return text


class BlindIndex:
    """``index(value)``: the first ``bits`` bits of HMAC-SHA256(key, normalise(value)), in
    hex (a last partial digit masked). HMAC is computed from two prepared SHA-256 states
    (RFC 2104): the same bytes as ``hmac.digest``, at a third of its cost per value here."""

    def __init__(self, key: IndexKey) -> None:
        if len(key.key) > _BLOCK:
            raise ValueError("the index key is longer than SHA-256's block")
        self.key = key.key  # for the C sealer, which prepares its own states
        padded = key.key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self.bits = key.bits
        self._bytes = (key.bits + 7) // 8
        self._digits, partial = divmod(key.bits, 4)
        #: Each hex digit as the last one reads with only its top ``partial`` bits kept.
        mask = (0xF << (4 - partial)) & 0xF
        self._last = {d: _HEX[int(d, 16) & mask] for d in _HEX} if partial else None

    def mac(self, normalised: str) -> bytes:
        inner = self._inner.copy()
        inner.update(normalised.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def __call__(self, value: str) -> str:
        return self.truncated(self.digest(value))

    def digest(self, value: str) -> str:
        """The whole HMAC of ``value``'s normal form, in hex: the marker digest
        (``storage.subjects``), whose truncation is the index."""
        inner = self._inner.copy()  # mac(), inlined: this runs for every record written
        inner.update(normalise(value).encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def truncated(self, digest: str) -> str:
        """The index of the value whose ``digest`` this is."""
        if self._last is None:
            return digest[: self._digits]
        return digest[: self._digits] + self._last[digest[self._digits]]
