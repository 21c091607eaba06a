"""Which column format a worker should map the product table from: numpy ``.npy``
string columns (``webapp/catalog/table.py``), Arrow IPC or Parquet.

The table of ``items`` designs is written once in each format under
``build/scale/columns-<items>/``; then a fresh process per format (as a worker starts)
opens it and measures: the library import, opening the table, building the 24
``Product`` s of a page (random rows), a facet scan (category counts and a price band
over every row), and its memory (RSS, and anonymous = its own, not shared page cache)
before and after, with the files in the page cache (as on a machine that has served a
while). A bare process with numpy alone is the baseline.

Run by ``bench_scale.py`` (part ``columns``) or alone:
``python benchmarks/scale_columns.py --items 1000000``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("baseline", "npy", "arrow", "parquet")
PAGE = 24


def write_all(items: int, folder: Path) -> dict[str, float]:
    """Write the first ``items`` corpus designs in every format; seconds per format."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import scale_corpus
    from webapp.catalog.products import parse_row
    from webapp.catalog.table import TAG_SEPARATOR, ProductTable

    done = folder / "written.json"
    if done.is_file():
        return json.loads(done.read_text())
    products = [parse_row(r) for r in scale_corpus.rows(items)]
    folder.mkdir(parents=True, exist_ok=True)
    took = {}
    started = time.perf_counter()
    ProductTable.build(products).save(folder / "npy")
    took["npy"] = time.perf_counter() - started
    started = time.perf_counter()
    columns = {
        "id": [p.id for p in products],
        "title": [p.title for p in products],
        "category": pa.array([p.category for p in products]).dictionary_encode(),
        "subcategory": pa.array([p.subcategory for p in products]).dictionary_encode(),
        "tags": [TAG_SEPARATOR.join(p.tags) for p in products],
        "description": [p.description for p in products],
        "price": pa.array([p.price for p in products], pa.int64()),
        "image": [p.image for p in products],
    }
    table = pa.table(columns)
    with (
        pa.OSFile(str(folder / "table.arrow"), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    took["arrow"] = time.perf_counter() - started
    started = time.perf_counter()
    pq.write_table(table, folder / "table.parquet")
    took["parquet"] = time.perf_counter() - started
    done.write_text(json.dumps(took))
    return took


def measure(kind: str, folder: Path, items: int) -> dict[str, Any]:
    """Open ``folder``'s table in format ``kind`` in this (fresh) process and time a page
    and a facet scan; memory before and after."""
    from scale_worker import memory
    from webapp.catalog.products import Product
    from webapp.catalog.table import ProductTable

    result: dict[str, Any] = {"format": kind, "at_start": memory()}
    rows, again = np.random.default_rng(0).choice(items, (2, PAGE), replace=False)
    started = time.perf_counter()
    if kind == "npy":
        imported = time.perf_counter()
        table = ProductTable.load(folder / "npy")
        opened = time.perf_counter()
        page = table.products(rows)
        paged = time.perf_counter()
        table.products(again)
        second = time.perf_counter()
        counts = np.bincount(table.category_codes)
        band = int(np.count_nonzero((table.prices >= 500) & (table.prices <= 900)))
    elif kind in ("arrow", "parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        imported = time.perf_counter()
        if kind == "arrow":
            table = pa.ipc.open_file(pa.memory_map(str(folder / "table.arrow"))).read_all()
        else:
            table = pq.read_table(folder / "table.parquet", memory_map=True)
        opened = time.perf_counter()

        def products(rows: np.ndarray) -> list[Product]:
            return [
                Product(r["id"], r["title"], r["category"], r["subcategory"],
                        tuple(r["tags"].split("; ")) if r["tags"] else (), r["description"],
                        r["price"], r["image"])
                for r in table.take(pa.array(rows)).to_pylist()
            ]  # fmt: skip

        page = products(rows)
        paged = time.perf_counter()
        products(again)
        second = time.perf_counter()
        codes = table.column("category").combine_chunks().indices.to_numpy()
        prices = table.column("price").to_numpy()
        counts = np.bincount(codes)
        band = int(np.count_nonzero((prices >= 500) & (prices <= 900)))
    else:
        imported = opened = paged = second = time.perf_counter()
        page, counts, band = [], np.zeros(1), 0
    scanned = time.perf_counter()
    return result | {
        "import_ms": round((imported - started) * 1000, 1),
        "open_ms": round((opened - imported) * 1000, 2),
        "page_ms": round((paged - opened) * 1000, 2),
        "next_page_ms": round((second - paged) * 1000, 2),
        "facets_ms": round((scanned - second) * 1000, 2),
        "page": len(page),
        "categories": int(len(counts)),
        "band": band,
        "after": memory(),
    }


def run(items: int) -> list[dict[str, Any]]:
    """Write (once) and measure every format in its own process; print a table."""
    folder = ROOT / "build" / "scale" / f"columns-{items}"
    written = write_all(items, folder)
    from scale_server import read_through  # here: a measured child imports none of it

    results = []
    for kind in FORMATS:
        for path in (folder / "npy").glob("*.npy") if kind == "npy" else folder.glob("table.*"):
            read_through(path)  # a serving machine has the columns in its page cache
        command = [sys.executable, __file__, "--measure", kind, "--items", str(items)]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        results[-1]["write_s"] = round(written.get(kind, 0.0), 1)
        results[-1]["disk_mib"] = round(_disk(folder, kind) / 2**20)
        print(json.dumps(results[-1]), flush=True)
    print(
        f"\n| format ({items}) | write s | disk MiB | import ms | open ms | first page ms | "
        "next page ms | facet scan ms | own MiB after | RSS MiB after |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    for r in results:
        print(f"| {r['format']} | {r['write_s']} | {r['disk_mib']} | {r['import_ms']} | "
              f"{r['open_ms']} | {r['page_ms']} | {r['next_page_ms']} | {r['facets_ms']} | "
              f"{r['after']['anon_mib']} | {r['after']['rss_mib']} |")  # fmt: skip
    return results


def _disk(folder: Path, kind: str) -> int:
    """Bytes format ``kind`` takes on disk."""
    if kind == "npy":
        return sum(p.stat().st_size for p in (folder / "npy").iterdir())
    name = {"arrow": "table.arrow", "parquet": "table.parquet"}.get(kind)
    return (folder / name).stat().st_size if name else 0


def main() -> None:
    """Compare the formats at ``--items`` designs, or measure one (``--measure``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--measure", choices=FORMATS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    if args.measure:
        folder = ROOT / "build" / "scale" / f"columns-{args.items}"
        print(json.dumps(measure(args.measure, folder, args.items)), flush=True)
    else:
        run(args.items)


if __name__ == "__main__":
    main()
