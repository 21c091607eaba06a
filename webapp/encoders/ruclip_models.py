"""Build step: generating ruCLIP model folders with random weights.

No real ruCLIP weights can be downloaded here, so the project makes its own
model folders with ruclip's own classes: ``config.json``, ``bpe.model`` (a
youtokentome BPE trained on Russian text) and ``pytorch_model.bin`` (a
``ruclip.CLIP`` state dict, seeded and deterministic). They load through the
same ``from_pretrained`` path as the published weights.

* ``tiny`` — a few MB, built in a second or two, for tests;
* ``base-384`` — the published ruclip-vit-base-patch32-384 architecture, so a
  benchmark on it costs exactly the compute of the real model.

Every generated config says ``"random_weights": true``: the vectors are
meaningless for search quality, only the code path and its cost are real.
Weights are byte-identical for a given preset and seed; the BPE is not
always (see :func:`train_bpe`), so a regenerated folder may get a new
``model_id`` and its caches are then rebuilt, never mixed.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..files import replacing
from .ruclip_folder import MODEL_FILES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CATALOG = ROOT / "data" / "catalog.csv"

# CLIP's image normalisation, which ruclip's configs and processor use.
_MEAN = [0.48145466, 0.4578275, 0.40821073]
_STD = [0.26862954, 0.26130258, 0.27577711]

#: Field-for-field the published ``ruclip-vit-base-patch32-384/config.json``.
BASE_384: dict[str, Any] = {
    "embed_dim": 512,
    "image_resolution": 384,
    "vision_layers": 12,
    "vision_width": 768,
    "vision_patch_size": 32,
    "context_length": 77,
    "vocab_size": 49408,
    "transformer_width": 512,
    "transformer_heads": 8,
    "transformer_layers": 12,
    "mean": _MEAN,
    "std": _STD,
}
#: The smallest model ruclip builds that still has every part: 512-d output,
#: one vision head (ruclip derives heads as width // 64), a two-layer causal text tower.
TINY: dict[str, Any] = {
    "embed_dim": 512,
    "image_resolution": 224,
    "vision_layers": 1,
    "vision_width": 64,
    "vision_patch_size": 32,
    "context_length": 77,
    "vocab_size": 1000,
    "transformer_width": 64,
    "transformer_heads": 2,
    "transformer_layers": 2,
    "mean": _MEAN,
    "std": _STD,
}
PRESETS: dict[str, dict[str, Any]] = {"tiny": TINY, "base-384": BASE_384}
_NAMES = {"tiny": "ruclip-tiny-random", "base-384": "ruclip-vit-base-patch32-384-random"}

# Russian text the BPE always learns from; the demo catalogue's text is added when present.
BUILTIN_CORPUS = """\
Машинная вышивка: дизайны для вышивальных машин, готовые к загрузке после оплаты.
Милый котёнок в шляпе, нарисованный акварелью, подойдёт для детской футболки.
Новогодний узор со снежинками, ёлкой, звёздами и подарками для свитера и скатерти.
Пасхальный кролик с корзинкой крашеных яиц и весенними цветами.
Что-нибудь военное для мальчика: танк, самолёт, звезда, якорь и корабль.
Цветочный орнамент с розами, ромашками, тюльпанами и листьями для полотенца.
Забавная собака, весёлый щенок, хитрая лиса, медведь, заяц, сова и петух.
Фрукты и ягоды: яблоко, вишня, клубника, арбуз, лимон и виноград на кухонном фартуке.
Спорт и отдых: футбольный мяч, велосипед, лыжи, палатка, костёр и горы.
Транспорт: машина, автобус, поезд, ракета, вертолёт и парусная лодка.
Символы праздника: сердце ко дню святого Валентина, торт со свечами, воздушные шары.
Погода и природа: солнце, облако, радуга, молния, дождь, снег, луна и звёзды.
Еда и напитки: кофе, чай, пирог, мороженое, пицца, бутерброд и блины со сметаной.
Музыка и искусство: гитара, скрипка, барабан, палитра, кисть и театральная маска.
Профессии: врач, повар, пожарный, учитель, строитель, космонавт и полицейский.
Размер вышивки, количество стежков, число цветов ниток и формат файла указаны в карточке.
Подберите дизайн по настроению: нежный, яркий, строгий, смешной, праздничный или детский.
"""


def generate_model(
    out_dir: Path, preset: str, *, corpus: Iterable[str] | None = None, seed: int = 0
) -> Path:
    """Write a ruCLIP folder of ``preset`` with seeded random weights; return the folder."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config = PRESETS[preset]
    lines = list(corpus) if corpus is not None else list(default_corpus())
    bpe_vocab = train_bpe(lines, out_dir / "bpe.model", vocab_size=config["vocab_size"])
    _write_weights(config, out_dir / "pytorch_model.bin", seed=seed)
    _write_config(out_dir / "config.json", {**config, **_provenance(preset, seed, bpe_vocab)})
    return out_dir


