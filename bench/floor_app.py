"""The framework's floor: a Flask app with one route that does no work, served by the same
gunicorn configuration as MSC (gunicorn -c config/gunicorn.conf.py bench.floor_app:app).

Its throughput is the most any page could reach on this machine under this server; the gap to a
real page is what the page itself costs (database, templates, access checks)."""

from flask import Flask

app = Flask(__name__)


@app.get("/floor")
def floor():
    return "ok"


@app.get("/readyz")
def readyz():
    return {"status": "ok"}
