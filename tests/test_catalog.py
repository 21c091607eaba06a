"""Catalogue import: bad rows are reported by line, good rows are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.catalog.products import COLUMNS, CatalogError, read_catalog
from webapp.catalog.store import CatalogStore

HEADER = ",".join(COLUMNS) + "\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "catalog.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_bad_rows_are_reported_by_line_and_good_rows_kept(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        (
            "1f413,Петух,Птицы,,петух; птица,Описание,700,images/1f413.png\n"  # line 2: good
            "1f414,Курица,Птицы,,курица,Описание,дорого,images/1f414.png\n"  # line 3: bad price
            ",Без id,Птицы,,,Описание,100,images/x.png\n"  # line 4: no id
            "1f98b,Бабочка,Насекомые,,бабочка,Описание,200,images/1f98b.png\n"  # line 5: good
            "1f413,Петух-2,Птицы,,,Описание,100,images/1f413.png\n"  # line 6: duplicate
            "1f400,Крыса,Звери,,,Описание,-5,images/1f400.png\n"  # line 7: negative
            "1f401,Мышь,Звери,,,Описание,100,../../etc/passwd\n"  # line 8: traversal
        ),
    )
    catalog = read_catalog(path)
    assert catalog.ids() == ["1f413", "1f98b"]
    assert [line for line, _ in catalog.problems] == [3, 4, 6, 7, 8]
    messages = dict(catalog.problems)
    assert "дорого" in messages[3]
    assert "duplicate" in messages[6] and "line 2" in messages[6]
    assert "line 3:" in catalog.report()


def test_quoted_multiline_fields_keep_line_numbers_meaningful(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        (
            '1f413,Петух,Птицы,,петух,"Строка один, с запятой",700,images/1f413.png\n'
            "1f98b,Бабочка,Насекомые,,бабочка,Описание,NaN,images/1f98b.png\n"
        ),
    )
    catalog = read_catalog(path)
    assert catalog.ids() == ["1f413"]
    assert catalog.problems[0][0] == 3
    assert catalog.products[0].description == "Строка один, с запятой"


def test_missing_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.csv"
    path.write_text("id,title\n1,Петух\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="missing column.*category"):
        read_catalog(path)


def test_missing_file_names_the_command_that_builds_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="build-demo-catalog"):
        read_catalog(tmp_path / "nope.csv")


def test_repricing_keeps_the_embedding_fingerprint(tmp_path: Path) -> None:
    row = "1f413,Петух,Птицы,,петух,Описание,{price},images/1f413.png\n"
    before = read_catalog(write(tmp_path, row.format(price=700))).fingerprint
    after = read_catalog(write(tmp_path, row.format(price=900))).fingerprint
    retitled = read_catalog(write(tmp_path, row.replace("Петух,", "Кочет,").format(price=900)))
    assert before == after
    assert retitled.fingerprint != before


def test_store_mirrors_the_catalogue_and_reimports_only_on_change(tmp_path: Path) -> None:
    row = "1f413,Петух,Птицы,,петух; птица,Описание,{price},images/1f413.png\n"
    store = CatalogStore(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert store.sync(read_catalog(write(tmp_path, row.format(price=700)))) is True
    assert store.sync(read_catalog(write(tmp_path, row.format(price=700)))) is False
    assert store.sync(read_catalog(write(tmp_path, row.format(price=750)))) is True
    product = store.get("1f413")
    assert product is not None and product.price == 750 and product.tags == ("петух", "птица")
    assert store.categories() == [("Птицы", 1)]


def test_category_counts_follow_a_resync(tmp_path: Path) -> None:
    rows = [
        "1f413,Петух,Птицы,,петух,Описание,700,images/1f413.png\n",
        "1f98b,Бабочка,Насекомые,,бабочка,Описание,500,images/1f98b.png\n",
    ]
    store = CatalogStore(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    store.sync(read_catalog(write(tmp_path, rows[0])))
    assert store.categories() == [("Птицы", 1)]  # computed once, then kept
    store.sync(read_catalog(write(tmp_path, "".join(rows))))
    assert store.categories() == [("Птицы", 1), ("Насекомые", 1)]
