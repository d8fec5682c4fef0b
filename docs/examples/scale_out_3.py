# docs/examples/scale_out_3.py
import os

from redis.asyncio.sentinel import Sentinel

from junco import Junco, Session
from junco.pubsub import Broadcast
from junco.security.ratelimit import RateLimit
from junco.stores.redis import RedisBackend, RedisRateLimitStore, RedisStore

# Sentinel finds the current master; the stores use the client as it is.
sentinel = Sentinel([("10.0.0.1", 26379), ("10.0.0.2", 26379)], socket_timeout=1.0)
client = sentinel.master_for("mymaster", socket_timeout=1.0)

app = Junco()
Session(app, secret_key=os.environ["JUNCO_SECRET_KEY"], store=RedisStore(client))
limiter = RateLimit(app, store=RedisRateLimitStore(client))
broadcast = Broadcast(RedisBackend(client))
broadcast.init_app(app)
app.on_shutdown(client.aclose)  # the client is yours: junco leaves it open
