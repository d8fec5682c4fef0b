"""Sign-up, login (rate-limited, remember-me), logout and the account page (fresh login only)."""

from __future__ import annotations

from junco import Junco, Request, Response, redirect
from junco.security.passwords import hash_password_async, needs_rehash, verify_password_async

from .repository import User
from .services import MAX_PASSWORD, MIN_PASSWORD, Services, clean_username, current_user

BAD_LOGIN = "Wrong user name or password."


def _form(request: Request, name: str) -> str:
    form = request.form
    value = form.get(name) if form is not None else None
    return value if isinstance(value, str) else ""


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable as a new password, or None."""
    if len(password) < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD} characters."
    return None


def register(app: Junco, s: Services) -> None:
    """Add the account routes to ``app``."""
    _signup_routes(app, s)
    _login_routes(app, s)
    _account_routes(app, s)


def _signup_routes(app: Junco, s: Services) -> None:
    @app.get("/signup")
    async def signup_page(request: Request) -> Response:
        return await s.render(request, "signup.html", username="")

    @app.post("/signup")
    async def signup(request: Request) -> Response:
        raw_name = _form(request, "username")
        username = clean_username(raw_name)
        password = _form(request, "password")
        error = password_problem(password)
        if username is None:
            error = "User names are 3 to 32 letters, digits, '-' or '_'."
        elif error is None:
            user = await s.repo.create_user(username, await hash_password_async(password))
            if user is not None:
                return await s.login.login_user(request, user, redirect_url="/notes")
            error = "That user name is taken."
        return await s.render(request, "signup.html", 400, username=raw_name[:64], error=error)


def failed(request: Request, response: Response) -> bool:
    """Whether a login attempt counts against the login limit: only failures do."""
    return response.status_code >= 400


def _login_routes(app: Junco, s: Services) -> None:
    login = s.login

    @app.get("/login")
    async def login_page(request: Request) -> Response:
        return await s.render(
            request,
            "login.html",
            username="",
            next=login.next_url(request, ""),
            fresh=bool(await login.get_current_user(request)),
        )

    # Per client address, and only failed attempts count: someone who logs in
    # and out all day is never refused, a password guesser is after login_rate.
    @app.post("/login")
    @s.limiter.limit(s.config.login_rate, count_when=failed)
    async def do_login(request: Request) -> Response:
        raw_name = _form(request, "username")
        password = _form(request, "password")
        username = clean_username(raw_name)
        user = await s.repo.find_user(username) if username else None
        # An unknown name costs the same time as a wrong password (a dummy hash is checked).
        good = await verify_password_async(password, user.password_hash if user else None)
        if good and user is not None:
            if needs_rehash(user.password_hash):
                user = await s.repo.set_password(user.id, await hash_password_async(password))
            remember = _form(request, "remember") == "1"
            return await login.login_user(request, user, remember=remember, redirect_url="/notes")
        return await s.render(
            request,
            "login.html",
            401,
            username=raw_name[:64],
            next=login.next_url(request, ""),
            error=BAD_LOGIN,
        )

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await login.logout_user(request)
        return redirect("/", 303)


def _account_routes(app: Junco, s: Services) -> None:
    @app.get("/account")
    @s.login.fresh
    async def account(request: Request) -> Response:
        changed = request.args.get("changed") == "1"
        return await s.render(
            request, "account.html", message="Password changed." if changed else None
        )

    @app.post("/account")
    @s.login.fresh
    async def change_password(request: Request) -> Response:
        user = current_user(request)
        current, new = _form(request, "current"), _form(request, "password")
        error = password_problem(new)
        if not await verify_password_async(current, user.password_hash):
            error = "Your current password is not right."
        if error is not None:
            return await s.render(request, "account.html", 400, error=error)
        changed = await s.repo.set_password(user.id, await hash_password_async(new))
        # The new session version ends every other login (and remember cookie) of
        # this user; this browser logs in again with the new version.
        return await _relogin(s, request, changed)


async def _relogin(s: Services, request: Request, user: User) -> Response:
    await s.login.login_user(request, user)
    return redirect("/account?changed=1", 303)
