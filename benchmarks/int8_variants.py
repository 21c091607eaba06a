"""The ways ONNX Runtime's tools can shrink the ruCLIP query tower, each built from its fp32 export.

Used by ``bench_int8.py``. Every builder takes the fp32 one-query graph that
``export_text_tower(..., precision="fp32")`` writes and writes its variant next to it:

* ``dynamic``: ``quantize_dynamic`` (MatMul and the token table; activations u8,
  quantised per call). ``weights`` s8 or u8, ``per_channel``, ``reduce_range`` (7-bit
  weights, |w| ≤ 64, which the AVX2 kernel cannot saturate: 2 · 255 · 64 < 32768);
* ``static_qdq``: ``quantize_static`` in QDQ format, s8 activations and weights,
  calibrated (min/max) on catalogue titles, never on the evaluation queries;
* ``weight_only``: ``MatMulNBits`` (block-wise 8- or 4-bit weights); ``accuracy_level``
  0 computes in fp32, 4 quantises activations to int8 per block;
* ``fp16``: every float tensor halved, inputs and outputs kept as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

Builder = Callable[[Path, Path], None]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the quantisers' pre-processing tips (logged at WARNING on the root logger)."""
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR
    try:
        yield
    finally:
        root.setLevel(level)


def dynamic(*, weights: str, per_channel: bool, reduce_range: bool) -> Builder:
    """ONNX Runtime's dynamic quantisation with these options."""

    def build(fp32: Path, out: Path) -> None:
        """Quantise ``fp32`` into ``out``."""
        from onnxruntime.quantization import QuantType, quantize_dynamic

        kind = QuantType.QInt8 if weights == "s8" else QuantType.QUInt8
        with _quiet():
            quantize_dynamic(
                fp32, out, weight_type=kind, per_channel=per_channel, reduce_range=reduce_range
            )

    return build


def static_qdq(calibration: Sequence[Sequence[int]]) -> Builder:
    """Static QDQ, s8 × s8 per channel, calibrated on ``calibration`` token lists."""

    def build(fp32: Path, out: Path) -> None:
        """Calibrate on ``calibration`` and quantise ``fp32`` into ``out``."""
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )

        class Reader(CalibrationDataReader):
            """One calibration query at a time, as the graph takes it."""

            def __init__(self) -> None:
                """Start at the first calibration row."""
                self.rows = iter(calibration)

            def get_next(self) -> dict[str, np.ndarray] | None:
                """The next row as the graph's input, None when done."""
                row = next(self.rows, None)
                return None if row is None else {"ids": np.array([row], np.int64)}

        with _quiet():
            quantize_static(
                fp32,
                out,
                Reader(),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=["MatMul"],
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                extra_options={"MatMulConstBOnly": True},
            )

    return build


def weight_only(*, bits: int, accuracy_level: int) -> Builder:
    """``MatMulNBits``: block-wise (32) symmetric ``bits``-bit weights, one accuracy level."""

    def build(fp32: Path, out: Path) -> None:
        """Replace every constant MatMul of ``fp32`` by MatMulNBits, into ``out``."""
        import onnx
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

        with _quiet():
            quantizer = MatMulNBitsQuantizer(
                onnx.load(str(fp32)),
                bits=bits,
                block_size=32,
                is_symmetric=True,
                accuracy_level=accuracy_level,
            )
            quantizer.process()
        quantizer.model.save_model_to_file(str(out))

    return build


def fp16(fp32: Path, out: Path) -> None:
    """Float tensors as float16; the graph still takes ids and returns float32."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    with _quiet():
        onnx.save(convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True), str(out))


#: the dynamic variants: name → (weights, per channel, reduce_range); "s8 per-channel"
#: is the export before issue 20, "s8 per-channel 7-bit" the one after it
DYNAMIC = {
    "s8 per-channel": ("s8", True, False),
    "s8 per-channel 7-bit": ("s8", True, True),
    "s8 per-tensor": ("s8", False, False),
    "s8 per-tensor 7-bit": ("s8", False, True),
    "u8 per-channel": ("u8", True, False),
    "u8 per-tensor": ("u8", False, False),
}


def variants(calibration: Sequence[Sequence[int]]) -> dict[str, Builder]:
    """Name → builder of every variant the benchmark compares (the fp32 baseline aside)."""
    built: dict[str, Builder] = {
        name: dynamic(weights=w, per_channel=pc, reduce_range=rr)
        for name, (w, pc, rr) in DYNAMIC.items()
    }
    return built | {
        "QDQ s8s8": static_qdq(calibration),
        "nbits8 fp32": weight_only(bits=8, accuracy_level=0),
        "nbits8 int8": weight_only(bits=8, accuracy_level=4),
        "nbits4 int8": weight_only(bits=4, accuracy_level=4),
        "fp16": fp16,
    }
