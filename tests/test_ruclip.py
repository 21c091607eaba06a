"""ruCLIP, for real: generated tiny models through ruclip's own loaders and maths.

Every comparison is against ruclip itself (``RuCLIPProcessor`` and
``CLIP.encode_text``/``encode_image``) on a ``tiny`` model this module
generates, so the day real weights arrive the same code path runs unchanged.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from ruclip import CLIP, RuCLIPProcessor

from tests.helpers import write_catalog
from tests.ruclip_fixtures import draw_motif, make_catalog, make_model
from webapp.catalog.embed import embed_catalog
from webapp.catalog.embedding_cache import REBUILD_HINT, CacheError, cache_path, load_cache
from webapp.catalog.products import read_catalog
from webapp.commands.models import make_ruclip_model
from webapp.encoders.base import EncoderError, ImageEncoder, TextEncoder
from webapp.encoders.ruclip_encoder import RuCLIPEncoder
from webapp.encoders.ruclip_folder import MODEL_FILES
from webapp.encoders.ruclip_image import to_rgb
from webapp.encoders.spaces import ruclip_spaces
from webapp.search.cache import QueryVectorCache, prefetch

QUERIES = [
    "милый котёнок в шляпе акварелью",
    "новогодний узор",
    "пасхальный кролик",
    "что-нибудь военное для мальчика",
    "Ёлка",
    "",
    # far beyond 75 BPE tokens: ruclip truncates it, and so must we
    "большой красивый цветочный орнамент с розами и ромашками для кухонного полотенца " * 12,
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly generated tiny ruCLIP folder (seed 0)."""
    return make_model(tmp_path_factory.mktemp("ruclip") / "tiny")


@pytest.fixture(scope="module")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny folder, same recipe, seed 1."""
    return make_model(tmp_path_factory.mktemp("ruclip") / "tiny-seed1", seed=1)


@pytest.fixture(scope="module")
def encoder(model_dir: Path) -> RuCLIPEncoder:
    """The encoder loaded from the tiny folder on the CPU."""
    return RuCLIPEncoder.load(model_dir, device="cpu")


def naive_query(encoder: RuCLIPEncoder, text: str) -> np.ndarray:
    """The source documents' path: processor ids padded to 77, ``CLIP.encode_text``."""
    with torch.inference_mode():
        ids = encoder.processor(text=[text])["input_ids"]
        assert ids.shape == (1, 77)
        vector = encoder.model.encode_text(ids)[0].float().numpy()
    return vector / np.linalg.norm(vector)


def test_generated_folder_says_it_is_random_and_loads_through_ruclip(model_dir: Path) -> None:
    """The folder holds the three files, declares random weights and loads with from_pretrained."""
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(MODEL_FILES)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert config["random_weights"] is True and "random" in config["generated_by"]
    with warnings.catch_warnings():  # ruclip's loaders leave their config.json handle open
        warnings.simplefilter("ignore", ResourceWarning)
        assert isinstance(CLIP.from_pretrained(str(model_dir)), CLIP)
        processor = RuCLIPProcessor.from_pretrained(str(model_dir))
    assert processor.image_size == config["image_resolution"]
    assert (model_dir / "pytorch_model.bin").stat().st_size < 5 * 2**20


def test_encoder_gives_512d_unit_vectors_for_text_and_images(
    encoder: RuCLIPEncoder, tmp_path: Path
) -> None:
    """Queries, catalogue texts and images all land in the shared 512-d space, unit-norm."""
    assert isinstance(encoder, TextEncoder) and isinstance(encoder, ImageEncoder)
    assert isinstance(encoder.model, CLIP) and encoder.dim == 512
    query = encoder.encode_query("петух на заборе")
    texts = encoder.encode_texts(["петух", "кролик", "якорь"], batch_size=2)
    paths = [draw_motif(tmp_path / f"{i}.png", (40 * i, 90, 200)) for i in range(3)]
    images = encoder.encode_images(paths, batch_size=2)
    assert query.shape == (512,) and texts.shape == images.shape == (3, 512)
    for matrix in (query[None], texts, images):
        assert matrix.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("text", QUERIES, ids=lambda q: f"{len(q)}chars")
