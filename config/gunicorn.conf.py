"""gunicorn settings for production: gunicorn -c config/gunicorn.conf.py wsgi:app"""

import multiprocessing
import os

bind = os.environ.get("MSC_BIND", "127.0.0.1:8000")
# Two workers a core suits a database-bound application; set MSC_WORKERS to override.
workers = int(os.environ.get("MSC_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("MSC_THREADS", 1))
timeout = 60
graceful_timeout = 30
# Workers import the app after forking, so no database connection is shared between them.
preload_app = False
accesslog = "-"
errorlog = "-"
# The access log carries no query strings: they may hold search terms (names).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
forwarded_allow_ips = os.environ.get("MSC_FORWARDED_ALLOW_IPS", "127.0.0.1")
