"""Security headers on every response (OWASP ASVS 14.4, 3.1; OWASP Secure Headers Project)."""

from __future__ import annotations

from flask import abort, current_app, request

# No inline scripts or styles; Bootstrap's CSS draws its icons from data: SVGs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def set_security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    if current_app.config["HSTS"]:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if not (request.endpoint or "").endswith("static"):
        # Pages may carry personal data: never keep them in a browser or proxy cache (ASVS 8.2.1).
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    return response


def refuse_nul_bytes():
    """No text a person types contains NUL; PostgreSQL cannot store it. Refuse it in one place
    (OWASP ASVS 5.1.4) instead of letting it reach a query: the query string, the form, and
    the text parts of the path (`/referrals/1/do/<action>`).

    Bytes that are not UTF-8 need no check here: Werkzeug never hands them on undecoded (it
    keeps them %-escaped or replaces them), so no lone surrogate reaches a query either."""
    sources = [request.args] + ([request.form] if request.method == "POST" else [])
    path_texts = [v for v in (request.view_args or {}).values() if isinstance(v, str)]
    if any("\x00" in value for value in path_texts) or any(
        "\x00" in value for source in sources for values in source.listvalues() for value in values
    ):
        abort(400, description="nul")
