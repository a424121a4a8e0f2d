"""Storage's own errors, raised for a whole call. Per-item trouble is an ``ItemFailed``.

    StorageError
    ├── StorageUnavailable      the backend cannot be reached or keeps refusing (retry later)
    └── StorageMisconfigured    the backend answers, but is not usable as configured
                                (missing table, wrong key schema, bad credentials)

Messages are ours: they never carry a backend's raw text or a stored value.
"""


class StorageError(Exception):
    pass


class StorageUnavailable(StorageError):
    pass


class StorageMisconfigured(StorageError):
    pass
