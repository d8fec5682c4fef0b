# docs/examples/scale_out_1.py
import os

from junco import Junco, Request, Session
from junco.pubsub import Broadcast
from junco.security.ratelimit import RateLimit
from junco.stores import redis_url_from_env

# JUNCO_REDIS_URL unset: this process's memory. Set: that Redis, for every worker.
store = redis_url_from_env() or "memory"

app = Junco()
Session(app, secret_key=os.environ["JUNCO_SECRET_KEY"], store=store)
limiter = RateLimit(app, store=store)
broadcast = Broadcast(store)
broadcast.init_app(app)


@app.post("/visits")
@limiter.limit("3/minute")
async def visit(request: Request) -> dict[str, int]:
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    await broadcast.publish("visits", visits)
    return {"visits": visits}
