"""An HTML app with Jinja templates, as Microdot's jinja example is written."""

# Microdot: from microdot import Microdot, Response
#           from microdot.jinja import Template
from pathlib import Path

from junco.compat.microdot import Microdot, Request, Response
from junco.compat.microdot.jinja import Template

app = Microdot()
Template.initialize(str(Path(__file__).parent / "templates"))
Response.default_content_type = "text/html"


@app.route("/", methods=["GET", "POST"])
async def index(req: Request) -> str:
    name = None
    if req.method == "POST" and req.form is not None:
        name = req.form.get("name")
    return Template("page.html").render(title="Greeting", name=name or "stranger")
