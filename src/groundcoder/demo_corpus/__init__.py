"""The shipped demo corpus: fictional 专精特新 firms, their documents and hand-coded quotes.

``authoring`` parses the hand-written source files, ``build`` turns them into the shipped corpus,
``quality`` holds the checks a test enforces, ``load`` reads the built corpus.
"""
