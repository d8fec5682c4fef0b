# docs/examples/scale_out_2.py
import os

from junco import Junco, Request
from junco.security.stack import secure_stack

app = Junco()
# With JUNCO_REDIS_URL set, sessions and rate-limit counters live in that Redis;
# unset, sessions are signed cookies and counters stay in memory.
stack = secure_stack(
    app,
    secret_key=os.environ["JUNCO_SECRET_KEY"],
    rate_limits={"/login": "5/minute"},
)


@app.post("/login")
async def login(request: Request) -> str:
    request.session["user"] = "alice"
    return "welcome"
