"""ruCLIP (SberAI) as a text *and* image encoder of one shared 512-d space.

Loading goes through ruclip's own ``CLIP.from_pretrained`` and
``RuCLIPProcessor.from_pretrained``, so a folder with the published weights
works unchanged. Two paths are ours, both proven equal to ruclip's in tests:

* **Text, trimmed.** ruclip pads every text to 77 tokens, but its text tower is
  causal and reads the output at the EOS token, so nothing after EOS can
  change the result. :class:`TrimmedTextTower` runs the same weights on the
  real tokens only (batches pad to their longest member), which is several
  times cheaper. Query vectors are kept in an LRU cache.
* **Images.** ruclip's processor uses ``RandomResizedCrop(scale=1, ratio=1)``,
  i.e. a centre square crop (random only for near-square images, see
  :func:`square_box`) resized bilinearly. :func:`preprocess` does that
  deterministically and yields the same tensors. Transparent PNGs are
  composited on white *before* either path sees them (ruclip's own
  ``.convert('RGB')`` would show the hidden colour of transparent pixels,
  black for our emoji): pass ``background=None`` for ruclip's behaviour.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import youtokentome as yttm
from PIL import Image
from torch import nn
from torch.nn import functional as F

from .base import EncoderError, l2_normalise

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # ruclip imports huggingface_hub: never call out
from ruclip.model import CLIP  # noqa: E402
from ruclip.processor import RuCLIPProcessor  # noqa: E402

MODEL_FILES = ("config.json", "bpe.model", "pytorch_model.bin")
WHITE = (255, 255, 255)
_MIB = 1 << 20
_CONFIG_KEYS = ("embed_dim", "image_resolution", "vision_layers", "vision_width",
                "vision_patch_size", "context_length", "vocab_size", "transformer_width",
                "transformer_heads", "transformer_layers")


class RuCLIPEncoder:
    """ruCLIP behind the :class:`TextEncoder` and :class:`ImageEncoder` protocols."""

    def __init__(self, model: CLIP, processor: RuCLIPProcessor, *, model_id: str,
                 device: torch.device, cache_size: int = 1024, quantize: bool = False,
                 background: tuple[int, int, int] | None = WHITE):
        """Wrap a loaded ``model``/``processor`` pair; prefer :meth:`load`."""
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.model_id = model_id
        self.dim = int(model.text_projection.shape[1])
        self.device = device
        self.background = background
        self.text_tower = TrimmedTextTower(model)
        self.query_tower = TrimmedTextTower.int8(model) if quantize else self.text_tower
        self.quantized = self.query_tower is not self.text_tower
        self._cache = QueryCache(cache_size)
        self._mean = torch.tensor(processor.mean, dtype=torch.float32).view(3, 1, 1)
        self._std = torch.tensor(processor.std, dtype=torch.float32).view(3, 1, 1)

    @classmethod
    def load(cls, model_dir: Path | str, *, device: str | None = None, threads: int | None = None,
             cache_size: int = 1024, quantize: bool = False,
             background: tuple[int, int, int] | None = WHITE) -> RuCLIPEncoder:
        """Load a ruCLIP folder (``config.json``, ``bpe.model``, ``pytorch_model.bin``).

        ``device``: None/"auto" picks CUDA (fp16) when available, else CPU; any
        torch device string ("cpu", "cuda", "cuda:1") is accepted. ``threads``
        sets torch's intra-op thread count (process-wide). ``quantize`` runs
        queries through an int8 dynamically quantised text tower (CPU only;
        ignored on CUDA, where fp16 is used). Catalogue texts always take the
        exact fp32 tower.
        Raises :class:`EncoderError` naming the three files when the folder is
        missing, incomplete or corrupt.
        """
        folder = Path(model_dir)
        check_model_dir(folder)
        if threads:
            torch.set_num_threads(int(threads))
        target = resolve_device(device)
        model, processor = _from_pretrained(folder)
        model = model.to(target)
        if target.type == "cuda":
            model = model.half()
        return cls(model, processor, model_id=model_identity(folder), device=target,
                   cache_size=cache_size, quantize=quantize and target.type == "cpu",
                   background=background)

    # --- text ---------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Token ids exactly as ruclip's processor makes them, without the padding."""
        proc = self.processor
        ids = proc.tokenizer.encode([text.lower()], output_type=yttm.OutputType.ID,
                                    dropout_prob=0.0)[0]
        return [proc.bos_id, *ids[: proc.text_seq_length - 2], proc.eos_id]

    def encode_query(self, query: str) -> np.ndarray:
        """One query as a unit-norm float32 (dim,) vector, through the LRU cache."""
        key = query.lower()  # ruclip lowercases first, so this key loses nothing
        vector = self._cache.get(key)
        if vector is None:
            vector = self.encode_tokens([self.tokenize(query)], tower=self.query_tower)[0]
            self._cache.put(key, vector)
        return vector.copy()

    def encode_texts(self, texts: Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Catalogue texts as an (n, dim) unit-norm matrix: exact tower, length-sorted batches."""
        tokens = [self.tokenize(t) for t in texts]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        out = np.zeros((len(tokens), self.dim), np.float32)
        for start in range(0, len(order), max(1, batch_size)):
            rows = order[start:start + batch_size]
            out[rows] = self.encode_tokens([tokens[i] for i in rows])
        return out

    @torch.inference_mode()
    def encode_tokens(self, batch: Sequence[Sequence[int]], *,
                      tower: TrimmedTextTower | None = None) -> np.ndarray:
        """Token lists (from :meth:`tokenize`) padded to the longest through ``tower``; unit rows.

        ``tower`` defaults to the exact fp32 one; pass ``self.query_tower`` for int8.
        """
        tower = self.text_tower if tower is None else tower
        width = max(len(t) for t in batch)
        ids = torch.full((len(batch), width), self.processor.pad_id, dtype=torch.long)
        for row, tokens in enumerate(batch):
            ids[row, :len(tokens)] = torch.tensor(tokens)
        eos = torch.tensor([len(t) - 1 for t in batch])
        features = tower(ids.to(self.device), eos.to(self.device))
        return l2_normalise(features.float().cpu().numpy())

    def cache_info(self) -> dict[str, int]:
        """Hits, misses and size of the query cache."""
        return self._cache.info()

    # --- images -------------------------------------------------------------
    def load_image(self, path: Path) -> Image.Image:
        """Open ``path`` as RGB, compositing transparency on ``background`` (if set)."""
        try:
            with Image.open(path) as image:
                image.load()
                return to_rgb(image, self.background)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise EncoderError(f"cannot read image {path}: {exc}") from exc

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The (3, S, S) float32 tensor ruclip's processor makes of an RGB-convertible ``image``."""
        size = self.processor.image_size
        rgb = image if image.mode == "RGB" else image.convert("RGB")
        pixels = rgb.crop(square_box(*rgb.size)).resize((size, size), Image.Resampling.BILINEAR)
        tensor = torch.from_numpy(np.array(pixels, dtype=np.uint8)).permute(2, 0, 1)
        return tensor.float().div(255).sub_(self._mean).div_(self._std)

    def encode_images(self, paths: Sequence[Path], *, batch_size: int = 32) -> np.ndarray:
        """Image files as an (n, dim) unit-norm matrix, ``batch_size`` at a time."""
        out = np.zeros((len(paths), self.dim), np.float32)
        for start in range(0, len(paths), max(1, batch_size)):
            chunk = paths[start:start + batch_size]
            pixels = torch.stack([self.preprocess(self.load_image(Path(p))) for p in chunk])
            out[start:start + len(chunk)] = self.encode_pixels(pixels)
        return out

    @torch.inference_mode()
    def encode_pixels(self, pixels: torch.Tensor) -> np.ndarray:
        """Preprocessed (n, 3, S, S) pixels through the image tower; unit-norm rows."""
        features = self.model.encode_image(pixels.to(self.device))
        return l2_normalise(features.float().cpu().numpy())


class TrimmedTextTower(nn.Module):
    """ruclip's text tower run on the real tokens only, with the model's own weights.

    The maths is ``CLIP.encode_text`` step for step (token + positional
    embedding, pre-LN causal blocks, ``ln_final``, the row at EOS times
    ``text_projection``); only the sequence length changes, with the causal
    mask and positional table sliced to it. The blocks hold plain
    ``nn.Linear`` views of the attention projections so that
    :meth:`int8` can turn every matrix of the tower into int8.
    """

    mask: torch.Tensor

    def __init__(self, model: CLIP):
        """Share ``model``'s parameters (no copy) in a trimmed-length forward."""
        super().__init__()
        self.token_embedding = model.token_embedding
        self.positional_embedding = model.positional_embedding
        self.blocks = nn.ModuleList(_Block(b) for b in model.transformer.resblocks)
        self.ln_final = model.ln_final
        self.text_projection = model.text_projection
        mask = model.build_attention_mask().to(model.positional_embedding.device)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, ids: torch.Tensor, eos: torch.Tensor) -> torch.Tensor:
        """(n, L) token ids and the EOS position of each row → (n, embed_dim) features."""
        dtype = self.text_projection.dtype
        length = ids.shape[1]
        x = self.token_embedding(ids).to(dtype) + self.positional_embedding[:length].to(dtype)
        mask = self.mask[:length, :length].to(dtype)
        for block in self.blocks:
            x = block(x, mask)
        x = self.ln_final(x).to(dtype)
        out: torch.Tensor = x[torch.arange(x.shape[0], device=x.device), eos] @ self.text_projection
        return out

    @classmethod
    def int8(cls, model: CLIP) -> TrimmedTextTower:
        """A tower over ``model`` with every Linear int8-quantised per channel (CPU only).

        The tower's Linear layers are its own module objects, so swapping them
        for quantised ones in place leaves ``model`` (and the exact path) intact.
        """
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        tower = cls(model)
        with warnings.catch_warnings():  # torch deprecates torch.ao quantisation for torchao
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            spec = {nn.Linear: per_channel_dynamic_qconfig}
            quantize_dynamic(tower, spec, dtype=torch.qint8, inplace=True)  # type: ignore[no-untyped-call]
        return tower


