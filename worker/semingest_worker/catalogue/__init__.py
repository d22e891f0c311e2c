"""The read-only web catalogue (``semingest serve``) and the static report (``semingest report``).

``query`` turns validated query strings into SQL (facets, keyset pagination) and reads image
details and runs; ``app`` serves them as HTML pages and as a JSON API (OpenAPI at
``/openapi.json``); ``report`` draws the pictures. Everything reads the database only: thumbnails
and scale-bar geometry come from the ``thumbnails`` table, never from the image files.
"""
