"""Vector spaces: which encoder fills which embedding cache.

A space pairs a cache name with the encoder that embeds queries into it and
the recipe that embeds catalogue items. The offline text space (one per name
in ``TEXT_ENCODER``, e.g. ``text-use``) always exists; the offline image space
``image-efficientnet-lite0`` (``IMAGE_ENCODER``) has no text side, so text queries
skip it; trained projection heads add the cross-modal space ``xmodal``
(:mod:`.projected`), where words reach pictures; ruCLIP adds its image, text and
combined spaces when ``RUCLIP_MODEL_DIR`` is set. Nothing else in the core needs to
know which model is behind a space.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import EncoderError
from .sentence import load_sentence_encoder
from .space import Space

#: the space recommendations use when SIMILAR_SPACE is empty: the first of these kinds
#: that is configured. A combined vector sees picture and words; on the demo the text
#: space keeps a shopper's theme far better than the ImageNet image space (a design's
#: 6 nearest share its subcategory 77 % vs 39 % of the time, docs/images.md).
SIMILAR_PREFERENCE = ("combined", "text", "image")


def default_similar_space(spaces: Sequence[Space]) -> str:
    """The richest searchable space: combined, else the first text space, else image."""
    for kind in SIMILAR_PREFERENCE:
        for space in spaces:
            if space.kind == kind and space.searchable:
                return space.name
    raise ValueError("no searchable space is configured")


def default_text_space(spaces: Sequence[Space]) -> str:
    """The first searchable text space ("" if none): the baseline, «похожие по описанию»."""
    texts = [s.name for s in spaces if s.kind == "text" and s.searchable and s.encoder]
    return texts[0] if texts else ""


def default_picture_space(spaces: Sequence[Space]) -> str:
    """The last configured image space that can encode a shopper's picture ("" if none):
    ruCLIP's, when its weights are configured, else the offline backbone's."""
    images = [s.name for s in spaces if s.kind == "image" and s.image_encoder is not None]
    return images[-1] if images else ""


def configured_spaces(config: Mapping[str, Any]) -> list[Space]:
    """Build the spaces the configuration asks for, loading their encoders."""
    threads = config.get("TORCH_THREADS") or None
    names = [n.strip() for n in str(config["TEXT_ENCODER"]).split(",") if n.strip()]
    spaces = [
        Space(f"text-{name}", "text", load_sentence_encoder(name, threads=threads))
        for name in names
    ]
    spaces[:0] = image_spaces(config)
    model_dir = config.get("RUCLIP_MODEL_DIR")
    if model_dir:
        spaces += ruclip_spaces(Path(model_dir), config)
    if config.get("XMODAL_HEADS"):
        from .projected import projected_spaces  # torch is imported only when heads are used

        spaces += projected_spaces(
            config,
            [s.encoder for s in spaces if s.kind == "text" and s.encoder is not None],
            threads=threads,
        )
    return spaces


def image_spaces(config: Mapping[str, Any]) -> list[Space]:
    """The offline image tower's space (``IMAGE_ENCODER``; empty turns it off)."""
    name = str(config.get("IMAGE_ENCODER") or "").strip()
    if not name:
        return []
    from .efficientnet_lite import NAME, EfficientNetLiteEncoder, onnx_path

    if name != NAME:
        raise EncoderError(f"IMAGE_ENCODER={name!r} is unknown; use {NAME!r} or leave it empty")
    tower = EfficientNetLiteEncoder(
        onnx_path=onnx_path(config), threads=config.get("TORCH_THREADS") or None
    )
    return [Space(f"image-{name}", "image", None, image_encoder=tower)]


def ruclip_spaces(model_dir: Path, config: Mapping[str, Any]) -> list[Space]:
    """The three ruCLIP spaces: image tower, text tower and their mean (searched: image, mean)."""
    from .ruclip_encoder import RuCLIPEncoder

    clip = RuCLIPEncoder.load(
        model_dir,
        device=config.get("DEVICE") or None,
        threads=config.get("TORCH_THREADS") or None,
        quantize=bool(config.get("RUCLIP_QUANTIZE")),
        runtime=str(config.get("RUCLIP_RUNTIME") or "auto"),
        onnx_dir=config.get("RUCLIP_ONNX_DIR") or None,
    )
    return [
        Space("ruclip-image", "image", clip, image_encoder=clip),
        # ruCLIP's text tower on descriptions feeds the combined vector; searching it as
        # well would cost one more kNN per query for a signal the text space already has.
        Space("ruclip-text", "text", clip, searchable=False),
        Space("ruclip-combined", "combined", clip, parts=("ruclip-image", "ruclip-text")),
    ]
