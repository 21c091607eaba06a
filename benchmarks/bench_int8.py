"""Benchmark: the ruCLIP query tower's int8 exports on every x86 kernel, against exact fp32.

Run ``.venv/bin/python benchmarks/bench_int8.py [--model-dir DIR]`` (after ``make
install``; the AVX2-only leg needs Debian's ``qemu-user``). Without ``--model-dir`` it
uses the full-size ``base-384`` folder with random weights (generated on first use).

* **Queries**: every query text in ``data/eval/*.jsonl`` (408), tokenised as served.
* **Exact**: the torch fp32 trimmed tower's unit vectors; every variant is held to them.
* **Catalogue**: the demo catalogue's 1,601 designs in two ruCLIP spaces, as served:
  ``ruclip-image`` (the image tower over the pictures) and ``ruclip-combined``
  (image + text tower, normalised); cached in ``build/int8/``.
* **Variants**: the shipped export (``export_text_tower(..., precision="int8")``), the
  fp32 export (the baseline) and each of :mod:`int8_variants`, built once from the
  fp32 graph into ``build/int8/<model>/`` and reused.
* **Kernels**: every graph runs in a child process (``webapp.encoders.isa``), natively
  (here: AVX-512 + VNNI) and under ``qemu-x86_64 -cpu Haswell`` (AVX2 + FMA, no
  AVX-512, no VNNI: the kernel that saturates int8 pair sums). Speed is native only
  (median ms per query over ``--rounds``, interleaved, one thread), as a ratio to fp32
  in the same run; under emulation only the numbers are meaningful.

Per kernel and variant: cosine to the exact vector (min, median) and the top-10
overlap of the ranking with the exact vector's, in both spaces (mean, min), plus how
far the two kernels' answers are apart (max |Δ| of the unit vectors).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
from pathlib import Path

import numpy as np

from bench_ruclip import ensure_model
from int8_variants import variants
from webapp.catalog.products import read_catalog
from webapp.encoders.base import l2_normalise
from webapp.encoders.isa import AVX2_ONLY, cpu_flags, describe, emulator, replay
from webapp.encoders.ruclip_encoder import RuCLIPEncoder
from webapp.encoders.ruclip_onnx import QUANTISATION, export_text_tower

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / "build" / "int8"
TOP = 10


def eval_queries() -> list[str]:
    """Every distinct query text of the evaluation sets, in file order."""
    seen: dict[str, None] = {}
    for path in sorted((ROOT / "data" / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            text = json.loads(line).get("query") if line.strip() else None
            if text is not None:
                seen.setdefault(text, None)
    return list(seen)


def catalogue(plain: RuCLIPEncoder, folder: Path) -> dict[str, np.ndarray]:
    """The demo catalogue's ruclip-image and ruclip-combined matrices (cached in ``folder``)."""
    path = folder / "catalogue.npz"
    if path.is_file():
        with np.load(path) as saved:
            return {name: saved[name] for name in saved.files}
    data = ROOT / "data"
    products = read_catalog(data / "catalog.csv").products
    print(f"encoding {len(products)} designs (pictures and texts) …", flush=True)
    image = plain.encode_images([data / p.image for p in products], batch_size=16)
    text = plain.encode_texts([p.search_text for p in products])
    spaces = {"ruclip-image": image, "ruclip-combined": l2_normalise(image + text)}
    np.savez(path, **spaces)
    return spaces


def build_graphs(plain: RuCLIPEncoder, folder: Path, calibration: list[list[int]]) -> dict:
    """Name → ONNX file of every variant, exported or quantised once into ``folder``."""
    fp32 = folder / "fp32.onnx"
    if not fp32.is_file():
        export_text_tower(plain.model, plain.model_id, fp32, precision="fp32")
    shipped = folder / f"shipped-{hashlib.sha1(QUANTISATION.encode()).hexdigest()[:8]}.onnx"
    if not shipped.is_file():
        export_text_tower(plain.model, plain.model_id, shipped, precision="int8")
    graphs = {"fp32": fp32, "shipped int8": shipped}
    for name, build in variants(calibration).items():
        path = folder / (name.replace(" ", "_") + ".onnx")
        try:
            if not path.is_file():
                print(f"building {name} …", flush=True)
                build(fp32, path)
        except ModuleNotFoundError as exc:  # MatMulNBits needs onnx-ir, not pinned here
            print(f"{name}: skipped ({exc}; pip install onnx-ir to include it)")
            continue
        graphs[name] = path
    return graphs


