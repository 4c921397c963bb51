"""A tiny ASGI back for the harness: answers every HTTP request 200 with a small body.

Run it under uvicorn::

    uvicorn --app-dir servers --host 127.0.0.1 --port PORT --timeout-keep-alive 1 asgi_app:app

uvicorn's default ``--timeout-keep-alive`` is 5 seconds. uvicorn has no switch to turn keep-alive off: with
``BADGATEWAY_CLOSE=1`` in the environment every response carries ``Connection: close``, which uvicorn honours.
"""

import os

BODY = b"ok from asgi_app\n"
CLOSE = os.environ.get("BADGATEWAY_CLOSE") == "1"


async def app(scope, receive, send):
    """Answer 200 with ``BODY`` after reading the whole request body; accept lifespan events."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())]
            + ([(b"connection", b"close")] if CLOSE else []),
        }
    )
    await send({"type": "http.response.body", "body": BODY})
