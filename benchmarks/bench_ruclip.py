"""Benchmark: ruCLIP query and image encoding, ours against ruclip's naive path.

Run ``.venv/bin/python benchmarks/bench_ruclip.py [--model-dir DIR]`` (after ``make install``).
Without ``--model-dir`` it uses (and first generates, if missing) the
``base-384`` folder in ``build/models/base-384``: the published
ruclip-vit-base-patch32-384 shape with random weights, so every number costs
exactly what the real model costs. All paths run interleaved on the same
queries in the same process, and ratios are against the naive path measured
in this run:

* ``processor tokenise``  — ``RuCLIPProcessor(text=[q])``, ids padded to 77;
* ``naive 77-token``       — processor + ``CLIP.encode_text`` (the source documents);
* ``trimmed fp32``         — our tokenizer + the real-token text tower (exact);
* ``trimmed int8``         — the same with the tower's Linear layers int8-quantised;
* ``onnxruntime fp32/int8`` — the trimmed tower exported to ONNX (``export-text-model``,
  written once into ``build/models/<model>-onnx``) and run in ONNX Runtime, one thread;
* ``LRU hit``              — the search core's query-vector cache on a query already in it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from webapp.encoders.base import EncoderError
from webapp.encoders.ruclip_encoder import RuCLIPEncoder
from webapp.encoders.ruclip_models import folder_sizes, generate_model
from webapp.encoders.ruclip_onnx import PRECISIONS, OrtTextTower, export_text_tower, onnx_file
from webapp.search.cache import QueryVectorCache

ROOT = Path(__file__).resolve().parent.parent

QUERIES = """милый котёнок в шляпе акварелью; новогодний узор; пасхальный кролик;
что-нибудь военное для мальчика; петух; ёлка со звездой; цветы для полотенца;
розы и ромашки; весёлый щенок; сова на ветке; медведь с мёдом; лиса в лесу;
танк; самолёт для сына; якорь и корабль; морской узор для детской одежды;
сердце ко дню святого валентина; торт со свечами на день рождения; воздушные шары;
снежинка; дед мороз и снегурочка; подарок под ёлкой; радуга и облака; солнце;
луна и звёзды для пижамы; футбольный мяч; велосипед; горы и палатка; костёр;
машинка для мальчика; поезд; ракета в космосе; клубника; арбуз летом;
вишня и лимон на фартук; кофе и круассан; чайник и чашка; пицца; мороженое;
гитара; скрипка и ноты; театральная маска; врач с чемоданчиком; пожарная машина;
строитель в каске; космонавт; единорог для девочки; принцесса и корона;
бабочка на цветке; божья коровка; пчела и соты; кактус в горшке; листья клёна осенью;
тыква на хэллоуин; череп; котик спит; собака с косточкой; рыбка в аквариуме;
черепаха; дельфин в море; слон с воздушным шариком; жираф; лев царь зверей""".replace("\n", " ")


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and 95th percentile of ``samples``."""
    return statistics.median(samples), float(np.percentile(samples, 95))


def onnx_towers(plain: RuCLIPEncoder, folder: Path, threads: int | None) -> dict[str, Towered]:
    """Encoders sharing ``plain``'s model whose queries run in ONNX Runtime, one per
    precision; the exports are written into ``folder`` once and reused while they match."""
    encoders: dict[str, Towered] = {}
    for precision in PRECISIONS:
        path = onnx_file(folder, precision)
        try:
            tower = OrtTextTower(
                path, model_id=plain.model_id, precision=precision, threads=threads
            )
        except EncoderError:
            print(f"exporting the {precision} query tower to {path} …", flush=True)
            export_text_tower(plain.model, plain.model_id, path, precision=precision)
            tower = OrtTextTower(
                path, model_id=plain.model_id, precision=precision, threads=threads
            )
        encoders[f"onnxruntime {precision}"] = Towered(plain, tower)
    return encoders


class Towered:
    """An encoder and the tower its queries run through (torch or ONNX Runtime)."""

    def __init__(self, encoder: RuCLIPEncoder, tower: object) -> None:
        """Pair ``encoder``'s tokenizer with ``tower``."""
        self.encoder, self.tower = encoder, tower

    def __call__(self, q: str) -> np.ndarray:
        """The unit query vector of ``q``."""
        return self.encoder.encode_tokens([self.encoder.tokenize(q)], tower=self.tower)[0]  # type: ignore[arg-type]


def query_paths(
    plain: RuCLIPEncoder, approx: dict[str, Towered]
) -> dict[str, Callable[[str], object]]:
    """The query paths to compare, each a function of the query text."""
    model, processor = plain.model, plain.processor
    lru = QueryVectorCache()

    @torch.inference_mode()
    def naive(q: str) -> object:
        return model.encode_text(processor(text=[q])["input_ids"].to(plain.device))

    return {
        "processor tokenise (77 ids)": lambda q: processor(text=[q]),
        "our tokenise (real ids)": plain.tokenize,
        "naive 77-token encode_text": naive,
        "trimmed fp32 (exact)": lambda q: plain.encode_tokens([plain.tokenize(q)]),
        **approx,
        "LRU hit (QueryVectorCache)": lambda q: lru.encode(plain, q),
    }


