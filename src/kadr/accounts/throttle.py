"""Failed-login throttling: per account and address, per account, and per address.

Three sliding windows, all counting failures only:

- one account from one address: 10 per minute (a person mistyping is back within a minute;
  a success clears this one);
- one account from anywhere: 20 per 15 minutes (guessing one password from many addresses);
- one address, any accounts: 20 per 15 minutes (one address spraying many accounts).

While any window is full, the login answers 429 with `Retry-After`, even for the right password:
it could be the next guess. The address is `kadr.core.forwarded`'s, so a client cannot escape
by sending `X-Forwarded-For`. Counters live in the API process (in memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kadr.core.errors import RateLimited
from kadr.core.ratelimit import RateLimiter

LOGIN_FAILURE_LIMIT = 10
LOGIN_FAILURE_WINDOW_SECONDS = 60.0
ACCOUNT_FAILURE_LIMIT = 20
ADDRESS_FAILURE_LIMIT = 20
WIDE_WINDOW_SECONDS = 15 * 60.0
#: Keys each window keeps at most: a flood of random emails from many addresses must not grow
#: memory without bound (the oldest keys are forgotten first).
MAX_KEYS = 50_000


def _limiter(limit: int, window: float) -> RateLimiter:
    return RateLimiter(limit=limit, window_seconds=window, max_keys=MAX_KEYS)


@dataclass
class LoginThrottle:
    """The failed-login counters of one API process."""

    pair: RateLimiter = field(
        default_factory=lambda: _limiter(LOGIN_FAILURE_LIMIT, LOGIN_FAILURE_WINDOW_SECONDS)
    )
    account: RateLimiter = field(default_factory=lambda: _limiter(ACCOUNT_FAILURE_LIMIT, WIDE_WINDOW_SECONDS))
    address: RateLimiter = field(default_factory=lambda: _limiter(ADDRESS_FAILURE_LIMIT, WIDE_WINDOW_SECONDS))

    def check(self, email: str, client: str) -> None:
        """429 `RateLimited` while any window of this email or address is full."""
        wait = max(
            self.pair.retry_after(f"{email}|{client}"),
            self.account.retry_after(email),
            self.address.retry_after(client),
        )
        if wait > 0:
            raise RateLimited(
                "too many failed logins; wait before trying again", retry_after=max(1, math.ceil(wait))
            )

    def failed(self, email: str, client: str) -> None:
        self.pair.hit(f"{email}|{client}")
        self.account.hit(email)
        self.address.hit(client)

    def succeeded(self, email: str, client: str) -> None:
        """Forgive this person's typos from here, but not the account's or the address's other
        failures: an attacker must not clear them by logging into an account of their own."""
        self.pair.reset(f"{email}|{client}")
