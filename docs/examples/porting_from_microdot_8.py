# docs/examples/porting_from_microdot_8.py
# Microdot: from microdot import Microdot
#           from microdot.test_client import TestClient
from junco.compat.microdot import Microdot
from junco.compat.microdot.test_client import TestClient

app = Microdot()


@app.route("/")
def index(req):
    return "Hello, World!"


async def test_app():
    client = TestClient(app)
    response = await client.get("/")
    assert response.text == "Hello, World!"
    assert response.headers["Content-Type"] == "text/plain; charset=UTF-8"


def test_app_sync():  # junco only: the same client with blocking methods
    with TestClient(app).sync as client:
        assert client.get("/").text == "Hello, World!"
