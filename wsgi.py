"""WSGI entry point: gunicorn wsgi:app (see config/gunicorn.conf.py)."""

from msc import create_app

app = create_app()
