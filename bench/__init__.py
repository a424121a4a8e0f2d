"""Piinguin's benchmarks, run by ``make bench`` (``python -m bench``).

Every figure is measured side by side with a reference in the same run, in interleaved
rounds, and reported as the median of the per-round ratios: the machine is shared and
noisy, and only a ratio taken minutes apart from nothing else means much.

Nothing here is imported by the service; the modules that run in their own processes
(``reference_server``, ``vault_server``, ``load_client``, ``relay_driver``) import only
what their side needs.
"""
