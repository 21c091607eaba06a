"""Build the demo catalogue: Russian emoji data + Twemoji artwork as "embroidery designs".

Sources (npm tarballs, read straight out of the .tgz, no node_modules):

* ``emojibase-data@17.0.0`` - ``package/ru/data.json`` (Unicode CLDR Russian labels,
  tags, group/subgroup ids) and ``package/ru/messages.json`` (Russian group names).
* ``@twemoji/svg@15.0.0`` - one SVG per emoji, named by lowercase hexcode.

Output (under ``data_dir``): ``catalog.csv``, ``images/<id>.png`` and the upstream
licence files in ``LICENSES/``.  Prices are synthetic (a hash of the id).  Finding and
rendering each product's artwork is :mod:`webapp.demo.artwork`.

Run ``python -m webapp.demo.catalog`` (or ``flask --app webapp build-demo-catalog``).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog.products import catalog_csv
from ..files import write_atomic
from .artwork import prune_images, render_images, resolve_artwork
from .text import message_maps, product_row

log = logging.getLogger(__name__)

EMOJIBASE_SPEC = "emojibase-data@17.0.0"
TWEMOJI_SPEC = "@twemoji/svg@15.0.0"
EMOJIBASE_TGZ = "emojibase-data-17.0.0.tgz"
TWEMOJI_TGZ = "twemoji-svg-15.0.0.tgz"

DATA_MEMBER = "package/ru/data.json"
MESSAGES_MEMBER = "package/ru/messages.json"
GROUPS_MEMBER = "package/meta/groups.json"

#: Licence files copied from the tarballs: (tarball, member, name under data/LICENSES).
LICENSE_FILES = (
    (EMOJIBASE_TGZ, "package/LICENSE", "emojibase-data-LICENSE"),
    (TWEMOJI_TGZ, "package/license", "twemoji-svg-LICENSE"),
)


EXCLUDED_GROUP_KEYS = frozenset({"component", "flags"})


#: Corrections of CLDR 48 Russian group/subgroup names that are wrong in meaning or case
#: (e.g. "animal-bug" translated as «ошибки», i.e. software bugs), keyed by emojibase key.
#: Everything else is used exactly as messages.json gives it.
@dataclass
class BuildReport:
    """Counts of what was kept and what was left out, by reason."""

    products: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    missing_artwork: list[str] = field(default_factory=list)
    fe0f_stripped: list[str] = field(default_factory=list)
    rendered: int = 0
    reused: int = 0

    def exclude(self, reason: str, n: int = 1) -> None:
        """Count ``n`` entries left out for ``reason``."""
        self.excluded[reason] = self.excluded.get(reason, 0) + n


# --------------------------------------------------------------------------- npm / tar


def fetch_tarball(spec: str, filename: str, cache_dir: Path) -> Path:
    """Return ``cache_dir/filename``, running ``npm pack spec`` first if it is not cached."""
    target = cache_dir / filename
    if target.is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            f"npm is required to download {spec!r} for the demo catalogue but was not found "
            "on PATH. Install Node.js/npm (e.g. `apt-get install npm`), or put "
            f"{filename} into {cache_dir} by hand."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    log.info("npm pack %s", spec)
    proc = subprocess.run(
        [npm, "pack", spec, "--pack-destination", str(cache_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not target.is_file():
        raise RuntimeError(
            f"`npm pack {spec}` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
        )
    return target


def read_member(tgz: Path, member: str) -> bytes:
    """Return the bytes of one file inside a .tgz."""
    with tarfile.open(tgz, "r:gz") as tar:
        extracted = tar.extractfile(member)
        if extracted is None:
            raise RuntimeError(f"{member} in {tgz} is not a regular file")
        return extracted.read()


def read_svgs(tgz: Path) -> dict[str, bytes]:
    """Return {lowercase file stem: SVG bytes} for every ``*.svg`` in the tarball."""
    svgs: dict[str, bytes] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for info in tar:
            if info.isfile() and info.name.endswith(".svg"):
                extracted = tar.extractfile(info)
                if extracted is not None:
                    svgs[Path(info.name).stem.lower()] = extracted.read()
    return svgs


# --------------------------------------------------------------------------- emoji data


def select_emojis(
    entries: list[dict[str, Any]], groups: dict[int, dict[str, str]], report: BuildReport
) -> list[dict[str, Any]]:
    """Keep the motif emoji: no flags, components, ungrouped entries or skin-tone variants."""
    kept = []
    for entry in entries:
        report.exclude("skin-tone variants (nested `skins`)", len(entry.get("skins") or ()))
        group = entry.get("group")
        if group is None:
            report.exclude("no group (regional indicator letters)")
        elif groups[group]["key"] in EXCLUDED_GROUP_KEYS:
            report.exclude(f"group '{groups[group]['key']}'")
        elif entry.get("tone") is not None:
            report.exclude("top-level skin-tone entries")
        else:
            kept.append(entry)
    return sorted(kept, key=lambda e: e["order"])


# --------------------------------------------------------------------------- outputs


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write the catalogue CSV (UTF-8, header, fixed column order) atomically."""
    write_atomic(path, catalog_csv(rows).encode("utf-8"))