def bench_queries(
    plain: RuCLIPEncoder, approx: dict[str, Towered], queries: list[str], rounds: int
) -> dict[str, list[float]]:
    """Time every path on every query, interleaved so they share the machine's noise."""
    paths = query_paths(plain, approx)
    for q in queries[:5]:  # warm-up: allocator, thread pool, oneDNN/fbgemm kernels
        for fn in paths.values():
            fn(q)
    for q in queries:  # fill the LRU so the "LRU hit" path measures hits
        paths["LRU hit (QueryVectorCache)"](q)
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(rounds):
        for q in queries:
            for name, fn in paths.items():
                samples[name].append(timed(lambda fn=fn, q=q: fn(q)))
    return samples


def agreement(
    plain: RuCLIPEncoder, approx: dict[str, Towered], queries: list[str]
) -> tuple[float, dict[str, float]]:
    """Max |trimmed − naive| and each approximate path's min cosine to the exact vector."""
    worst, cosine = 0.0, dict.fromkeys(approx, 1.0)
    for q in queries:
        with torch.inference_mode():
            ref = plain.model.encode_text(plain.processor(text=[q])["input_ids"].to(plain.device))
        ref = ref[0].float().cpu().numpy()
        ref /= np.linalg.norm(ref)
        exact = plain.encode_tokens([plain.tokenize(q)])[0]
        worst = max(worst, float(np.abs(exact - ref).max()))
        for name, path in approx.items():
            cosine[name] = min(cosine[name], float(exact @ path(q)))
    return worst, cosine


def bench_images(encoder: RuCLIPEncoder, count: int, batch: int) -> dict[str, float]:
    """Per-image ms for preprocessing and for the whole encode_images call (256 px RGBA PNGs)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n in range(count):
            image = Image.new("RGBA", (256, 256), (0, 0, 0, 0))
            ImageDraw.Draw(image).ellipse((20 + n % 40, 30, 230, 220), fill=(200, 9 * n % 255, 80))
            paths.append(Path(tmp) / f"{n}.png")
            image.save(paths[-1])
        encoder.encode_images(paths[:2], batch_size=2)  # warm-up
        prep = timed(lambda: [encoder.preprocess(encoder.load_image(p)) for p in paths]) / count
        full = timed(lambda: encoder.encode_images(paths, batch_size=batch)) / count
        one = statistics.median(timed(lambda p=p: encoder.encode_images([p])) for p in paths[:8])
    return {
        "load+preprocess": prep,
        f"encode_images, batch {batch}": full,
        "encode_images, batch 1": one,
    }


def ensure_model(model_dir: Path | None) -> Path:
    """The folder to benchmark, generating base-384 on first use."""
    if model_dir is not None:
        return model_dir
    folder = ROOT / "build" / "models" / "base-384"
    if not (folder / "pytorch_model.bin").is_file():
        print(f"generating base-384 into {folder} (random weights) …", flush=True)
        generate_model(folder, "base-384")
    return folder


def report(samples: dict[str, list[float]], naive_key: str) -> None:
    """Print median/p95 per path and the speed-up of each against the naive path."""
    base = statistics.median(samples[naive_key])
    print(f"\n{'query path':<30} {'median ms':>10} {'p95 ms':>9} {'× vs naive':>11}")
    for name, values in samples.items():
        median, p95 = summary(values)
        print(f"{name:<30} {median:>10.3f} {p95:>9.3f} {base / median:>10.1f}×")


def main() -> None:
    """Parse options, run the query and image benchmarks and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto [cpu]")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the queries [2]")
    parser.add_argument("--images", type=int, default=32, help="images to encode [32]")
    parser.add_argument("--onnx-dir", type=Path, default=None, help="[<model dir>-onnx]")
    args = parser.parse_args()
    folder = ensure_model(args.model_dir)
    plain = RuCLIPEncoder.load(folder, device=args.device, threads=args.threads, runtime="torch")
    quant = RuCLIPEncoder(
        plain.model,
        plain.processor,
        model_id=plain.model_id,
        device=plain.device,
        quantize=plain.device.type == "cpu",
    )
    approx = {"trimmed int8": Towered(quant, quant.query_tower)}
    if plain.device.type == "cpu":
        approx |= onnx_towers(
            plain, args.onnx_dir or folder.with_name(f"{folder.name}-onnx"), args.threads
        )
    queries = [q.strip() for q in QUERIES.split(";") if q.strip()]
    lengths = [len(plain.tokenize(q)) for q in queries]
    print(
        f"model {plain.model_id} on {plain.device}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), load average {os.getloadavg()[0]:.2f}"
    )
    for name, size in folder_sizes(folder).items():
        print(f"  {name:<18} {size / 2**20:>8.2f} MiB")
    print(
        f"{len(queries)} queries × {args.rounds} rounds; tokens incl. BOS/EOS: "
        f"median {statistics.median(lengths)}, max {max(lengths)} (ruclip pads all to 77)"
    )
    report(bench_queries(plain, approx, queries, args.rounds), "naive 77-token encode_text")
    worst, cosine = agreement(plain, approx, queries)
    print(f"\ntrimmed vs naive: max |diff| {worst:.2e}; min cosine to the exact query vector:")
    for name, value in cosine.items():
        print(f"  {name:<28} {value:.5f}")
    print(f"\n{'image path (per image)':<30} {'ms':>10}")
    for name, ms in bench_images(plain, args.images, batch=16).items():
        print(f"{name:<30} {ms:>10.2f}")


if __name__ == "__main__":
    main()
