"""What a vector space is: a cache of item vectors, the encoder that fills it and the one
that embeds queries into it (``spaces.py`` says which spaces the configuration builds)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import ImageEncoder, TextEncoder


@dataclass(frozen=True)
class Space:
    """One embedding space: a cache file, its item recipe and its query encoder."""

    name: str
    kind: str  # "text" | "image" | "combined" | "projected"
    #: encodes text queries into this space; None for a space that takes no text query
    encoder: TextEncoder | None
    image_encoder: ImageEncoder | None = None
    #: for ``combined``: the names of the image and text spaces it averages;
    #: for ``projected``: the image space whose cached features its heads project.
    parts: tuple[str, ...] = ()
    #: False for spaces that are embedded only as an ingredient of another one
    searchable: bool = True

    @property
    def model_id(self) -> str:
        """Identity written into (and checked against) this space's cache."""
        return self._model.model_id

    @property
    def dim(self) -> int:
        """Dimension of this space's vectors."""
        return self._model.dim

    @property
    def _model(self) -> TextEncoder | ImageEncoder:
        """The encoder that defines the space: the text one, else the image one."""
        model = self.encoder or self.image_encoder
        assert model is not None, f"space {self.name} has no encoder"
        return model
