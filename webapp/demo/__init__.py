"""The demo-catalogue builder (``flask --app webapp build-demo-catalog``).

It turns openly licensed npm data into a catalogue of embroidery-style
motifs: ``text`` writes the Russian titles, tags, descriptions and synthetic
prices from emojibase's CLDR labels, ``artwork`` renders the Twemoji SVGs to
PNG, and ``catalog`` drives both and writes ``data/catalog.csv`` atomically.
Serving never imports it.
"""
