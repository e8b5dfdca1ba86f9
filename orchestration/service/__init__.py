"""ConductorOne service mode ("self-hosted connector"): baton-sdk's daemon protocol, in Python.

With a client id and secret set, `baton-xmatters` authenticates to the C1 tenant, says Hello, polls
for tasks and answers each full-sync task with a sync uploaded as a `.c1z`. The protocol, fact by fact
with its baton-sdk source, is `../shared/docs/c1-service-mode.md`; docs/service-mode.md is ours.
"""