class _Block(nn.Module):
    """One ``ResidualAttentionBlock`` with explicit qkv/out/fc/proj Linear layers."""

    def __init__(self, block: Any):
        """Re-express ``block``'s MultiheadAttention and MLP over its own parameters."""
        super().__init__()
        attn: nn.MultiheadAttention = block.attn
        self.heads = attn.num_heads
        self.ln_1: nn.Module = block.ln_1
        self.ln_2: nn.Module = block.ln_2
        self.qkv = _linear(attn.in_proj_weight, attn.in_proj_bias)
        self.out = _linear(attn.out_proj.weight, attn.out_proj.bias)
        self.fc = _linear(block.mlp.c_fc.weight, block.mlp.c_fc.bias)
        self.proj = _linear(block.mlp.c_proj.weight, block.mlp.c_proj.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pre-LN attention then QuickGELU MLP, both residual, on (n, L, width)."""
        x = x + self.out(self._attend(self.qkv(self.ln_1(x)), mask))
        hidden = self.fc(self.ln_2(x))
        out: torch.Tensor = x + self.proj(hidden * torch.sigmoid(1.702 * hidden))
        return out

    def _attend(self, qkv: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Multi-head scaled dot-product attention under the additive causal ``mask``."""
        n, length, width = qkv.shape[0], qkv.shape[1], qkv.shape[2] // 3
        q, k, v = (qkv[..., i * width:(i + 1) * width].view(n, length, self.heads, -1)
                   .transpose(1, 2) for i in range(3))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out.transpose(1, 2).reshape(n, length, width)


def _linear(weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    """An ``nn.Linear`` whose parameters *are* ``weight`` and ``bias`` (shared, not copied)."""
    assert isinstance(weight, nn.Parameter) and (bias is None or isinstance(bias, nn.Parameter))
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None, device="meta")
    layer.weight = weight
    if bias is not None:
        layer.bias = bias
    return layer


class QueryCache:
    """A thread-safe LRU of query vectors (``size`` 0 disables it)."""

    def __init__(self, size: int = 1024):
        """An empty cache holding at most ``size`` vectors."""
        self.size = max(0, int(size))
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        """The cached vector for ``key`` (now most recent), or None."""
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, key: str, vector: np.ndarray) -> None:
        """Remember ``vector``, evicting the least recently used beyond ``size``."""
        if not self.size:
            return
        with self._lock:
            self._items[key] = vector
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def info(self) -> dict[str, int]:
        """Hits, misses, current and maximum size."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses,
                    "size": len(self._items), "maxsize": self.size}


# --- images: helpers shared by the encoder and the tests ---------------------
def square_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The crop box of ruclip's ``RandomResizedCrop(size, scale=(1, 1), ratio=(1, 1))``.

    Its random draw of a square of the image's full area never fits a
    non-square image, so torchvision falls back to the centre square of side
    ``min(width, height)``, which we take directly. (For images within about
    one pixel of square, torchvision may instead draw a ``round(sqrt(w*h))``
    square at a random offset: a one-pixel shift we deliberately do not copy.)
    """
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def to_rgb(image: Image.Image, background: tuple[int, int, int] | None = WHITE) -> Image.Image:
    """``image`` as RGB; with a ``background``, transparent pixels are composited onto it."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if background is None or not has_alpha:
        return image if image.mode == "RGB" else image.convert("RGB")
    canvas = Image.new("RGBA", image.size, (*background, 255))
    canvas.alpha_composite(image.convert("RGBA"))
    return canvas.convert("RGB")


# --- loading -------------------------------------------------------------------
def _problem(folder: Path, what: str) -> EncoderError:
    """An EncoderError saying what is wrong and what a ruCLIP folder must hold."""
    return EncoderError(
        f"{folder} is not a usable ruCLIP model folder: {what}. It must hold "
        f"{', '.join(MODEL_FILES)} (the published ruclip-vit-base-patch32-384 files, "
        "or generate random ones with `flask --app webapp make-ruclip-model`).")


def check_model_dir(folder: Path) -> dict[str, Any]:
    """Validate the folder's files and config before torch touches them; return the config."""
    if not folder.is_dir():
        raise _problem(folder, "no such folder")
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        raise _problem(folder, f"missing {', '.join(missing)}")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _problem(folder, f"config.json is not valid JSON ({exc})") from None
    absent = [k for k in _CONFIG_KEYS if not isinstance(config, dict) or k not in config]
    if absent:
        raise _problem(folder, f"config.json lacks {', '.join(absent)}")
    check_bpe(folder, int(config["vocab_size"]))
    return dict(config)


