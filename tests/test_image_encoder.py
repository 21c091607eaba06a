"""The offline image tower: shared preprocessing, EfficientNet-Lite0 in torch and ONNX
Runtime, its space in the demo, and what it sees (real weights, no stubs)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnx
import pytest
from flask import Flask
from PIL import Image

from webapp.catalog.embed import embed_catalog
from webapp.catalog.embedding_cache import (
    CacheError,
    EmbeddingCache,
    load_cache,
    read_cache,
    save_cache,
)
from webapp.catalog.products import read_catalog
from webapp.encoders import transforms
from webapp.encoders.base import EncoderError, ImageEncoder
from webapp.encoders.efficientnet_lite import EfficientNetLiteEncoder
from webapp.encoders.space import Space
from webapp.encoders.spaces import configured_spaces
from webapp.evaluation import baseline
from webapp.search.engine import SearchRequest

from .conftest import ROOT

DATA = ROOT / "data"
SPACE = "image-efficientnet-lite0"
ROOSTER = "1f413"


@pytest.fixture(scope="module")
def torch_tower() -> EfficientNetLiteEncoder:
    """The tower forced onto torch."""
    return EfficientNetLiteEncoder(runtime="torch")


@pytest.fixture(scope="module")
def onnx_file(demo_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh export by ``flask export-image-model --out`` (about 5 s)."""
    out = tmp_path_factory.mktemp("onnx") / "efficientnet-lite0.onnx"
    result = demo_app.test_cli_runner().invoke(args=["export-image-model", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def ort_tower(onnx_file: Path) -> EfficientNetLiteEncoder:
    """The tower on ONNX Runtime (refuses to fall back to torch)."""
    return EfficientNetLiteEncoder(onnx_path=onnx_file, runtime="onnxruntime")


@pytest.fixture(scope="module")
def demo_vectors() -> EmbeddingCache:
    """The committed image cache of the demo catalogue."""
    return read_cache(ROOT / "embeddings" / f"{SPACE}.pkl")


def rooster_rgba() -> Image.Image:
    """The demo rooster with its transparency."""
    return transforms.decode(DATA / "images" / f"{ROOSTER}.png").convert("RGBA")


def on_background(
    image: Image.Image, colour: tuple[int, int, int], size: tuple[int, int] | None = None
) -> Image.Image:
    """``image`` centred on a ``size`` canvas of ``colour``, as RGB."""
    canvas = Image.new("RGBA", size or image.size, (*colour, 255))
    canvas.alpha_composite(
        image, ((canvas.width - image.width) // 2, (canvas.height - image.height) // 2)
    )
    return canvas.convert("RGB")


def jpeg(image: Image.Image, quality: int = 40) -> Image.Image:
    """``image`` after a round trip through JPEG at ``quality``."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return transforms.decode(buffer.getvalue())


def top_ids(cache: EmbeddingCache, vector: np.ndarray, k: int) -> list[str]:
    """The ``k`` ids of ``cache`` nearest to ``vector``."""
    return [cache.ids[i] for i in np.argsort(-(cache.vectors @ vector))[:k]]


# --- shared preprocessing -----------------------------------------------------------
def test_transparent_pixels_become_white_in_every_alpha_mode() -> None:
    """RGBA, LA and a palette with a transparent index all composite onto white."""
    rgba = Image.new("RGBA", (8, 8), (200, 0, 0, 0))
    la = Image.new("LA", (8, 8), (30, 0))
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.info["transparency"] = 0
    for image in (rgba, la, palette):
        rgb = transforms.to_rgb(image)
        assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (255, 255, 255), image.mode
    assert transforms.to_rgb(rgba, None).getpixel((0, 0)) == (200, 0, 0)  # plain convert


def test_cmyk_sixteen_bit_and_one_bit_become_rgb() -> None:
    """Print-shop CMYK, 16-bit grey and 1-bit pictures all arrive as 8-bit RGB."""
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))  # pure red ink
    assert transforms.to_rgb(cmyk).getpixel((0, 0)) == (255, 0, 0)
    grey16 = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert transforms.to_rgb(grey16).getpixel((0, 0)) == (255, 255, 255)
    mid16 = Image.fromarray(np.full((4, 4), 32768, np.uint16))
    assert transforms.to_rgb(mid16).getpixel((0, 0))[0] in (127, 128)
    assert transforms.to_rgb(Image.new("1", (4, 4), 1)).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_turns_a_photo_upright() -> None:
    """A JPEG stored sideways with orientation 6 decodes upright (width and height swap)."""
    sideways = Image.new("RGB", (60, 20), (0, 90, 200))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    sideways.save(buffer, "JPEG", exif=exif.tobytes())
    assert transforms.decode(buffer.getvalue()).size == (20, 60)


def test_unreadable_bytes_are_a_clear_error() -> None:
    """Garbage is an EncoderError naming what could not be read, never an OSError."""
    with pytest.raises(EncoderError, match="cannot read image 9 bytes"):
        transforms.decode(b"not a png")


def test_any_aspect_ratio_is_padded_on_white_never_cropped() -> None:
    """A wide strip keeps all of its pixels: it is centred on a white square."""
    strip = Image.new("RGB", (300, 60), (10, 120, 10))
    square = transforms.pad_to_square(strip)
    assert square.size == (300, 300)
    assert square.getpixel((0, 0)) == (255, 255, 255)
    assert square.getpixel((0, 150)) == square.getpixel((299, 150)) == (10, 120, 10)


def test_crop_to_content_trims_a_flat_background_and_keeps_a_busy_one() -> None:
    """A motif on a flat blue field is cut out with a small margin; noise is left whole."""
    picture = Image.new("RGB", (400, 300), (120, 170, 230))
    picture.paste((200, 20, 20), (150, 100, 250, 180))
    cropped = transforms.crop_to_content(picture)
    assert 100 <= cropped.width <= 112 and 80 <= cropped.height <= 92
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    assert transforms.crop_to_content(noise) is noise
    blank = Image.new("RGB", (50, 50), (255, 255, 255))
    assert transforms.crop_to_content(blank) is blank


def test_the_batch_follows_the_models_preprocess_config() -> None:
    """White is (255 − 127) / 128 at the configured size, channels first."""
    batch = transforms.to_batch(
        [Image.new("RGBA", (30, 90), (0, 0, 0, 0))], EfficientNetLiteEncoder.preprocess
    )
    assert batch.shape == (1, 3, 224, 224) and batch.dtype == np.float32
    assert np.allclose(batch, 128 / 128)


# --- the tower --------------------------------------------------------------------
def test_encode_pil_gives_unit_1280_vectors_for_any_mode_and_shape(
    torch_tower: EfficientNetLiteEncoder,
) -> None:
    """Every kind of picture a shopper might upload becomes one unit-norm 1280-d row."""
    rooster = rooster_rgba()
    images = [
        rooster,
        rooster.convert("P"),
        rooster.convert("LA"),
        rooster.convert("CMYK"),
        rooster.resize((300, 40)),
        Image.new("1", (17, 230), 0),
    ]
    vectors = torch_tower.encode_pil(images)
    assert isinstance(torch_tower, ImageEncoder)
    assert vectors.shape == (6, 1280) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert torch_tower.encode_pil([]).shape == (0, 1280)


def test_onnx_runtime_equals_torch(
    torch_tower: EfficientNetLiteEncoder, ort_tower: EfficientNetLiteEncoder
) -> None:
    """The exported graph gives torch's vectors, at batch 1 and in a batch of 5."""
    paths = sorted((DATA / "images").glob("1f4*.png"))[:5]
    assert ort_tower.session.runtime == "onnxruntime"
    assert torch_tower.session.runtime == "torch"
    assert type(torch_tower.session.module.backbone._swish).__name__ == "ReLU6"  # no set_swish
    ours, theirs = ort_tower.encode_images(paths, batch_size=5), torch_tower.encode_images(paths)
    assert np.abs(ours - theirs).max() <= 1e-4
    single = ort_tower.encode_images(paths[:1], batch_size=1)
    assert np.abs(single[0] - theirs[0]).max() <= 1e-4


def test_an_export_of_other_weights_is_not_used(onnx_file: Path, tmp_path: Path) -> None:
    """An ONNX file stamped with another model id falls back to torch, or is refused."""
    foreign = onnx.load(str(onnx_file))
    onnx.helper.set_model_props(foreign, {"model_id": "efficientnet-lite0/0.0.0/0000"})
    path = tmp_path / "foreign.onnx"
    onnx.save(foreign, str(path))
    assert EfficientNetLiteEncoder(onnx_path=path).session.runtime == "torch"
    with pytest.raises(EncoderError, match="export-image-model"):
        _ = EfficientNetLiteEncoder(onnx_path=path, runtime="onnxruntime").session


def test_model_id_names_the_weights_not_the_runtime(
    torch_tower: EfficientNetLiteEncoder, ort_tower: EfficientNetLiteEncoder
) -> None:
    """Package version and a hash of the .pth bytes; the same for torch and ORT."""
    assert torch_tower.model_id == ort_tower.model_id
    name, package_version, digest = torch_tower.model_id.split("/")
    assert (name, package_version, len(digest)) == ("efficientnet-lite0", "0.1.0", 16)


def test_committed_cache_is_this_models_vectors(
    torch_tower: EfficientNetLiteEncoder, demo_vectors: EmbeddingCache
) -> None:
    """The demo cache carries this model's id and the vectors it computes today."""
    assert demo_vectors.model == torch_tower.model_id and demo_vectors.kind == "image"
    assert demo_vectors.vectors.shape == (1601, 1280)
    row = demo_vectors.ids.index(ROOSTER)
    fresh = torch_tower.encode_images([DATA / "images" / f"{ROOSTER}.png"])[0]
    assert np.abs(fresh - demo_vectors.vectors[row]).max() <= 1e-4


# --- what it sees ------------------------------------------------------------------
def test_the_roosters_visual_neighbours_are_animals_and_many_birds(
    demo_vectors: EmbeddingCache,
) -> None:
    """Birds are 21 of 1,601 designs (1.3 %), yet half of the rooster's ten nearest."""
    products = {p.id: p for p in read_catalog(DATA / "catalog.csv").products}
    row = demo_vectors.ids.index(ROOSTER)
    near = top_ids(demo_vectors, demo_vectors.vectors[row], 11)[1:]
    birds = [i for i in near if products[i].subcategory == "Птицы"]
    animals = [i for i in near[:5] if products[i].category == "Животные и природа"]
    assert len(birds) >= 4 and len(animals) == 5, [products[i].title for i in near]


@pytest.mark.parametrize("variant", ["rotated", "jpeg", "coloured", "small", "all"])
def test_a_transformed_rooster_still_finds_the_rooster(
    variant: str, ort_tower: EfficientNetLiteEncoder, demo_vectors: EmbeddingCache
) -> None:
    """Rotated 15°, JPEG q40, on a coloured field, scaled down on a white canvas, or all
    of it at once: the original rooster is among the top 5 (query cropped to content)."""
    rooster, white = rooster_rgba(), (255, 255, 255)
    pictures = {
        "rotated": on_background(rooster.rotate(15, expand=True), white),
        "jpeg": jpeg(on_background(rooster, white)),
        "coloured": on_background(rooster, (120, 170, 230)),
        "small": on_background(rooster.resize((96, 96)), white, (400, 400)),
        "all": jpeg(
            on_background(
                rooster.rotate(-15, expand=True).resize((120, 120)), (230, 200, 120), (360, 300)
            )
        ),
    }
    query = transforms.crop_to_content(pictures[variant])
    assert ROOSTER in top_ids(demo_vectors, ort_tower.encode_pil([query])[0], 5)


# --- the space in the product ------------------------------------------------------
def test_a_cache_from_another_model_is_refused_and_rebuilt(
    torch_tower: EfficientNetLiteEncoder, tmp_path: Path
) -> None:
    """Loading checks the model id; embedding re-encodes every item of a foreign cache."""
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for pid in ("1f413", "1f414"):
        (data / "images" / f"{pid}.png").write_bytes((DATA / "images" / f"{pid}.png").read_bytes())
    (data / "catalog.csv").write_text(
        "id,title,category,tags,description,price,image\n"
        "1f413,Петух,Птицы,,,100,images/1f413.png\n1f414,Курица,Птицы,,,100,images/1f414.png\n",
        encoding="utf-8",
    )
    catalog = read_catalog(data / "catalog.csv")
    space = Space(SPACE, "image", None, image_encoder=torch_tower)
    cache_dir = tmp_path / "embeddings"
    [first] = embed_catalog([space], catalog, data, cache_dir, progress=False)
    built = read_cache(first.path)
    save_cache(
        EmbeddingCache(**{**built.__dict__, "model": "efficientnet-lite0/0.0.0/other"}), cache_dir
    )
    with pytest.raises(CacheError, match="built by model"):
        load_cache(first.path, model=space.model_id, catalog_fingerprint=catalog.fingerprint)
    [again] = embed_catalog([space], catalog, data, cache_dir, progress=False)
    assert (again.encoded, again.reused) == (2, 0)
    [third] = embed_catalog([space], catalog, data, cache_dir, progress=False)
    assert (third.encoded, third.reused) == (0, 2)


def test_the_image_space_is_on_by_default_and_can_be_turned_off() -> None:
    """IMAGE_ENCODER names the tower; empty removes the space; a typo is a clear error."""
    base = {"TEXT_ENCODER": "use", "IMAGE_MODEL_DIR": str(ROOT / "models")}
    spaces = configured_spaces({**base, "IMAGE_ENCODER": "efficientnet-lite0"})
    image = next(s for s in spaces if s.name == SPACE)
    assert image.encoder is None and image.kind == "image" and image.dim == 1280
    assert SPACE not in [s.name for s in configured_spaces({**base, "IMAGE_ENCODER": ""})]
    with pytest.raises(EncoderError, match="IMAGE_ENCODER"):
        configured_spaces({**base, "IMAGE_ENCODER": "resnet"})


def test_text_search_skips_the_image_only_space(demo_app: Flask) -> None:
    """The demo engine holds the image space, and a text query never asks it anything."""
    engine = demo_app.extensions["search"]
    assert engine.describe()["spaces"][SPACE]["text_queries"] is False
    result = engine.search(SearchRequest("петух"))
    assert result.hits[0].product.id == ROOSTER
    assert all(SPACE not in hit.why["signals"] for hit in result.hits)
    assert baseline.plain_search(engine, "петух", 5)[0] == ROOSTER
    assert baseline.query_cosines(engine, "петух", [ROOSTER])[0] > 0.3


def test_export_command_stamps_the_weights_identity(
    onnx_file: Path, torch_tower: EfficientNetLiteEncoder
) -> None:
    """``flask export-image-model`` writes an ONNX file carrying the model id."""
    props = {p.key: p.value for p in onnx.load(str(onnx_file)).metadata_props}
    assert props["model_id"] == torch_tower.model_id
