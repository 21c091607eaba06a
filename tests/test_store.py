"""The catalogue store: workers booting together import the catalogue once, and text
(Cyrillic, emoji, NUL) round-trips on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing

from .conftest import ROOT, database_url


# --- the database under concurrent worker boots ------------------------------------------------
def _sync_in_process(
    url: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue
) -> None:
    from webapp.catalog.products import read_catalog
    from webapp.catalog.store import CatalogStore

    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    barrier.wait(timeout=60)
    try:
        store = CatalogStore(url)
        store.sync(catalog)
        results.put(("ok", store.count()))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", repr(exc)[:300]))


def test_workers_booting_together_import_the_catalogue_once_without_errors(tmp_path) -> None:
    url = database_url(tmp_path)  # a fresh PostgreSQL schema in CI, SQLite otherwise
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_sync_in_process, args=(url, barrier, results)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
    outcomes = [results.get(timeout=5) for _ in procs]
    assert outcomes == [("ok", 1601)] * 3


def test_the_store_round_trips_cyrillic_and_emoji(tmp_path) -> None:
    from webapp.catalog.products import read_catalog
    from webapp.catalog.store import CatalogStore

    store = CatalogStore(database_url(tmp_path))
    catalog = read_catalog(ROOT / "data" / "catalog.csv")
    assert store.sync(catalog) is True and store.sync(catalog) is False
    rooster = store.get("1f413")
    assert rooster is not None and rooster.title.lower() == "петух"
    assert [p.id for p in store.get_many(["1f98b", "nope", "1f413"])] == ["1f98b", "1f413"]
    # PostgreSQL refuses NUL in text: such ids are simply not found (the fuzzer sends them)
    assert store.get("1f413\x00") is None and store.get_many(["\x00", "1f413"])[0].id == "1f413"
