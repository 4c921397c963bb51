"""A tiny WSGI back for the harness: answers every request 200 with a small body.

Run it under gunicorn with the threaded worker, the one that honours ``--keep-alive`` (the default ``sync``
worker closes every connection after its response)::

    gunicorn --chdir servers -k gthread --threads 4 --keep-alive 1 -b 127.0.0.1:PORT wsgi_app:app

gunicorn's default ``--keep-alive`` is 2 seconds.
"""

BODY = b"ok from wsgi_app\n"


def app(environ, start_response):
    """Drain the request body, answer 200 with ``BODY``."""
    stream = environ.get("wsgi.input")
    if stream is not None:
        while stream.read(65536):
            pass
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))],
    )
    return [BODY]
