"""The admin page: the audit trail of this process, for the users named in ``Config.admins``.

junco's ``Audit`` (installed by ``secure_stack(audit=True)``) logs a record of
every state-changing request to the ``junco.audit`` logger and keeps the last
100 in a ring in memory; this page shows that ring. Each worker process has
its own ring, so with several workers the page shows what one of them saw: the
log is the whole trail.
"""

from __future__ import annotations

from typing import Any

from junco import Junco, Request, Response, Templates, abort

from .services import Services, current_user


def register(app: Junco, s: Services) -> None:
    """Add the admin page to ``app``."""

    @Templates.of(app).context_processor
    def admins() -> dict[str, Any]:
        return {"admins": s.config.admins}  # the layout links the page for them

    @app.get("/admin/audit")
    @s.login  # anonymous visitors are sent to the login page first
    async def audit_trail(request: Request) -> Response:
        if current_user(request).username not in s.config.admins:
            abort(403, "only administrators may read the audit trail")
        records = s.audit.recent()
        names: dict[str, str] = {}
        for record in records:
            uid = record.get("user_id")
            if isinstance(uid, str) and uid not in names:
                user = await s.repo.get_user(uid)
                names[uid] = user.username if user is not None else uid
        return await s.render(request, "admin_audit.html", records=records, names=names)
