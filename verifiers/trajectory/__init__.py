"""Multi-turn trajectory verification by state replay in the sandbox (see ``verifier.py``)."""

from verifiers.trajectory.run import TrajectorySummary, verify_trajectory_file
from verifiers.trajectory.verifier import TrajectoryVerdict, TrajectoryVerifier, blueprint_key

__all__ = [
    "TrajectorySummary",
    "TrajectoryVerdict",
    "TrajectoryVerifier",
    "blueprint_key",
    "verify_trajectory_file",
]
