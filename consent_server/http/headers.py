"""The security headers on every response (S-05), and the CSP nonce templates use."""
import secrets

from flask import Flask, Response, current_app, g

# Our own pages: scripts and styles from us or carrying this response's nonce, nothing inline,
# never framed. The banner's script adopts its styles (or nonces them): it works under this.
PAGE_CSP = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; "
            "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
# Everything else (JSON, widget.js): a policy for the document itself, were one to open it in
# a tab. It does not reach a customer's page that runs widget.js or calls the API.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
HSTS = "max-age=31536000"


def csp_nonce() -> str:
    """This response's nonce, for templates: `<style nonce="{{ csp_nonce() }}">`."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def security_headers(response: Response) -> Response:
    """The headers every response carries (S-05); a page that set its own CSP keeps it."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if "Content-Security-Policy" not in headers:
        if response.mimetype == "text/html":
            nonce = f" 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else ""
            headers["Content-Security-Policy"] = PAGE_CSP.format(nonce=nonce)
        else:
            headers["Content-Security-Policy"] = OTHER_CSP
    if response.mimetype == "text/html":
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["PUBLIC_URL"].startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """The headers on every response, and csp_nonce() in templates."""
    app.after_request(security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