def check_bpe(folder: Path, vocab_size: int) -> None:
    """Check ``bpe.model`` is a youtokentome model ruclip can use.

    youtokentome accepts any file without complaint (an empty one yields a
    random vocabulary), so its text format is checked here: a header
    ``<chars> <merges>``, that many id lines, and the special ids line
    ``unk pad bos eos`` = ``1 0 2 3``, which ruclip hard-codes.
    """
    try:
        lines = (folder / "bpe.model").read_text(encoding="utf-8").split("\n")
        chars, merges = (int(v) for v in lines[0].split())
        body = [[int(v) for v in line.split()] for line in lines[1:1 + chars + merges]]
        specials = [int(v) for v in lines[1 + chars + merges].split()]
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        raise _problem(folder, "bpe.model is not a youtokentome BPE model") from None
    top = max((row[-1] for row in body), default=0)
    if specials != [1, 0, 2, 3] or any(len(r) not in (2, 3) for r in body) or top >= vocab_size:
        raise _problem(folder, "bpe.model does not match ruclip's special ids or vocab_size")


def _from_pretrained(folder: Path) -> tuple[CLIP, RuCLIPProcessor]:
    """ruclip's own loaders, with their failures turned into EncoderError."""
    try:
        with warnings.catch_warnings():  # ruclip's json.load(open(...)) leaks a file handle
            warnings.simplefilter("ignore", ResourceWarning)
            return CLIP.from_pretrained(str(folder)), RuCLIPProcessor.from_pretrained(str(folder))
    except Exception as exc:  # torch/pickle/shape errors all mean the same: corrupt files
        raise _problem(folder, f"loading failed ({exc.__class__.__name__}: "
                               f"{str(exc).splitlines()[0][:300] if str(exc) else ''})") from exc