def test_trimmed_query_equals_the_77_token_path(encoder: RuCLIPEncoder, text: str) -> None:
    """Only the real tokens are encoded, yet the vector is ruclip's padded one."""
    tokens = encoder.tokenize(text)
    padded = encoder.processor(text=[text])["input_ids"][0].tolist()
    assert padded[: len(tokens)] == tokens and set(padded[len(tokens) :]) <= {0}
    assert np.abs(encoder.encode_query(text) - naive_query(encoder, text)).max() <= 1e-4


def test_over_long_query_is_truncated_like_ruclip(encoder: RuCLIPEncoder) -> None:
    """A query longer than the context keeps ruclip's 75 tokens between BOS and EOS."""
    tokens = encoder.tokenize(QUERIES[-1])
    assert len(tokens) == 77 and tokens[0] == 2 and tokens[-1] == 3


def test_batched_texts_equal_one_by_one_queries(encoder: RuCLIPEncoder) -> None:
    """Padding a batch to its longest member changes no row."""
    batched = encoder.encode_texts(QUERIES, batch_size=3)
    single = np.stack([naive_query(encoder, q) for q in QUERIES])
    assert np.abs(batched - single).max() <= 1e-4


def test_query_vectors_come_from_the_core_lru_cache(encoder: RuCLIPEncoder) -> None:
    """The search core caches ruCLIP query vectors (once: the encoder keeps none itself);
    repeats are hits, old entries are evicted, and cached vectors cannot be altered."""
    cache = QueryVectorCache(size=2)
    first = cache.encode(encoder, "пасхальный кролик")
    with pytest.raises(ValueError):
        first[:] = 0  # shared between requests: read-only
    assert np.allclose(
        cache.encode(encoder, "пасхальный кролик"),
        naive_query(encoder, "пасхальный кролик"),
        atol=1e-4,
    )
    cache.encode(encoder, "ёлка")
    cache.encode(encoder, "якорь")  # evicts «пасхальный кролик»
    cache.encode(encoder, "пасхальный кролик")
    assert cache.info() == {"hits": 1, "misses": 4, "size": 2, "maxsize": 2}
    assert not hasattr(encoder, "cache_info")


def test_models_encode_a_query_side_by_side_into_the_cache(
    model_dir: Path, encoder: RuCLIPEncoder
) -> None:
    """``prefetch`` encodes with every distinct model at once (the others on a pool thread),
    leaving exactly the vectors each gives alone; a model already cached is not asked
    again."""
    other = RuCLIPEncoder.load(make_model(model_dir.parent / "seed2", seed=2), device="cpu")
    cache = QueryVectorCache()
    prefetch(cache, [encoder, other, encoder], "пасхальный кролик")
    assert cache.info()["misses"] == 2 and cache.info()["size"] == 2
    for model in (encoder, other):
        cached = cache.encode(model, "пасхальный кролик")
        assert np.array_equal(cached, model.encode_query("пасхальный кролик"))
    prefetch(cache, [encoder, other], "пасхальный кролик")  # both cached: nothing to do
    assert cache.info()["misses"] == 2


def test_int8_query_tower_stays_close_to_the_exact_one(
    model_dir: Path, encoder: RuCLIPEncoder
) -> None:
    """Dynamic int8 quantisation of the text tower is an approximation, but a close one."""
    quantized = RuCLIPEncoder.load(model_dir, device="cpu", quantize=True)
    assert quantized.quantized
    for text in QUERIES[:4]:
        assert float(quantized.encode_query(text) @ encoder.encode_query(text)) > 0.99
    # the model's own layers stay float: catalogue texts and the naive path remain exact
    assert type(quantized.model.transformer.resblocks[0].mlp.c_fc) is torch.nn.Linear
    exact = quantized.encode_texts(QUERIES[:1])[0]
    assert np.abs(exact - naive_query(quantized, QUERIES[0])).max() <= 1e-4


def sample_images(tmp_path: Path) -> list[Image.Image]:
    """Square, landscape, portrait, transparent, grey and palette images."""
    specs = [
        ((256, 256), "RGB"),
        ((300, 200), "RGB"),
        ((120, 333), "RGB"),
        ((256, 256), "RGBA"),
        ((97, 410), "RGBA"),
    ]
    images = []
    for n, (size, mode) in enumerate(specs):
        path = draw_motif(tmp_path / f"img{n}.png", (200, 40 * n, 90), size=size, mode=mode)
        images.append(Image.open(path))
    images.append(images[1].convert("L"))
    images.append(images[3].convert("P"))
    return images


