"""The one path from validated parameters to an answered, recorded search.

``/search`` (HTML) and ``/api/search`` (JSON) both come through here, so they
rank, record analytics and annotate the request log identically.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import current_app

from ..analytics import get_analytics
from ..lifecycle import get_engine
from ..observability import annotate_request
from ..search.results import SearchRequest, SearchResult
from .params import parse_search


def parse(args: Mapping[str, str], *, require_query: bool) -> SearchRequest:
    """Validate request parameters against the loaded catalogue (ParamError when bad)."""
    categories = [name for name, _ in get_engine().categories()]
    return parse_search(args, current_app.config, categories, require_query=require_query)


def run(req: SearchRequest) -> SearchResult:
    """Answer ``req`` (a query search, or browsing by filter when the query is blank),
    record the search for staff analytics and add its stage timings to the request log."""
    engine = get_engine()
    if req.query.strip():
        result = engine.search(req)
        if result.parsed and not result.parsed.empty:
            get_analytics().record_search(result.parsed.text, result.total, result.took_ms)
    else:
        result = engine.browse(req)
    annotate_request(result.timings, query=req.query, total=result.total)
    return result
