"""Who may open the served app: the access token, the Host and Origin checks, and the response headers.

Every page, websocket, static file and download of the served app gives access to client health data (the
app runs with the therapist's data folder), so the checks sit in one aiohttp middleware in front of all
routes rather than in individual handlers:

- **Host**: on a loopback bind only loopback host names are answered. A web page elsewhere can point its
  own domain at 127.0.0.1 (DNS rebinding); its requests then carry that foreign name and are refused.
- **Token**: when a token is set (always, for a non-loopback bind) the first request must be `/?token=...`;
  the answer sets an HttpOnly, SameSite=Strict cookie that the page's websocket and static requests carry.
  Anything without a valid cookie or token gets 403. Comparison is constant-time.
- **Origin**: the websocket must come from a page served by this server, so another site open in the same
  browser cannot drive the app with the therapist's cookie (cross-site websocket hijacking).
- **Headers**: the page may load nothing from elsewhere (nothing leaves the machine), cannot be framed by
  another site (no tricked taps) and sends no Referer that could carry the token.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

TOKEN_QUERY = "token"
TOKEN_ENV = "COMPANION_SERVE_TOKEN"
"""Where `companion serve` also reads the token from, so it stays out of the process list."""
TOKEN_COOKIE_PREFIX = "companion_token_"
MIN_TOKEN_LENGTH = 16
_TOKEN_SHAPE = re.compile(rf"[A-Za-z0-9._~-]{{{MIN_TOKEN_LENGTH},}}")
WEBSOCKET_PATH = "/ws"
INDEX_PATH = "/"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # textual-serve's page has a small inline script and inline styles.
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    """A fresh random access token (192 bits, URL-safe so it fits in a link and a QR code)."""
    return secrets.token_urlsafe(24)


def validate_token(token: str) -> str:
    """Return `token` if it is usable, else raise ValueError saying what a usable one looks like.

    Only URL-unreserved characters are allowed, so the token survives a link, a cookie and a QR code
    unchanged; the length floor keeps a hand-picked token from being guessable.
    """
    if not _TOKEN_SHAPE.fullmatch(token):
        raise ValueError(
            f"the access token must be at least {MIN_TOKEN_LENGTH} characters of A-Z, a-z, 0-9, '-', '_', "
            "'.' or '~'; leave --token out to get a random one"
        )
    return token


@dataclass(frozen=True)
class AccessPolicy:
    """What the middleware enforces.

    `token`: required on every request when set. `allowed_hosts`: host names (no port) the server answers
    to, or None to answer any name (a LAN bind, where the token is the guard).
    """

    token: str | None
    allowed_hosts: frozenset[str] | None

    def token_matches(self, candidate: str | None) -> bool:
        if self.token is None or candidate is None:
            return False
        return secrets.compare_digest(candidate.encode("utf-8"), self.token.encode("utf-8"))

    def refusal(self, request: web.Request) -> str | None:
        """Why `request` must be refused, or None if it may go on. The reason is shown to the user."""
        host = (request.url.host or "").lower()
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return (
                f"Refused: this Companion server only answers on this computer "
                f"({', '.join(sorted(self.allowed_hosts))}), not as {host!r}."
            )
        if self.token is not None and not self._authorised(request):
            return (
                "Refused: an access token is needed. Open the full address printed by `companion serve` "
                "(it ends in ?token=...) or scan the QR code it shows."
            )
        if request.path == WEBSOCKET_PATH and not same_origin(request.headers.get("Origin"), request.url):
            return "Refused: the connection did not come from a page served by this Companion server."
        return None

    def _authorised(self, request: web.Request) -> bool:
        if self.token_matches(request.cookies.get(token_cookie_name(request.url.port))):
            return True
        return request.path == INDEX_PATH and self.token_matches(request.query.get(TOKEN_QUERY))


def token_cookie_name(port: int | None) -> str:
    """The cookie carrying the token, named per port: browsers share cookies between the ports of one
    host, so two servers on one computer (two data folders) must not overwrite each other's."""
    return f"{TOKEN_COOKIE_PREFIX}{port}"


def same_origin(origin: str | None, served: URL) -> bool:
    """True if an Origin header names exactly the scheme, host and port of the URL it was sent to."""
    if not origin:
        return False
    try:
        claimed = URL(origin)
    except ValueError:
        return False
    return (claimed.scheme, claimed.host, claimed.port) == (served.scheme, served.host, served.port)


def access_middleware(policy: AccessPolicy) -> Middleware:
    """The aiohttp middleware enforcing `policy`, and handing out the cookie on a valid `?token=`."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if (reason := policy.refusal(request)) is not None:
            return web.Response(status=403, text=reason + "\n")
        response = await handler(request)
        if policy.token is not None and policy.token_matches(request.query.get(TOKEN_QUERY)):
            response.set_cookie(
                token_cookie_name(request.url.port), policy.token, httponly=True, samesite="Strict", path="/"
            )
        return response

    return guard


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: runs for every response, websocket upgrades and errors included."""
    response.headers.update(SECURITY_HEADERS)