def default_corpus(catalog: Path = DEFAULT_CATALOG) -> Iterator[str]:
    """The built-in Russian text plus the demo catalogue's titles, tags and descriptions."""
    yield from BUILTIN_CORPUS.splitlines()
    if not catalog.is_file():
        return
    with catalog.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield " ".join(row.get(k) or "" for k in ("title", "tags", "description"))


def train_bpe(lines: Iterable[str], path: Path, *, vocab_size: int) -> int:
    """Train a youtokentome BPE on lowercased ``lines`` (ruclip lowercases); return its vocab.

    The vocabulary stops short of ``vocab_size`` when the corpus runs out of
    merges (ids stay below the model's embedding table either way). The
    youtokentome wheel is built without its DETERMINISTIC_QUEUE switch, so
    merges of equal frequency may come out in a different order run to run.
    """
    import youtokentome as yttm

    text = "\n".join(line.lower() for line in lines if line.strip())
    if not text:
        raise ValueError("the BPE corpus is empty")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "corpus.txt"
        data.write_text(text + "\n", encoding="utf-8")
        model = Path(tmp) / "bpe.model"
        # one thread keeps the merges deterministic; ids 0-3 are pad/unk/bos/eos as ruclip expects
        yttm.BPE.train(
            data=str(data),
            model=str(model),
            vocab_size=vocab_size,
            n_threads=1,
            pad_id=0,
            unk_id=1,
            bos_id=2,
            eos_id=3,
        )
        os.replace(model, path)
    return int(yttm.BPE(str(path)).vocab_size())


def _write_weights(config: dict[str, Any], path: Path, *, seed: int) -> None:
    """Build ``ruclip.CLIP`` from ``config`` under a fixed seed and save its state dict."""
    import torch
    from ruclip.model import CLIP

    arch = {k: v for k, v in config.items() if k not in ("mean", "std")}
    with torch.random.fork_rng(devices=[]):  # leave the caller's RNG state alone
        torch.manual_seed(seed)
        model = CLIP(**arch)
    # to a handle: torch names the archive inside after a file's name, which would differ
    with replacing(path) as tmp, tmp.open("wb") as handle:
        torch.save(model.state_dict(), handle)


def _provenance(preset: str, seed: int, bpe_vocab: int) -> dict[str, Any]:
    """The config fields that say this folder is generated, random and how to rebuild it."""
    return {
        "model_name": _NAMES[preset],
        "random_weights": True,
        "generated_by": (
            f"webapp.ruclip_models (flask --app webapp make-ruclip-model "
            f"--preset {preset} --seed {seed}): ruclip.CLIP with random weights, "
            "for tests and latency benchmarks only; it knows nothing"
        ),
        "preset": preset,
        "seed": seed,
        "bpe_vocab_size": bpe_vocab,
    }


def _write_config(path: Path, config: dict[str, Any]) -> None:
    """Write ``config.json`` in the indented layout of the published configs."""
    path.write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def folder_sizes(folder: Path) -> dict[str, int]:
    """Byte size of each of the three model files in ``folder``."""
    return {name: (folder / name).stat().st_size for name in MODEL_FILES}
