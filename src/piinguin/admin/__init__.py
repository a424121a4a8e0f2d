"""``piinguin-admin``: operator commands on the vault's storage and keys, run beside the
servers (never through them): key files, sealing plaintext items in place, re-encryption
under a new key version, adding the blind index to an existing table."""
