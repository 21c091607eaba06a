"""Which x86 kernels run here, and the same ONNX graph on an emulated AVX2-only CPU.

ONNX Runtime (MLAS), FAISS, torch and OpenBLAS each pick their SIMD kernels from the
CPU's ``cpuid`` when they load. Floating-point kernels of different widths add in a
different order (differences of ~1e-7); integer kernels can differ more: the int8
u8 × s8 matrix product of AVX2 (``vpmaddubsw``) saturates each pair's sum at int16,
while AVX-512 VNNI (``vpdpbusd``) does not, so one int8 graph may answer differently on
two servers of the same kind (docs/performance.md, *int8 on every x86 kernel*).

:func:`cpu_flags` names the flags that choose. :func:`replay` runs ONNX graphs on token
ids in a child process, natively or under ``qemu-x86_64 -cpu Haswell`` (Debian's
``qemu-user``: its TCG has AVX2 and FMA but no AVX-512 or VNNI), so tests and
``benchmarks/bench_int8.py`` can compare both kernels on one machine. The child
(``python -m webapp.encoders.isa``) imports numpy and onnxruntime only, because
everything under emulation runs ~50× slower.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: the cpuid features that choose a kernel, as numpy's dispatcher detects them
FLAGS = ("SSE41", "AVX", "F16C", "FMA3", "AVX2", "AVX512F", "AVX512BW", "AVX512VNNI")
#: QEMU's CPU model for an AVX2-only server: AVX2, FMA, F16C; no AVX-512, no VNNI
AVX2_ONLY = "Haswell"
_ROOT = Path(__file__).resolve().parents[2]


def cpu_flags() -> dict[str, bool]:
    """This process's view of :data:`FLAGS` (``cpuid``: what an emulator shows, not the host)."""
    from numpy._core._multiarray_umath import __cpu_features__ as found

    return {name: bool(found.get(name)) for name in FLAGS}


def kernel_kind(flags: Mapping[str, bool]) -> str:
    """ "avx512-vnni", "avx512", "avx2" or "sse": the widest integer-dot-product family."""
    if flags.get("AVX512VNNI"):
        return "avx512-vnni"
    if flags.get("AVX512F"):
        return "avx512"
    return "avx2" if flags.get("AVX2") else "sse"


def describe(flags: Mapping[str, bool]) -> str:
    """One line for logs and test output: the kind and every flag, + or −."""
    signs = " ".join(("+" if on else "-") + name for name, on in flags.items())
    return f"{kernel_kind(flags)} ({signs})"


def emulator(cpu: str = AVX2_ONLY) -> list[str] | None:
    """The command prefix that runs a process as ``cpu``, or None without qemu-user."""
    qemu = shutil.which("qemu-x86_64")
    return [qemu, "-cpu", cpu] if qemu else None


@dataclass
class Replay:
    """What :func:`replay` brings back from the child process."""

    #: graph name → (n, d) float32 features, unnormalised, one row per token list
    features: dict[str, np.ndarray]
    #: graph name → milliseconds of every run (rounds × n), interleaved across graphs
    ms: dict[str, np.ndarray]
    #: the child's :func:`cpu_flags`
    flags: dict[str, bool]


def replay(
    graphs: Mapping[str, Path],
    tokens: Sequence[Sequence[int]],
    *,
    cpu: str | None = None,
    rounds: int = 1,
    threads: int = 1,
    timeout: float | None = None,
) -> Replay:
    """Run each one-query graph (``ids`` → ``features``) on every token list in a child process.

    ``cpu`` None runs it natively, else under :func:`emulator` (RuntimeError without
    qemu-user). Each round runs every query through every graph, in a new order per
    query, so timings share the machine's noise; features come from the first round.
    """
    prefix: list[str] = []
    if cpu is not None:
        found = emulator(cpu)
        if found is None:
            raise RuntimeError("qemu-x86_64 is not installed (apt-get install qemu-user)")
        prefix = found
    with tempfile.TemporaryDirectory(prefix="isa-") as tmp:
        ids, out = Path(tmp) / "ids.npz", Path(tmp) / "out.npz"
        lengths = np.array([len(t) for t in tokens])
        padded = np.zeros((len(tokens), max(lengths)), np.int64)
        for row, ids_row in enumerate(tokens):
            padded[row, : len(ids_row)] = ids_row
        np.savez(ids, ids=padded, lengths=lengths)
        command = [*prefix, sys.executable, "-m", "webapp.encoders.isa", str(ids), str(out)]
        command += ["--rounds", str(rounds), "--threads", str(threads)]
        command += [f"{name}={path}" for name, path in graphs.items()]
        path = os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))
        done = subprocess.run(
            command, env={**os.environ, "PYTHONPATH": path}, timeout=timeout, capture_output=True
        )
        if done.returncode:
            tail = done.stderr.decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(command[:4])} … failed ({done.returncode}): {tail}")
        with np.load(out) as saved:
            flags = json.loads(str(saved["flags"]))
            return Replay(
                features={name: saved[f"features:{name}"] for name in graphs},
                ms={name: saved[f"ms:{name}"] for name in graphs},
                flags=flags,
            )


def _run(args: argparse.Namespace) -> None:
    """The child: open every graph (one thread each), run the queries, save the answers."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    sessions = {}
    for spec in args.graphs:
        name, path = spec.split("=", 1)
        sessions[name] = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    with np.load(args.ids) as saved:
        rows = [saved["ids"][r : r + 1, :length] for r, length in enumerate(saved["lengths"])]
    features = {name: [] for name in sessions}
    ms: dict[str, list[float]] = {name: [] for name in sessions}
    order = np.random.default_rng(0)
    for round_ in range(args.rounds):
        for ids in rows:
            # a new order per query: the graph run after a big one finds its weights out of cache
            for name in order.permutation(list(sessions)):
                session = sessions[name]
                start = time.perf_counter()
                answer = session.run(["features"], {"ids": ids})[0]
                ms[name].append((time.perf_counter() - start) * 1e3)
                if round_ == 0:
                    features[name].append(answer[0])
    arrays = {f"features:{n}": np.asarray(f, np.float32) for n, f in features.items()}
    arrays |= {f"ms:{n}": np.asarray(m) for n, m in ms.items()}
    np.savez(args.out, flags=json.dumps(cpu_flags()), **arrays)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m webapp.encoders.isa IDS.npz OUT.npz [--rounds N] name=graph.onnx …``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("graphs", nargs="+", help="name=path of a one-query ONNX graph")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    _run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
