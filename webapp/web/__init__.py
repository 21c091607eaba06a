"""The web layer: thin blueprints over the search core.

``pages`` renders the HTML, ``api`` answers JSON, ``params`` validates request
parameters for both, ``staff`` is the shop's own view, and ``health``,
``openapi`` and ``errors`` are the service's edges. No search logic lives here.
"""
