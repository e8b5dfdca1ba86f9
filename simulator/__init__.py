"""A local, deterministic xMatters REST API simulator (stdlib only): org data, fault knobs, HTTP server."""

from simulator.app import XmattersSimulator
from simulator.faults import FaultRule, Faults
from simulator.org import Org, OrgSpec, build_org

__all__ = ["FaultRule", "Faults", "Org", "OrgSpec", "XmattersSimulator", "build_org"]
