"""Security headers on every response (OWASP ASVS 14.4, 3.1; OWASP Secure Headers Project)."""

from __future__ import annotations

from flask import current_app, request

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
