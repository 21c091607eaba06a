"""Measure the numbers behind the tests' cross-kernel tolerances on this CPU (or an emulated one).

Run it three ways and compare (docs/performance.md, *int8 on every x86 kernel*):

    .venv/bin/python benchmarks/isa_margins.py                       # the native kernels
    make test-isa's ISA_AVX2 variables .venv/bin/python benchmarks/isa_margins.py
    qemu-x86_64 -cpu Haswell .venv/bin/python benchmarks/isa_margins.py   # AVX2 only, all libraries

Each row is a quantity a test bounds, computed as the test computes it (a generated
tiny ruCLIP, the demo's EfficientNet-Lite0 and its committed cache), with the test's
bound beside it; the header says which kernels the libraries picked.
"""

from __future__ import annotations

import ctypes
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ruclip_fixtures import make_model  # noqa: E402
from tests.test_ruclip import QUERIES  # noqa: E402
from webapp.catalog.embedding_cache import read_cache  # noqa: E402
from webapp.encoders.efficientnet_lite import EfficientNetLiteEncoder, export_onnx  # noqa: E402
from webapp.encoders.isa import cpu_flags, describe  # noqa: E402
from webapp.encoders.ruclip_encoder import RuCLIPEncoder  # noqa: E402
from webapp.encoders.ruclip_onnx import export_text_tower, onnx_file  # noqa: E402

Row = tuple[str, str, str, float]


def kernels() -> str:
    """Which kernels torch, FAISS and numpy's OpenBLAS chose in this process."""
    import faiss

    blas = next((Path(np.__file__).parent.parent / "numpy.libs").glob("*openblas*.so"), None)
    core = "?"
    if blas is not None:
        lib = ctypes.CDLL(str(blas))
        for name in ("scipy_openblas_get_corename64_", "openblas_get_corename"):
            if hasattr(lib, name):
                getattr(lib, name).restype = ctypes.c_char_p
                core = getattr(lib, name)().decode()
    return (
        f"cpuid {describe(cpu_flags())}; torch {torch.backends.cpu.get_cpu_capability()}; "
        f"FAISS {faiss.SIMDConfig.get_level_name()}; OpenBLAS {core}"
    )


def naive(encoder: RuCLIPEncoder, text: str) -> np.ndarray:
    """ruclip's own 77-token path, as tests/test_ruclip.py computes it."""
    with torch.inference_mode():
        vector = encoder.model.encode_text(encoder.processor(text=[text])["input_ids"])[0]
    return vector.numpy() / np.linalg.norm(vector.numpy())


def ruclip_rows(folder: Path) -> list[Row]:
    """The ruCLIP text tower's bounds (tests/test_ruclip.py, tests/test_ruclip_onnx.py)."""
    exact_dir = make_model(folder / "tiny")
    exact = RuCLIPEncoder.load(exact_dir, device="cpu", runtime="torch")
    for precision in ("fp32", "int8"):
        path = onnx_file(folder, precision)
        export_text_tower(exact.model, exact.model_id, path, precision=precision)
    quant = RuCLIPEncoder(
        exact.model, exact.processor, model_id="q", device=exact.device, quantize=True
    )
    want = np.stack([exact.encode_query(q) for q in QUERIES])
    # in this process, not webapp.encoders.isa.replay: a child of an emulated process
    # would run natively (qemu-user does not follow exec)
    unit = {
        p: np.stack([ort.encode_query(q) for q in QUERIES])
        for p, ort in (
            (p, RuCLIPEncoder.load(exact_dir, device="cpu", quantize=p == "int8", onnx_dir=folder))
            for p in ("fp32", "int8")
        )
    }
    torch8 = np.stack([quant.encode_query(q) for q in QUERIES[:4]])
    return [
        (
            "ruCLIP ONNX fp32 vs torch, max abs Δ",
            "test_ruclip_onnx",
            "≤ 1e-5",
            np.abs(unit["fp32"] - want).max(),
        ),
        (
            "ruCLIP ONNX int8 cosine to exact, min",
            "test_ruclip_onnx",
            "> 0.995",
            (unit["int8"] * want).sum(1).min(),
        ),
        (
            "ruCLIP torch int8 cosine to exact, min",
            "test_ruclip",
            "> 0.99",
            (torch8 * want[:4]).sum(1).min(),
        ),
        (
            "ruCLIP trimmed vs 77-token, max abs Δ",
            "test_ruclip",
            "≤ 1e-4",
            max(np.abs(exact.encode_query(q) - naive(exact, q)).max() for q in QUERIES),
        ),
        (
            "ruCLIP batched vs one by one, max abs Δ",
            "test_ruclip",
            "≤ 1e-4",
            np.abs(
                exact.encode_texts(QUERIES, batch_size=3)
                - np.stack([naive(exact, q) for q in QUERIES])
            ).max(),
        ),
    ]


def image_rows(folder: Path) -> list[Row]:
    """The image tower's bounds (tests/test_image_encoder.py)."""
    data = ROOT / "data"
    path = export_onnx(folder / "efficientnet-lite0.onnx")
    on_torch = EfficientNetLiteEncoder(runtime="torch")
    on_ort = EfficientNetLiteEncoder(onnx_path=path, runtime="onnxruntime")
    paths = sorted((data / "images").glob("1f4*.png"))[:5]
    theirs = on_torch.encode_images(paths)
    cache = read_cache(ROOT / "embeddings" / "image-efficientnet-lite0.pkl")
    rooster = data / "images" / "1f413.png"
    committed = cache.vectors[cache.ids.index("1f413")]

    def delta(a: np.ndarray, b: np.ndarray) -> float:
        """The largest absolute difference of two vectors."""
        return float(np.abs(a - b).max())

    return [
        (
            "EfficientNet ONNX vs torch, batch of 5, max abs Δ",
            "test_image_encoder",
            "≤ 1e-4",
            delta(on_ort.encode_images(paths, batch_size=5), theirs),
        ),
        (
            "EfficientNet ONNX vs torch, batch of 1, max abs Δ",
            "test_image_encoder",
            "≤ 1e-4",
            delta(on_ort.encode_images(paths[:1], batch_size=1)[0], theirs[0]),
        ),
        (
            "EfficientNet torch vs the committed cache, max abs Δ",
            "test_image_encoder",
            "≤ 1e-4",
            delta(on_torch.encode_images([rooster])[0], committed),
        ),
        (
            "EfficientNet ONNX vs the committed cache, max abs Δ",
            "(the served path)",
            "—",
            delta(on_ort.encode_images([rooster])[0], committed),
        ),
    ]


def main() -> None:
    """Measure every row and print them as a Markdown table under the kernels line."""
    torch.set_num_threads(1)
    print(kernels(), f"; load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows = ruclip_rows(Path(tmp)) + image_rows(Path(tmp))
    print("\n| quantity | test | bound | measured |\n| --- | --- | --- | ---: |")
    for name, test, bound, value in rows:
        shown = f"{value:.5f}" if value > 0.5 else f"{value:.2e}"
        print(f"| {name} | {test} | {bound} | {shown} |")


if __name__ == "__main__":
    main()
