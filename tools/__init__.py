"""Build scripts run from the checkout, never installed: `make lambda` uses package_relay."""
