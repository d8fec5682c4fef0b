# docs/examples/errors_3.py
from junco import Junco, Request, abort
from junco.errors import ErrorInfo

app = Junco()


@app.get("/orders/<int:order_id>")
async def order(request: Request, order_id: int) -> str:
    if order_id > 100:
        abort(409, "that order is closed", code="order_closed", extra={"order": order_id})
    return "open"


def error_page(request: Request, error: ErrorInfo) -> str:
    # Escape what you show: error.message may come from your own code's f-strings.
    from html import escape

    return f"<h1>{error.status}: {escape(error.message)}</h1><p>{escape(error.hint)}</p>"


app.error_page = error_page  # or Templates(app, ..., error_template="error.html")
