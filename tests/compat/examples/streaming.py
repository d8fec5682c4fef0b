"""A streaming response with cleanup in ``except GeneratorExit``, as in Microdot's examples."""

# Microdot: from microdot import Microdot
import asyncio
from collections.abc import AsyncGenerator

from junco.compat.microdot import Microdot, Request

app = Microdot()
events: list[str] = []
cleaned_up = asyncio.Event()


@app.route("/video")
async def video(request: Request) -> AsyncGenerator[bytes, None]:
    async def stream() -> AsyncGenerator[bytes, None]:
        try:
            n = 0
            while True:
                n += 1
                yield b"--frame\r\n" + str(n).encode() + b"\r\n"
                await asyncio.sleep(0.01)
        except GeneratorExit:
            events.append("client left")
            cleaned_up.set()
            raise

    return stream()
