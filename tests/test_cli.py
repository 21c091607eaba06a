"""CLI commands, run through Flask's test runner."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from webapp import create_app
from webapp.catalog.products import read_catalog
from webapp.commands import with_terminal_logs

from .conftest import database_url


def test_search_prints_a_table_with_the_rooster(runner) -> None:
    result = runner.invoke(args=["search", "петух", "-k", "3"])
    assert result.exit_code == 0, result.output
    assert "1f413" in result.output and "Петух" in result.output and "₽" in result.output


def test_search_reports_nothing_found(runner) -> None:
    result = runner.invoke(args=["search", "ывапролджэ"])
    assert result.exit_code == 0
    assert "ничего не найдено" in result.output


def test_embed_is_incremental(mini_app) -> None:
    runner = mini_app.test_cli_runner()
    again = runner.invoke(args=["embed"])
    assert "5 items, 0 encoded, 5 reused" in again.output
    csv = Path(mini_app.config["DATA_DIR"]) / "catalog.csv"
    csv.write_text(
        csv.read_text(encoding="utf-8").replace("Яркий петух", "Гордый петух"), encoding="utf-8"
    )
    changed = runner.invoke(args=["embed"])
    assert "5 items, 1 encoded, 4 reused" in changed.output


def test_embed_without_a_cache_reports_a_clear_error_in_search(tmp_path: Path) -> None:
    app = create_app(
        {
            "TESTING": True,
            "EMBEDDINGS_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        }
    )
    result = app.test_cli_runner().invoke(args=["search", "петух"])
    assert result.exit_code != 0
    assert "flask --app webapp embed" in result.output


def test_build_demo_catalog_sample(tmp_path: Path) -> None:
    """Builds a 12-product sample from the npm packages (uses npm, as the real build does)."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path / "data")})
    cache = Path(__file__).resolve().parent.parent / "build" / "npm"
    result = app.test_cli_runner().invoke(
        args=["build-demo-catalog", "--limit", "12", "--cache-dir", str(cache)]
    )
    assert result.exit_code == 0, result.output
    catalog = read_catalog(tmp_path / "data" / "catalog.csv")
    assert len(catalog.products) == 12 and not catalog.problems
    assert all((tmp_path / "data" / p.image).is_file() for p in catalog.products)


def test_evaluate_on_a_catalogue_without_the_judged_designs_says_so(mini_app) -> None:
    result = mini_app.test_cli_runner().invoke(args=["evaluate"])
    assert result.exit_code == 1
    assert "judged design(s) are not in this catalogue" in result.output


def test_a_command_logs_in_plain_words_from_cli_log_level(tmp_path: Path) -> None:
    """A server logs JSON lines; a ``flask`` command prints for a person, its logs in words
    on stderr and only from CLI_LOG_LEVEL up, so ``flask search``'s table stands alone."""
    logger = logging.getLogger("webapp")
    saved = logger.handlers[:], logger.level
    try:
        app = create_app({"DATABASE_URL": database_url(tmp_path), "CLI_LOG_LEVEL": "WARNING"})

        @click.command("speak")
        def speak() -> None:
            logging.getLogger("webapp.commands").info("engine ready")
            logging.getLogger("webapp.commands").warning("cache is stale")
            click.echo("  1  1f413  Петух")

        app.cli.add_command(with_terminal_logs(app, speak))
        result = app.test_cli_runner().invoke(args=["speak"])
        assert result.exit_code == 0 and result.stdout == "  1  1f413  Петух\n"
        assert result.stderr == "WARNING webapp.commands: cache is stale\n"
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
