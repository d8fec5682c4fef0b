# docs/examples/hooks_and_middleware_4.py
import os

from junco import Junco, Request
from junco.phases import Phase
from junco.security.sessions import Session


class Tenant:
    """Native middleware that says where it runs and what it cannot do without."""

    phase = Phase.AUTH  # after the session is loaded, before the app's own hooks
    requires = (Session,)

    def before_request(self, request: Request) -> None:
        request.g.tenant = request.session.get("tenant", "public")


app = Junco()


@app.before_request  # registered first, yet it runs after the session and Tenant
def greet(request: Request) -> None:
    request.g.greeting = f"hello from {request.g.tenant}"


app.add_middleware(Tenant())
Session(app, secret_key=os.environ["JUNCO_SECRET_KEY"])


@app.get("/")
async def index(request: Request) -> str:
    return str(request.g.greeting)


@app.post("/tenant/<name>")
async def choose(request: Request, name: str) -> str:
    request.session["tenant"] = name
    return name
