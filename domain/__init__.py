"""Pure SLA rules: business calendar, policy, intake models and the incident decider."""
