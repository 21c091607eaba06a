"""ruCLIP's text side: tokenisation and the trimmed (and int8) text tower.

ruclip pads every text to 77 tokens, but its text tower is causal and reads the output at
the EOS token, so nothing after EOS can change the result. :class:`TrimmedTextTower` runs
the same weights on the real tokens only (batches pad to their longest member), which is
several times cheaper; ``tests/test_ruclip.py`` proves it equal to ``CLIP.encode_text``.
Query vectors are cached once, by the search core (``webapp.search.cache``), not here.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import youtokentome as yttm
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:  # ruclip is imported by ruclip_encoder (webapp.encoders keeps the hub offline)
    from ruclip.model import CLIP
    from ruclip.processor import RuCLIPProcessor


def tokenize(processor: RuCLIPProcessor, text: str) -> list[int]:
    """Token ids exactly as ruclip's processor makes them, without the padding."""
    ids = processor.tokenizer.encode(
        [text.lower()], output_type=yttm.OutputType.ID, dropout_prob=0.0
    )[0]
    return [processor.bos_id, *ids[: processor.text_seq_length - 2], processor.eos_id]


def pad_tokens(batch: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists padded with ``pad_id`` to the longest: (n, L) ids and each row's EOS index."""
    width = max(len(t) for t in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    for row, tokens in enumerate(batch):
        ids[row, : len(tokens)] = torch.tensor(tokens)
    eos = torch.tensor([len(t) - 1 for t in batch])
    return ids, eos


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
            quantize_dynamic(tower, spec, dtype=torch.qint8, inplace=True)
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
        q, k, v = (
            qkv[..., i * width : (i + 1) * width].view(n, length, self.heads, -1).transpose(1, 2)
            for i in range(3)
        )
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