def agreement(vectors: np.ndarray, exact: np.ndarray, spaces: dict[str, np.ndarray]) -> dict:
    """Cosine to exact (min, median) and top-10 overlap with exact's ranking per space."""
    unit = l2_normalise(vectors)
    cosine = (unit * exact).sum(axis=1)
    row = {"cos min": float(cosine.min()), "cos median": float(np.median(cosine))}
    for name, items in spaces.items():
        mine = np.argpartition(-(unit @ items.T), TOP, axis=1)[:, :TOP]
        truth = np.argpartition(-(exact @ items.T), TOP, axis=1)[:, :TOP]
        overlap = [len(set(a) & set(b)) / TOP for a, b in zip(mine, truth, strict=True)]
        row[f"{name} mean"], row[f"{name} min"] = float(np.mean(overlap)), float(min(overlap))
    return row


def table(results: dict, speed: dict[str, float], apart: dict[str, float]) -> None:
    """Print the comparison as a Markdown table (docs/performance.md takes it as it is)."""
    spaces = ("ruclip-image", "ruclip-combined")
    print(
        "\n| variant | kernel | cos min | cos median | top-10 image mean / min "
        "| top-10 combined mean / min | ms (native) | × fp32 | max Δ native↔AVX2 |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    base = speed["fp32"]
    for name in speed:
        for kernel, rows in results.items():
            r = rows[name]
            overlap = " | ".join(f"{r[f'{s} mean']:.3f} / {r[f'{s} min']:.1f}" for s in spaces)
            ms = f"{speed[name]:.2f} | {base / speed[name]:.2f}" if kernel == "native" else " | "
            gap = f"{apart[name]:.1e}" if name in apart and kernel == "native" else ""
            print(
                f"| {name} | {kernel} | {r['cos min']:.5f} | {r['cos median']:.5f} "
                f"| {overlap} | {ms} | {gap} |"
            )


def main() -> None:
    """Parse options, build what is missing, run both kernels and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="native timing passes [3]")
    parser.add_argument("--emulated", type=int, default=0, help="queries under qemu [0: all]")
    parser.add_argument("--no-emulation", action="store_true", help="native kernel only")
    parser.add_argument("--only", default="", help="comma-separated variant names")
    args = parser.parse_args()
    plain = RuCLIPEncoder.load(ensure_model(args.model_dir), device="cpu", runtime="torch")
    folder = WORKDIR / plain.model_id.replace("/", "_")
    folder.mkdir(parents=True, exist_ok=True)
    queries = eval_queries()
    tokens = [plain.tokenize(q) for q in queries]
    exact = plain.encode_texts(queries)
    spaces = catalogue(plain, folder)
    titles = [p.title for p in read_catalog(ROOT / "data" / "catalog.csv").products]
    calibration = [plain.tokenize(t) for t in titles[::8]]
    graphs = build_graphs(plain, folder, calibration)
    if args.only:
        keep = {"fp32", "shipped int8", *args.only.split(",")}
        graphs = {name: path for name, path in graphs.items() if name in keep}
    print(f"model {plain.model_id}; {len(queries)} queries; {len(spaces['ruclip-image'])} designs")
    print(f"native kernel: {describe(cpu_flags())}; load average {os.getloadavg()[0]:.2f}")
    print(f"shipped int8 = {QUANTISATION}", flush=True)
    native = replay(graphs, tokens, rounds=args.rounds)
    results = {"native": {n: agreement(f, exact, spaces) for n, f in native.features.items()}}
    speed = {name: statistics.median(ms) for name, ms in native.ms.items()}
    apart: dict[str, float] = {}
    if not args.no_emulation and emulator() is not None:
        picked = np.linspace(0, len(tokens) - 1, args.emulated or len(tokens)).astype(int)
        print(f"AVX2-only leg: {len(picked)} queries under qemu -cpu {AVX2_ONLY} …", flush=True)
        avx2 = replay(graphs, [tokens[i] for i in picked], cpu=AVX2_ONLY)
        print(f"emulated kernel: {describe(avx2.flags)}")
        results["AVX2"] = {n: agreement(f, exact[picked], spaces) for n, f in avx2.features.items()}
        for name, features in avx2.features.items():
            mine = l2_normalise(native.features[name][picked])
            apart[name] = float(np.abs(mine - l2_normalise(features)).max())
    elif not args.no_emulation:
        print("qemu-x86_64 not found (apt-get install qemu-user): native kernel only")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    table(results, speed, apart)


if __name__ == "__main__":
    main()
