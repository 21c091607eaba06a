"""Shared fixtures: the demo app (real encoder, real FAISS, real SQL), mini catalogues."""

from __future__ import annotations

import atexit
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, make_url, text

from webapp import create_app
from webapp.lifecycle import warm_up

from .helpers import write_catalog

ROOT = Path(__file__).resolve().parent.parent


#: PostgreSQL schemas handed out by ``database_url`` in this session, dropped at its end.
_PG_SCHEMAS: list[str] = []


def database_url(tmp: Path) -> str:
    """A database of the caller's own: SQLite in ``tmp``, or with ``TEST_DATABASE_URL``
    (PostgreSQL in CI) a fresh schema there, so tests never see each other's rows."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp / 'test.sqlite3'}"
    schema = f"test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    if not _PG_SCHEMAS:  # registered first, so it runs after the apps' own exit handlers
        atexit.register(_drop_test_schemas)
    _PG_SCHEMAS.append(schema)
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _drop_test_schemas() -> None:
    """Remove the PostgreSQL schemas this session created (at exit, after apps flush)."""
    engine = create_engine(os.environ["TEST_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("SET lock_timeout = '5s'"))
        for schema in _PG_SCHEMAS:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app over the committed demo catalogue and embeddings, loaded once per session."""
    tmp = tmp_path_factory.mktemp("demo")
    # Rate limits have their own tests (test_security.py); here they would trip the fuzzers.
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url(tmp), "RATELIMIT_ENABLED": False}
    )
    warm_up(app)
    return app


@pytest.fixture()
def client(demo_app: Flask) -> FlaskClient:
    """A test client of the demo app."""
    return demo_app.test_client()


@pytest.fixture()
def runner(demo_app: Flask) -> FlaskCliRunner:
    """A CLI runner of the demo app."""
    return demo_app.test_cli_runner()


@pytest.fixture()
def rendered(demo_app: Flask) -> Iterator[list[tuple[object, dict[str, object]]]]:
    """(template, context) of every template the demo app renders during the test."""
    recorded: list[tuple[object, dict[str, object]]] = []

    def record(
        sender: Flask, template: object, context: dict[str, object], **extra: object
    ) -> None:
        recorded.append((template, context))

    template_rendered.connect(record, demo_app)
    yield recorded
    template_rendered.disconnect(record, demo_app)


MINI_ROWS: list[dict[str, object]] = [
    {
        "id": "a1",
        "title": "Петух на заборе",
        "category": "Птицы",
        "tags": "петух; птица",
        "description": "Яркий петух с красным гребнем.",
        "price": 500,
    },
    {
        "id": "a2",
        "title": "Бабочка-махаон",
        "category": "Насекомые",
        "tags": "бабочка; крылья",
        "description": "Лёгкая бабочка с узорными крыльями.",
        "price": 300,
    },
    {
        "id": "a3",
        "title": "Котёнок в шляпе",
        "category": "Животные",
        "tags": "кот; котёнок; шляпа",
        "description": "Милый котёнок в соломенной шляпе.",
        "price": 900,
    },
    {
        "id": "a4",
        "title": "<script>alert(1)</script> Ёлка",
        "category": "Праздники",
        "tags": "ёлка; новый год",
        "description": "Новогодняя ёлка с игрушками.",
        "price": 700,
    },
    {
        "id": "a5",
        "title": "Танк",
        "category": "Техника",
        "tags": "танк; армия; военный",
        "description": "Военная техника для мальчика.",
        "price": 1200,
    },
]


@pytest.fixture()
def mini_app(tmp_path: Path) -> Iterator[Flask]:
    """An app over a five-product catalogue, embedded for real by the CLI."""
    data = tmp_path / "data"
    write_catalog(data, [dict(r) for r in MINI_ROWS])
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(data),
            "EMBEDDINGS_DIR": str(tmp_path / "embeddings"),
            "DATABASE_URL": database_url(tmp_path),
        }
    )
    result = app.test_cli_runner().invoke(args=["embed"])
    assert result.exit_code == 0, result.output
    yield app
