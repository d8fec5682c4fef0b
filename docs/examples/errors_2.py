# docs/examples/errors_2.py
from junco import Junco, Request

app = Junco()  # debug=False: a 500 says only "Internal server error"
debug_app = Junco(debug=True)  # for development: the traceback is the body


def divide(request: Request, a: int, b: int) -> dict[str, float]:
    return {"result": a / b}


app.add_route("/divide/<int:a>/<int:b>", divide)
debug_app.add_route("/divide/<int:a>/<int:b>", divide)
