# docs/examples/porting_from_microdot_1.py
# Microdot: from microdot import Microdot
from junco.compat.microdot import Microdot

app = Microdot()


@app.route("/")
async def index(request):
    return "Hello, world!"


if __name__ == "__main__":
    app.run()
