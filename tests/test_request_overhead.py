"""The cheap per-request floor keeps every middleware's behaviour: the rate-limit store
counts like ``limits``' own and sweeps from one thread, the session signer follows the
secret key, and the precomputed security headers are the ones Talisman sends."""

from __future__ import annotations

import gc
import threading
import time

from flask import Flask, session
from flask_talisman import Talisman
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from webapp import create_app
from webapp.ratelimit_store import SweptMemoryStorage
from webapp.security import CSP

from .conftest import database_url


def _sweepers() -> list[threading.Thread]:
    """The rate-limit sweeper threads alive now."""
    return [t for t in threading.enumerate() if t.name == "ratelimit-sweeper"]


def test_the_swept_store_counts_and_refuses_exactly_like_limits_memory_store() -> None:
    limit = RateLimitItemPerSecond(5)
    ours = SlidingWindowCounterRateLimiter(storage_from_string("swept-memory://"))
    theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
    answers = [(ours.hit(limit, "ip"), theirs.hit(limit, "ip")) for _ in range(8)]
    assert [a for a, _ in answers] == [b for _, b in answers] == [True] * 5 + [False] * 3
    assert ours.get_window_stats(limit, "ip").remaining == 0


def test_a_busy_store_runs_one_sweeper_thread_and_sweeps_expired_counters() -> None:
    store = SweptMemoryStorage()
    store.SWEEP_SECONDS = 0.05
    before = len(_sweepers())
    for i in range(300):
        store.incr(f"key-{i % 3}", expiry=0.01)
    assert len(_sweepers()) == before + 1  # not one Timer thread per 10 ms of traffic
    time.sleep(0.3)
    assert not store.storage and not store.expirations  # swept without being read


def test_the_sweeper_ends_when_its_store_is_gone() -> None:
    store = SweptMemoryStorage()
    store.SWEEP_SECONDS = 0.02
    store.incr("key", expiry=1)
    sweeper = store._sweeper
    assert sweeper is not None and sweeper.is_alive()
    del store
    for _ in range(100):  # the store sits in a reference cycle (limits' own Timer): gc frees it
        gc.collect()
        sweeper.join(timeout=0.02)
    assert not sweeper.is_alive()


def test_the_default_memory_store_is_the_swept_one_and_still_limits(tmp_path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            # a fixed window: a day, so the four requests never straddle its boundary (a
            # minute did when the first request also loaded the engine)
            "RATELIMIT_APPLICATION": "3 per day",
        }
    )
    (limiter,) = app.extensions["limiter"]
    assert isinstance(limiter.storage, SweptMemoryStorage)
    client = app.test_client()
    codes = [client.get("/api/products/1f413").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert client.get("/healthz").status_code == 200  # probes are never counted


def test_the_session_signer_follows_a_new_secret_key(tmp_path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url(tmp_path)})

    @app.get("/remember")
    def remember() -> str:
        session["n"] = session.get("n", 0) + 1
        return str(session["n"])

    client = app.test_client()
    assert [client.get("/remember").text for _ in range(2)] == ["1", "2"]
    app.secret_key = "another-secret-key-of-enough-length"
    assert client.get("/remember").text == "1"  # the old cookie no longer verifies


def test_the_security_headers_are_the_ones_plain_talisman_sends(client) -> None:
    plain = Flask(__name__)
    Talisman(
        plain,
        force_https=False,
        strict_transport_security=False,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="same-origin",
    )
    plain.get("/healthz")(lambda: "ok")
    expected = plain.test_client().get("/healthz").headers
    for path in ("/healthz", "/search?q=петух", "/api/search?q=петух"):
        ours = client.get(path).headers
        for name in (
            "Content-Security-Policy",
            "Permissions-Policy",
            "X-Frame-Options",
            "X-Content-Type-Options",
            "Referrer-Policy",
        ):
            assert ours[name] == expected[name], (path, name)
        assert "Strict-Transport-Security" not in ours
