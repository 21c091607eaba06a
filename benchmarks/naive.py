"""The naive baseline: the source documents' pipeline behind a ``/naive-search`` route.

``RuCLIPProcessor`` with 77-token padding → ``CLIP.encode_text`` on all 77 tokens →
FAISS ``IndexFlatL2`` over the image vectors, no cache → the same DB lookup and
``search.html`` render as ours.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fixture import PAGE


def naive_blueprint(engine: Any, clip: Any) -> Any:
    """``/naive-search``: the source documents' pipeline over the same store and template."""
    import faiss
    import torch
    from flask import Blueprint, current_app, render_template, request

    from webapp.search.explanation import Explanation, SignalEvidence
    from webapp.search.results import Hit, SearchRequest, SearchResult
    from webapp.search.signals import SignalKind
    from webapp.search.timing import Timer

    image_vectors = engine.item_vectors([p.id for p in engine.products], "ruclip-image")
    index = faiss.IndexFlatL2(image_vectors.shape[1])
    index.add(image_vectors)
    VECTOR = SignalKind.IMAGE  # noqa: N806 - the one signal the naive pipeline has
    bp = Blueprint("naive", __name__)

    @bp.get("/naive-search")
    def naive_search() -> str:
        req = SearchRequest(request.args.get("q", ""), per_page=PAGE)
        store = current_app.extensions["store"]  # the SQL round trip a page, as before
        timer = Timer()
        with timer.stage("tokenise"):
            ids = clip.processor(text=[req.query])["input_ids"]  # padded to 77
        with timer.stage("encode"), torch.inference_mode():
            vector = clip.model.encode_text(ids.to(clip.device)).float().cpu().numpy()
            vector /= np.linalg.norm(vector, axis=1, keepdims=True)
        with timer.stage("knn"):
            distances, rows = index.search(vector, PAGE)
        with timer.stage("lookup"):
            products = store.get_many([engine.products[r].id for r in rows[0].tolist()])
        hits = [
            Hit(
                p,
                round(float(d), 4),
                Explanation((SignalEvidence(VECTOR, "ruclip-image", d, d, i),)),
            )
            for i, (p, d) in enumerate(zip(products, distances[0].tolist(), strict=True), 1)
        ]
        result = SearchResult(req, None, len(hits), hits, timer.stages)
        return render_template(
            "search.html", req=req, result=result, error=None, categories=store.categories()
        )

    return bp