def copy_licenses(cache: dict[str, Path], licenses_dir: Path) -> None:
    """Copy the upstream licence files out of the tarballs into ``licenses_dir``."""
    licenses_dir.mkdir(parents=True, exist_ok=True)
    for tgz_name, member, out_name in LICENSE_FILES:
        write_atomic(licenses_dir / out_name, read_member(cache[tgz_name], member))


def log_report(report: BuildReport) -> None:
    """Print the build summary (counts by exclusion reason, missing artwork)."""
    print(
        f"demo catalogue: {report.products} products "
        f"({report.rendered} images rendered, {report.reused} up to date)"
    )
    for reason, count in sorted(report.excluded.items()):
        print(f"  excluded {count:5d}  {reason}")
    if report.fe0f_stripped:
        print(f"  artwork found after dropping fe0f/leading zeros: {len(report.fe0f_stripped)}")
    if report.missing_artwork:
        print(
            f"WARNING: {len(report.missing_artwork)} emoji have no Twemoji artwork and were "
            f"skipped: {', '.join(report.missing_artwork)}",
            file=sys.stderr,
        )


# --------------------------------------------------------------------------- entry point


def build_demo_catalog(
    data_dir: Path,
    *,
    cache_dir: Path,
    image_size: int = 256,
    progress: bool = True,
    limit: int | None = None,
) -> int:
    """Build data/catalog.csv and data/images/<id>.png from npm packages; return the product count.

    ``limit`` keeps only the first N products (a quick sample for tests and demos).
    """
    data_dir, cache_dir = Path(data_dir), Path(cache_dir)
    cache = {
        EMOJIBASE_TGZ: fetch_tarball(EMOJIBASE_SPEC, EMOJIBASE_TGZ, cache_dir),
        TWEMOJI_TGZ: fetch_tarball(TWEMOJI_SPEC, TWEMOJI_TGZ, cache_dir),
    }
    entries = json.loads(read_member(cache[EMOJIBASE_TGZ], DATA_MEMBER))
    groups, subgroups = message_maps(
        json.loads(read_member(cache[EMOJIBASE_TGZ], GROUPS_MEMBER)),
        json.loads(read_member(cache[EMOJIBASE_TGZ], MESSAGES_MEMBER)),
    )
    svgs = read_svgs(cache[TWEMOJI_TGZ])

    report = BuildReport()
    rows, sources = [], {}
    for entry in select_emojis(entries, groups, report):
        row = product_row(entry, groups, subgroups)
        source = resolve_artwork(row["id"], svgs)
        if source is None:
            report.missing_artwork.append(row["id"])
            report.exclude("no Twemoji 15.0 artwork (newer emoji)")
            continue
        if source != row["id"]:
            report.fe0f_stripped.append(row["id"])
        sources[row["id"]] = source
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break

    images_dir = data_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    report.rendered, report.reused = render_images(
        rows,
        sources,
        svgs,
        data_dir=data_dir,
        tarball=cache[TWEMOJI_TGZ],
        image_size=image_size,
        progress=progress,
    )
    removed = prune_images(images_dir, set(sources))
    if removed:
        print(f"  removed {removed} stale images")
    write_csv(data_dir / "catalog.csv", rows)
    copy_licenses(cache, data_dir / "LICENSES")
    report.products = len(rows)
    log_report(report)
    return report.products


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_demo_catalog(Path("data"), cache_dir=Path("build/npm"))
