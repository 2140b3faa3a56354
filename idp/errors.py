"""The small error hierarchy of Campus ID.

Each error carries a public message, safe to show to a person or a client, and a detail that
only goes to the logs. Web code maps them to HTML or JSON in one place (``idp.web.errors``).
OAuth and OpenID Connect protocol errors are Authlib's own classes, not these.
"""

from __future__ import annotations


class IdpError(Exception):
    """Base of every Campus ID error: ``public`` is shown, ``detail`` is logged."""

    status_code = 500
    public = "Something went wrong on our side. Please try again later."

    def __init__(self, detail: str = "", *, public: str | None = None) -> None:
        super().__init__(detail or self.public)
        self.detail = detail
        if public is not None:
            self.public = public


class ConfigError(IdpError):
    """The configuration is invalid; ``problems`` lists every problem, each naming its key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class BadRequest(IdpError):
    """A request a person or client sent is malformed or refers to something unknown."""

    status_code = 400
    public = "The request is not valid."


class InvalidInput(BadRequest):
    """Well-formed, but a field is missing or wrong (a reason left out, a malformed account)."""

    status_code = 422
    public = "A field of the request is missing or invalid."


class Forbidden(IdpError):
    """The caller is known but may not act here (outside its organization, say)."""

    status_code = 403
    public = "You may not do this."


class NotFound(IdpError):
    status_code = 404
    public = "Not found."


class Conflict(IdpError):
    """The request contradicts the current state (unlinking an identity's last account...)."""

    status_code = 409
    public = "This conflicts with the current state."


class DirectoryUnavailable(IdpError):
    """A directory did not answer in time or refused the service account: only its own
    organization's logins are affected."""

    status_code = 503
    public = "Your university's directory is not responding. Please try again in a few minutes."


class DatabaseNotReady(IdpError):
    """The database cannot be reached or its schema is behind the migrations: the server
    refuses to start, saying which in one line."""

    public = "The database schema is out of date."
