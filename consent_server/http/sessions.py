"""The session cookie belongs to the staff console alone.

Flask-Login looks at the session after every request, and Flask then adds `Vary: Cookie` to the
answer: the banner's script and the public API would stop being cacheable by shared caches, and
every visitor's answer would depend on a cookie it never has. Outside /console the session is a
null session: nothing read, nothing set, no Vary.
"""
from flask.sessions import SecureCookieSessionInterface

PREFIX = "/console"


class ConsoleSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions for paths under /console only."""

    def open_session(self, app, request):
        if request.path != PREFIX and not request.path.startswith(PREFIX + "/"):
            return self.make_null_session(app)
        return super().open_session(app, request)
