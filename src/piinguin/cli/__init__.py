"""The ``piinguin`` command line and ``piinguin-healthcheck``, both built on the client."""
