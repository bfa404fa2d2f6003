"""Independent random streams for the synthetic world.

Every process (deaths, admissions, contacts, ...) and every month draws from its own generator,
``np.random.default_rng(SeedSequence(seed, spawn_key=(process, month)))``. A change in how many
numbers one process consumes (for instance because an effect removes events) therefore cannot shift
the draws of any other process: the same seed with and without an effect gives coupled worlds
(common random numbers), and the same seed always gives the same world.
"""

from __future__ import annotations

import numpy as np

__all__ = ["stream", "STREAMS"]

#: Process numbers of the streams (fixed; appending new ones keeps old worlds identical).
STREAMS = {
    "geography": 1,
    "persons": 2,
    "entrants": 3,
    "staff": 4,
    "listings": 5,
    "teams": 6,
    "scenario": 7,
    "health": 10,
    "death": 11,
    "migration": 12,
    "unplanned": 13,
    "ed": 14,
    "planned": 15,
    "primary": 16,
    "specialist": 17,
    "enrol": 18,
    "municipal": 19,
    "hospital": 30,
    "contacts": 31,
    "rollout": 40,
}


def stream(seed: int, process: str, month: int = 0) -> np.random.Generator:
    """Generator for one process (and month) of the world with this seed."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(STREAMS[process], month)))
