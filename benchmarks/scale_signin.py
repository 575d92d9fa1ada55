"""Issue 24's sign-in target: the lookup every sign-in makes (`UsernameOrEmailBackend`: the
person by username or e-mail, case aside) reads the indexes, so 100,000 people in the database
change its time by less than 10 % against the few people the bench starts with. Timed in this
process on the bench's PostgreSQL database: a name that exists and one that does not, in turn
(the password's hash, the same work at any size, is left out)."""

from __future__ import annotations

import statistics
import time

from scale_report import say

SIGNIN_PEOPLE = 100_000
SIGNIN_GROWTH_LIMIT = 1.10
SIGNIN_SAMPLES = 200
SIGNIN_ROUNDS = 5


class SigninMixin:
    """For ScaleBench: `signin_before` before anything is built, `measure_signin` at the end."""

    def signin_lookup_ms(self) -> float:
        """The lookup's time: the best of SIGNIN_ROUNDS medians of SIGNIN_SAMPLES lookups (a
        lookup is 1-2 ms, most of it the ORM's own work, and one median moves by 15 % from run
        to run on a shared machine)."""
        from accounts.models import User

        medians = []
        for _ in range(SIGNIN_ROUNDS):
            times = []
            for n in range(SIGNIN_SAMPLES):
                login = "ADMIN" if n % 2 else f"nobody-{n}@example.ru"
                started = time.perf_counter()
                User.objects.by_login(login).first()
                times.append((time.perf_counter() - started) * 1000)
            medians.append(statistics.median(times))
        return min(medians)

    def signin_before(self) -> None:
        from accounts.models import User

        self.signin_small = (User.objects.count(), self.signin_lookup_ms())
        say(f"sign-in lookup with {self.signin_small[0]} people: {self.signin_small[1]:.3f} ms")

    def measure_signin(self) -> None:
        from django.contrib.auth.hashers import make_password
        from django.db import connection

        from accounts.models import User

        missing = SIGNIN_PEOPLE - User.objects.count()
        if missing > 0:
            unusable = make_password(None)
            User.objects.bulk_create(
                (
                    User(
                        username=f"signin-{n:06d}",
                        email=f"signin-{n:06d}@example.ru",
                        password=unusable,
                    )
                    for n in range(missing)
                ),
                batch_size=2000,
            )
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {User._meta.db_table}")
        people, ms = User.objects.count(), self.signin_lookup_ms()
        few, before = self.signin_small
        growth = ms / before
        self.goal(
            f"sign-in lookup, {few} → {people} people",
            value=growth,
            limit=SIGNIN_GROWTH_LIMIT,
            unit="× the few",
            passed=growth < SIGNIN_GROWTH_LIMIT,
            how=f"best of {SIGNIN_ROUNDS} medians of {SIGNIN_SAMPLES}: "
            f"{before:.3f} ms → {ms:.3f} ms",
            section="sign-in",
        )
