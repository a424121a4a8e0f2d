"""Access control and its audit trail: the policy, authentication, the gatekeeper every
service asks, and the auditor that records each decision."""
