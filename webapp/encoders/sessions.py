"""How a model runs, apart from what it is: a torch module or an ONNX Runtime file.

Both take a float32 NCHW batch and return a float32 (n, d) matrix, so a tower picks
its session by what is on disk (after immich's ``sessions/``) and never branches on
the runtime itself. ONNX Runtime needs no torch in the process (≈0.1 GB instead of
≈0.5 GB) and is several times faster on CPU for the small image backbone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .base import EncoderError

#: ONNX graph names shared by the exporter and :class:`OrtSession`.
INPUT_NAME, OUTPUT_NAME = "pixels", "features"


class Session(Protocol):
    """A loaded model that maps an input batch to output features."""

    #: "onnxruntime" or "torch", shown in logs and benchmarks
    runtime: str

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(n, 3, H, W) float32 → (n, d) float32."""
        ...


class TorchSession:
    """Runs a torch module in inference mode on CPU (or ``device``)."""

    runtime = "torch"

    def __init__(self, module: Any, *, device: str = "cpu", threads: int | None = None) -> None:
        """Wrap an eval-mode ``module``; ``threads`` caps torch's intra-op threads."""
        import torch

        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self.device = device
        self.module = module.eval().to(device)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Forward ``batch`` without autograd and return a float32 numpy matrix."""
        with self._torch.inference_mode():
            out = self.module(self._torch.from_numpy(batch).to(self.device))
        return out.float().cpu().numpy()


class OrtSession:
    """Runs an exported ``.onnx`` file in ONNX Runtime on the CPU."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        """Open ``path``; EncoderError with the fix when it is not a loadable model."""
        self._session = open_onnx(
            path, threads=threads, fix="`flask --app webapp export-image-model`"
        )
        self.metadata = dict(self._session.get_modelmeta().custom_metadata_map)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the graph on ``batch``."""
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]


def open_onnx(path: Path, *, threads: int | None, fix: str) -> Any:
    """An ONNX Runtime CPU session over ``path`` (``threads`` intra-op threads, 0 = the
    library's choice; errors only in the log); EncoderError naming ``fix`` when the file
    is not a loadable model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: no start-up chatter in the server log
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise EncoderError(f"cannot load {path}: {exc}; re-export it with {fix}") from exc


class LazySession:
    """A session built on first use, once, under a lock (servers load towers lazily)."""

    def __init__(self, build: Callable[[], Session]) -> None:
        """Remember how to build the session."""
        self._build = build
        self._session: Session | None = None
        self._lock = threading.Lock()

    def get(self) -> Session:
        """The session, building it on the first call."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._build()
        return self._session