def test_image_preprocessing_equals_ruclips_processor(
    encoder: RuCLIPEncoder, tmp_path: Path
) -> None:
    """Same tensors as RuCLIPProcessor, for the composited images and for raw RGBA."""
    raw = RuCLIPEncoder(
        encoder.model, encoder.processor, model_id="raw", device=encoder.device, background=None
    )
    for image in sample_images(tmp_path):
        composited = to_rgb(image)  # what encode_images hands to both paths
        ours = encoder.preprocess(composited)
        theirs = encoder.processor(images=[composited])["pixel_values"][0]
        assert ours.shape == (3, 224, 224) and torch.allclose(ours, theirs, atol=1e-6)
        as_is = raw.preprocess(to_rgb(image, None))  # ruclip's own .convert('RGB')
        theirs = encoder.processor(images=[image])["pixel_values"][0]
        assert torch.allclose(as_is, theirs, atol=1e-6)


def test_transparent_pixels_become_white_before_encoding(
    encoder: RuCLIPEncoder, tmp_path: Path
) -> None:
    """A transparent emoji background reads as white, not as the hidden black."""
    path = draw_motif(tmp_path / "motif.png", (200, 30, 30))
    image = encoder.load_image(path)
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (255, 255, 255)
    with torch.inference_mode():
        pixels = encoder.processor(images=[image])["pixel_values"]
        ref = encoder.model.encode_image(pixels)[0].numpy()
    assert np.abs(encoder.encode_images([path])[0] - ref / np.linalg.norm(ref)).max() <= 1e-5


def broken_folders(model_dir: Path, root: Path) -> dict[str, Path]:
    """Copies of a good folder, each broken in one way."""
    folders = {}
    for case in ("missing-weights", "garbage-weights", "garbage-bpe", "bad-config", "empty"):
        folder = root / case
        shutil.copytree(model_dir, folder)
        folders[case] = folder
    (folders["missing-weights"] / "pytorch_model.bin").unlink()
    (folders["garbage-weights"] / "pytorch_model.bin").write_bytes(b"\x00not a checkpoint" * 100)
    (folders["garbage-bpe"] / "bpe.model").write_bytes(b"")
    (folders["bad-config"] / "config.json").write_text("{ not json", encoding="utf-8")
    for name in MODEL_FILES:
        (folders["empty"] / name).unlink()
    folders["nowhere"] = root / "no-such-folder"
    return folders


def test_bad_model_folders_get_a_clear_error(model_dir: Path, tmp_path: Path) -> None:
    """Missing or corrupt folders raise EncoderError naming the three expected files."""
    for case, folder in broken_folders(model_dir, tmp_path).items():
        with pytest.raises(EncoderError) as info:
            RuCLIPEncoder.load(folder, device="cpu")
        message = str(info.value)
        assert all(name in message for name in MODEL_FILES), (case, message)
        assert str(folder) in message


def test_model_identity_is_stable_and_differs_between_models(
    model_dir: Path, other_model_dir: Path, encoder: RuCLIPEncoder, tmp_path: Path
) -> None:
    """Two seeds, two ids; the same files give the same id wherever they live."""
    other = RuCLIPEncoder.load(other_model_dir, device="cpu")
    assert encoder.model_id.startswith("ruclip/") and other.model_id != encoder.model_id
    moved = shutil.copytree(model_dir, tmp_path / "moved")
    assert RuCLIPEncoder.load(moved, device="cpu").model_id == encoder.model_id


def test_weights_are_seeded_and_deterministic(model_dir: Path, tmp_path: Path) -> None:
    """The same preset and seed rebuild byte-identical weights and config.

    (youtokentome's BPE trainer breaks frequency ties differently run to run,
    so bpe.model — and hence model_id — may differ between regenerations.)
    """
    again = make_model(tmp_path / "again", seed=0)
    for name in ("pytorch_model.bin", "config.json"):
        assert (again / name).read_bytes() == (model_dir / name).read_bytes()


