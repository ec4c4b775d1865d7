"""Chaos for the replica: server errors, dropped connections and slow answers at chosen rates.

What happens to a request is drawn from (seed, path, how many times that path was asked
before), not from arrival order, so a crawl against a chaotic replica meets the same faults
whatever its concurrency, and a retry (or a rerun) of a path draws again.

>>> chaos = parse_chaos("500=0.2,drop=0.05,slow=0.1")
>>> (chaos.error_rate, chaos.drop_rate, chaos.slow_rate, chaos.slow_s)
(0.2, 0.05, 0.1, 0.5)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from db.errors import PipelineError

DEFAULT_SPEC = "500=0.2,drop=0.05,slow=0.1"  # Chaos()'s defaults, as `cli.py replica --chaos` shows them
# Spec keys -> Chaos fields.
SPEC_KEYS = {"500": "error_rate", "drop": "drop_rate", "slow": "slow_rate", "delay": "slow_s", "seed": "seed"}


class BadChaosSpec(PipelineError):
    """A --chaos value that does not read as KEY=VALUE pairs with rates in [0, 1]."""


@dataclass(frozen=True)
class Chaos:
    error_rate: float = 0.2  # share of requests answered HTTP 500
    drop_rate: float = 0.05  # share of requests whose connection is closed without an answer
    slow_rate: float = 0.1  # share of requests answered after slow_s seconds
    slow_s: float = 0.5  # delay of a slow answer, in seconds
    seed: int = 0  # the same seed draws the same faults for the same (path, attempt)

    def draw(self, path: str, attempt: int) -> str | None:
        """"error", "drop", "slow" or None for the `attempt`-th request (0-based) of `path`."""
        digest = hashlib.sha256(f"{self.seed}\0{path}\0{attempt}".encode()).digest()
        roll = int.from_bytes(digest[:8], "big") / 2**64
        for fault, rate in (("error", self.error_rate), ("drop", self.drop_rate), ("slow", self.slow_rate)):
            if roll < rate:
                return fault
            roll -= rate
        return None


def describe_chaos(chaos: Chaos | None) -> str:
    """ " with chaos: ..." for the replica's announcement line; "" without chaos.

    >>> describe_chaos(Chaos())
    ' with chaos: 20% HTTP 500, 5% dropped connections, 10% answers 0.5 s late (seed 0)'
    """
    if chaos is None:
        return ""
    return (f" with chaos: {chaos.error_rate:.0%} HTTP 500, {chaos.drop_rate:.0%} dropped connections, "
            f"{chaos.slow_rate:.0%} answers {chaos.slow_s:g} s late (seed {chaos.seed})")


def parse_chaos(spec: str) -> Chaos:
    """Read "500=0.2,drop=0.05,slow=0.1,delay=0.5,seed=0" (any subset; others keep Chaos's defaults)."""
    values: dict[str, float | int] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, _, raw = part.partition("=")
        field = SPEC_KEYS.get(key.strip())
        try:
            value = int(raw) if field == "seed" else float(raw)
        except ValueError:
            value = None
        if field is None or value is None or value < 0 or (field.endswith("_rate") and value > 1):
            raise BadChaosSpec(
                f"Chaos spec {spec!r} has {part!r}: expected KEY=VALUE with KEY one of {', '.join(SPEC_KEYS)}, "
                f"rates between 0 and 1 and delay in seconds, e.g. --chaos {DEFAULT_SPEC}."
            )
        values[field] = value
    chaos = Chaos(**values)
    if chaos.error_rate + chaos.drop_rate + chaos.slow_rate > 1:
        raise BadChaosSpec(f"Chaos spec {spec!r} adds up to more than 1 (every request): lower the rates.")
    return chaos