def resolve_device(device: str | None) -> torch.device:
    """None/""/"auto" → CUDA when available else CPU; otherwise the named torch device."""
    if not device or str(device).lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        target = torch.device(str(device))
    except (RuntimeError, ValueError) as exc:
        raise EncoderError(f"DEVICE={device!r} is not a torch device ({exc})") from None
    if target.type == "cuda" and not torch.cuda.is_available():
        raise EncoderError(f"DEVICE={device!r} but CUDA is not available; use 'cpu' or 'auto'")
    return target


def model_identity(folder: Path) -> str:
    """``ruclip/<name>@<hash>``: the hash covers config.json, bpe.model and a weights fingerprint.

    The weights are fingerprinted by size plus the SHA-256 of their first and
    last MiB, so start-up does not hash ~600 MB; any retrained or regenerated
    checkpoint changes at least its tensors' bytes at both ends.
    """
    digest = hashlib.sha256()
    for name in ("config.json", "bpe.model"):
        digest.update(hashlib.sha256((folder / name).read_bytes()).digest())
    weights = folder / "pytorch_model.bin"
    size = weights.stat().st_size
    with weights.open("rb") as handle:
        head = handle.read(_MIB)
        handle.seek(max(0, size - _MIB))
        tail = handle.read(_MIB)
    for part in (str(size).encode(), head, tail):
        digest.update(hashlib.sha256(part).digest())
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    name = str(config.get("model_name") or folder.resolve().name)
    return f"ruclip/{name}@{digest.hexdigest()[:12]}"