def test_make_ruclip_model_command_writes_a_random_folder(tmp_path: Path) -> None:
    """The click command (registered as ``flask make-ruclip-model``) writes the three files."""
    out = tmp_path / "cli-model"
    result = CliRunner().invoke(
        make_ruclip_model, ["--preset", "tiny", "--out", str(out), "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    assert "random weights" in result.output and f"RUCLIP_MODEL_DIR={out}" in result.output
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["seed"] == 7 and config["random_weights"] is True
    assert RuCLIPEncoder.load(out, device="cpu").encode_query("тест").shape == (512,)


def test_unknown_or_absent_device_is_refused(model_dir: Path) -> None:
    """DEVICE must name a torch device that exists here."""
    with pytest.raises(EncoderError, match="DEVICE"):
        RuCLIPEncoder.load(model_dir, device="toaster")
    if not torch.cuda.is_available():
        with pytest.raises(EncoderError, match="CUDA"):
            RuCLIPEncoder.load(model_dir, device="cuda")


def embed(model_dir: Path, data_dir: Path, cache_dir: Path) -> dict[str, int]:
    """Run the real embedding pipeline on the ruCLIP spaces; items encoded per space."""
    spaces = ruclip_spaces(model_dir, {})
    stats = embed_catalog(
        spaces,
        read_catalog(data_dir / "catalog.csv"),
        data_dir,
        cache_dir,
        batch_size=2,
        progress=False,
    )
    return {s.space: s.encoded for s in stats}


def test_incremental_reembed_touches_only_changed_items(model_dir: Path, tmp_path: Path) -> None:
    """A changed description re-encodes one text; a changed picture one image; nothing else."""
    data, caches = tmp_path / "data", tmp_path / "embeddings"
    rows = make_catalog(data)
    assert embed(model_dir, data, caches) == {
        "ruclip-image": 5,
        "ruclip-text": 5,
        "ruclip-combined": 0,
    }
    assert embed(model_dir, data, caches)["ruclip-image"] == 0
    rows[1]["description"] = "Котёнок в шляпе, теперь в очках."
    write_catalog(data, rows)
    assert embed(model_dir, data, caches) == {
        "ruclip-image": 0,
        "ruclip-text": 1,
        "ruclip-combined": 0,
    }
    draw_motif(data / rows[3]["image"], (10, 200, 10))
    assert embed(model_dir, data, caches) == {
        "ruclip-image": 1,
        "ruclip-text": 0,
        "ruclip-combined": 0,
    }
    catalog = read_catalog(data / "catalog.csv")
    model_id = RuCLIPEncoder.load(model_dir, device="cpu").model_id
    image, text, combined = (
        load_cache(
            cache_path(caches, f"ruclip-{kind}"),
            model=model_id,
            catalog_fingerprint=catalog.fingerprint,
        )
        for kind in ("image", "text", "combined")
    )
    mean = image.vectors + text.vectors
    np.testing.assert_allclose(
        combined.vectors, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-6
    )


def test_reembedded_vectors_equal_fresh_ones(
    model_dir: Path, encoder: RuCLIPEncoder, tmp_path: Path
) -> None:
    """Reused and re-encoded rows are exactly what encoding from scratch gives."""
    data, caches = tmp_path / "data", tmp_path / "embeddings"
    rows = make_catalog(data)
    embed(model_dir, data, caches)
    rows[0]["title"] = "Петух на заборе"
    write_catalog(data, rows)
    embed(model_dir, data, caches)
    catalog = read_catalog(data / "catalog.csv")
    text = load_cache(
        cache_path(caches, "ruclip-text"),
        model=encoder.model_id,
        catalog_fingerprint=catalog.fingerprint,
    )
    fresh = encoder.encode_texts([p.search_text for p in catalog.products])
    assert np.abs(text.vectors - fresh).max() <= 1e-5


def test_a_cache_from_another_model_is_refused_and_rebuilt(
    model_dir: Path, other_model_dir: Path, tmp_path: Path
) -> None:
    """Model B will not read model A's cache, and re-embeds everything instead of mixing."""
    data, caches = tmp_path / "data", tmp_path / "embeddings"
    make_catalog(data)
    embed(model_dir, data, caches)
    other_id = RuCLIPEncoder.load(other_model_dir, device="cpu").model_id
    fingerprint = read_catalog(data / "catalog.csv").fingerprint
    with pytest.raises(CacheError, match="was built by model") as info:
        load_cache(
            cache_path(caches, "ruclip-image"), model=other_id, catalog_fingerprint=fingerprint
        )
    assert REBUILD_HINT in str(info.value)
    assert embed(other_model_dir, data, caches) == {
        "ruclip-image": 5,
        "ruclip-text": 5,
        "ruclip-combined": 0,
    }
