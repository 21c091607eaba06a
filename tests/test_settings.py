"""The one ranking settings object (``search/settings.py``): documented field by field,
set from the app's configuration, frozen per engine, and part of every cache key."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json

import pytest
from flask import Flask

from webapp import create_app
from webapp.lifecycle import warm_up
from webapp.search import settings as settings_module
from webapp.search.results import SearchRequest
from webapp.search.settings import RankingSettings, from_config
from webapp.search.signals import SignalKind

from .conftest import database_url


def documented_fields(cls: type) -> set[str]:
    """Fields of ``cls`` followed by a string literal (an attribute docstring) in its source."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    found = set()
    for field, after in zip(body, body[1:], strict=False):
        if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name):
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant):
                found.add(field.target.id)
    return found


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(RankingSettings)])
def test_every_field_says_what_it_does_its_unit_and_how_it_was_chosen(name: str) -> None:
    group = getattr(settings_module, type(getattr(RankingSettings(), name)).__name__)
    fields = {f.name for f in dataclasses.fields(group)}
    assert fields and fields <= documented_fields(group), fields - documented_fields(group)


def test_every_kind_of_signal_has_a_weight() -> None:
    assert set(RankingSettings().fusion.weights) == set(SignalKind)


def test_overrides_by_dotted_path_from_a_mapping_or_json() -> None:
    tuned = from_config({"RANKING": {"floor.min_query_z": 5.5, "fusion.weights.lexical": 3}})
    assert tuned.floor.min_query_z == 5.5 and tuned.fusion.weights[SignalKind.LEXICAL] == 3.0
    same = from_config({"RANKING": json.dumps({"floor": {"min_query_z": 5.5}})})
    assert same.floor.min_query_z == 5.5
    assert from_config({"PICTURE_RESULTS": 12}).picture.results == 12
    assert tuned.fingerprint != RankingSettings().fingerprint
    assert RankingSettings().fingerprint == RankingSettings().fingerprint


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"floor.min_query": 5}, "min_query_z"),
        ({"fusion.weights.nonsense": 1}, "not a kind"),
        ({"floor.min_query_z": "high"}, "does not fit"),
        ({"fusion.method": "magic"}, "weighted or rrf"),
        ({"floor": 5}, "is a group"),
    ],
)
def test_a_bad_setting_is_refused_with_what_is_known(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        from_config({"RANKING": overrides})


def test_changing_a_setting_from_configuration_changes_the_ranking(
    demo_app: Flask, tmp_path
) -> None:
    """The floor's gate, raised from the app's configuration, refuses a query the shipped
    settings answer; a re-tuned engine never serves the other's cached answers."""
    shipped = warm_up(demo_app)
    query = SearchRequest("rooster")  # answered by its text vector alone
    assert shipped.search(query).total > 0
    strict = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url(tmp_path),
            "RANKING": {"floor.min_query_z": 50.0, "floor.unexplained_z": 50.0},
            "RELOAD_POLL_SECONDS": 0,
        }
    )
    engine = warm_up(strict)
    assert engine.settings.floor.min_query_z == 50.0
    assert engine.search(query).total == 0
    retuned = shipped.with_ranking(shipped.settings.replace(**{"fusion.weights.lexical": 0.0}))
    before = [h.product.id for h in shipped.search(SearchRequest("кот")).hits]
    after = [h.product.id for h in retuned.search(SearchRequest("кот")).hits]
    assert before != after
