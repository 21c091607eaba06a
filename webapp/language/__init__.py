"""Russian text as the search sees it, on both sides: the catalogue's and the shopper's.

``text`` normalises a string and turns it into lemma terms; ``morphology`` lemmatises,
tells dictionary words from guesses and traces diminutives to their base nouns. The
catalogue (its BM25 documents, the thesaurus, concept rules) and the query's
understanding use the very same functions, so both sides always meet on the same terms.
Nothing here knows about the catalogue, the search core or the web.
"""
