"""How long one Argon2id hash takes on this machine, for a few parameter sets.

Run: `.venv/bin/python benchmarks/hasher.py`. The portal's choice lives in
`cdt_portal/hashers.py`; pick the set that takes about 50-150 ms here, so a sign-in or a
confirmation stays well under a second while an offline guesser pays for every try.
"""

from __future__ import annotations

import statistics
import time

import argon2

# (time_cost, memory_cost in KiB, parallelism)
PARAMETER_SETS = [
    (2, 102_400, 8),  # Django's default
    (2, 19_456, 1),  # OWASP's minimum (19 MiB, t=2)
    (3, 32_768, 2),
    (3, 49_152, 2),
    (3, 65_536, 2),
    (4, 65_536, 2),
    (3, 65_536, 4),
    (2, 131_072, 2),
]
ROUNDS = 5


def measure(time_cost: int, memory_cost: int, parallelism: int) -> float:
    hasher = argon2.PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        type=argon2.Type.ID,
    )
    hasher.hash("warm-up")
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        hasher.hash("correct horse battery staple")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    print(f"{'time_cost':>9} {'memory KiB':>10} {'parallel':>8} {'ms/hash':>8}")
    for params in PARAMETER_SETS:
        print(f"{params[0]:>9} {params[1]:>10} {params[2]:>8} {measure(*params):>8.1f}")


if __name__ == "__main__":
    main()
