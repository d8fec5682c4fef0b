"""Sessions and logins, as Microdot's login example is written.

Ported by changing the imports and one more line: the secret key. Microdot's
example uses ``'top-secret!'``; junco refuses keys under 16 bytes.
"""

# Microdot: from microdot import Microdot, redirect
#           from microdot.session import Session, with_session
#           from microdot.login import Login
from dataclasses import dataclass
from typing import Any

from junco.compat.microdot import Microdot, Request, redirect
from junco.compat.microdot.login import Login
from junco.compat.microdot.session import Session, with_session

app = Microdot()
Session(app, secret_key="example-only-key-of-32-bytes-len")  # was 'top-secret!'
login = Login()


@dataclass
class User:
    id: int
    username: str
    password: str


USERS = {1: User(1, "susan", "hello")}


@login.user_loader
async def get_user(user_id: int) -> User | None:
    return USERS.get(user_id)


@app.route("/")
@login
async def index(request: Request) -> str:
    return f"Hello, {request.g.current_user.username}!"


@app.route("/login", methods=["GET", "POST"])
async def login_page(request: Request) -> Any:
    if request.method == "GET":
        return "<form method=post>...</form>", {"Content-Type": "text/html"}
    form: Any = request.form or {}
    for user in USERS.values():
        if user.username == form.get("username") and user.password == form.get("password"):
            return await login.login_user(request, user, remember=bool(form.get("remember")))
    return redirect("/login")


@app.post("/logout")
@login
async def logout(request: Request) -> Any:
    await login.logout_user(request)
    return redirect("/")


@app.get("/visits")
@with_session
async def visits(request: Request, session: Any) -> str:
    session["n"] = session.get("n", 0) + 1
    session.save()
    return f"visit {session['n']}"
