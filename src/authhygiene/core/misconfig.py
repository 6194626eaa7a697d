"""The kinds of `auth.misconfig` event: one table that the logger and the log summary read.

The middleware logs an `auth.misconfig` event, once per kind per process,
when the app's own answers or the way it is put together are wrong in a way
the middleware can only paper over. `meaning` says what is wrong (the log
summary prints it); `fix` says what to change, for the kinds whose fix is not
obvious from the name, and is written into the event itself.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MISCONFIG", "MisconfigInfo"]


@dataclass(frozen=True, slots=True)
class MisconfigInfo:
    """What one `auth.misconfig` kind means, and what to change (or None)."""

    meaning: str
    fix: str | None = None


# One row per kind the middleware logs. Meanings complete a sentence
# "misconfiguration <kind>: ...", so they start in lower case.
MISCONFIG: dict[str, MisconfigInfo] = {
    "401_without_challenge": MisconfigInfo(
        "the app answers 401 without a WWW-Authenticate challenge (RFC 9110 requires one;"
        " the middleware adds it on the wire)",
    ),
    "403_for_missing_credentials": MisconfigInfo(
        "the app answers 403 to requests without credentials, where 401 with a challenge is due",
    ),
    "app_challenge_invalid": MisconfigInfo(
        "the app's WWW-Authenticate challenge does not parse",
    ),
    "cacheable_failure": MisconfigInfo(
        "the app's auth failures allow caching",
    ),
    "preflight_refused": MisconfigInfo(
        "the app's auth refuses CORS preflights",
        "the app's auth answered a CORS preflight, which never carries credentials; put the"
        " CORS layer in front of the auth, or pass cors=CORS(...) to authhygiene, which"
        " answers preflights before the app runs",
    ),
    "cors_wildcard_with_credentials": MisconfigInfo(
        "the app allows any origin (*) with credentials",
        "the app answered Access-Control-Allow-Origin: * with credentials, which browsers"
        " refuse; list the exact origins of your front ends",
    ),
    "cors_any_origin_with_credentials": MisconfigInfo(
        "the app's CORS layer reflects any origin with credentials",
        "the app's CORS layer allows every origin with credentials, so it reflects any"
        " site's origin and every site can read your users' responses; list the exact"
        " origins of your front ends",
    ),
    "cors_configured_twice": MisconfigInfo(
        "two CORS layers are configured",
        "both the app's own CORS layer and authhygiene's cors= are configured; keep one"
        " (authhygiene's answers preflights before the app's auth runs)",
    ),
    # Logged with the exception's type name as `error`, never its text or
    # the input: the refusal itself was still answered (generic reason).
    "internal_error": MisconfigInfo(
        "explaining a refusal raised an error; the refusal was answered with a generic"
        " reason, its challenge and no-store",
        "report it to authhygiene with the logged error type; the app needs no change",
    ),
    # Logged by the WSGI and Django adapters, with the app's status only.
    "app_body_error": MisconfigInfo(
        "the app's refusal body raised while it was read or closed; the refusal was"
        " answered from what had been read",
        "fix the app's response iterable (its iteration or its close())",
    ),
    # Logged once at start-up, from `Policy.misconfig`.
    "realm_quoted_pair": MisconfigInfo(
        "the realm holds a double quote or a backslash",
        "the realm is sent as a quoted-string, where a double quote or a backslash becomes a"
        " quoted-pair that urllib and several npm WWW-Authenticate parsers misread; use a"
        " realm of letters, digits, spaces and punctuation other than those two",
    ),
    # Logged by `verify.JWT(jwks_url=...)`, at most once a minute per JWKS,
    # with the failure's kind as `error` (http_500, timeout, not_json, ...).
    "jwks_unavailable": MisconfigInfo(
        "the issuer's JWKS could not be fetched; keys fetched before are served until"
        " they are a day old, and without any a token cannot be checked (503)",
        "check that jwks_url is the issuer's jwks_uri and that this server reaches it",
    ),
    # Logged by a verifier (`Basic`'s check, one of the app's own) that
    # raised, with the exception's type only, at most once a minute.
    "verifier_error": MisconfigInfo(
        "a verifier raised instead of judging the credentials (the app's own check, its"
        " database down); the request was answered 503 verifier_unavailable",
        "look at the logged error type in the verifier's code or the service it calls",
    ),
    # Logged by `throttle=` when its Redis fails (down, slow, refused), with
    # the error's type as `error`, at most once a minute.
    "throttle_storage_unavailable": MisconfigInfo(
        "the throttle's Redis could not count a failure; with on_storage_error='open' failures"
        " are not counted meanwhile, with 'closed' they are answered 503 throttle_unavailable",
        "check that the throttle's Redis is up and reachable from this server",
    ),
    # Logged with the exception text as `error` instead of a fix.
    "invalid_options": MisconfigInfo(
        "the middleware's options are invalid",
    ),
}

# The kinds an adapter logs by name.
APP_BODY_ERROR = "app_body_error"
