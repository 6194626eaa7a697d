"""The failure taxonomy: one table that docs, tests, the CLI and the decider read.

A reason is the stable, machine-readable answer to "why was this request
refused?". Everything a response says about a reason (status, RFC 6750 error
code, title, hint, problem type, OWASP log vocabulary) comes from this table,
so two responses for the same reason never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["REASONS", "Problem", "Reason", "ReasonInfo", "info"]


class Reason(StrEnum):
    """Why a request was refused. The value is the `reason` member of the body."""

    CREDENTIALS_MISSING = "credentials_missing"
    SCHEME_NOT_ACCEPTED = "scheme_not_accepted"
    CREDENTIALS_MALFORMED = "credentials_malformed"
    CREDENTIALS_INVALID = "credentials_invalid"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    TOKEN_SIGNATURE_INVALID = "token_signature_invalid"
    TOKEN_AUDIENCE_MISMATCH = "token_audience_mismatch"
    TOKEN_ISSUER_MISMATCH = "token_issuer_mismatch"
    TOKEN_ALGORITHM_REJECTED = "token_algorithm_rejected"
    TOKEN_KEY_UNKNOWN = "token_key_unknown"
    TOKEN_TYPE_REJECTED = "token_type_rejected"
    TOKEN_TOO_LARGE = "token_too_large"
    TOKEN_REVOKED = "token_revoked"
    SESSION_EXPIRED = "session_expired"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    STEP_UP_REQUIRED = "step_up_required"
    FORBIDDEN = "forbidden"
    CLIENT_BLOCKED = "client_blocked"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    TOKEN_IN_QUERY = "token_in_query"
    TOO_MANY_FAILURES = "too_many_failures"
    VERIFIER_UNAVAILABLE = "verifier_unavailable"
    THROTTLE_UNAVAILABLE = "throttle_unavailable"


class Problem(StrEnum):
    """What exactly was wrong with the request, within its reason: the
    `problem` member of the body and of the `auth.failure` event."""

    # The credentials' own shape (`credentials.Misuse` is this enum).
    EMPTY_TOKEN = "empty_token"
    MULTIPLE_AUTHORIZATION_HEADERS = "multiple_authorization_headers"
    TOKEN_IN_HEADER_AND_QUERY = "token_in_header_and_query"
    DOUBLED_SCHEME = "doubled_scheme"
    QUOTED_TOKEN = "quoted_token"
    WHITESPACE_IN_TOKEN = "whitespace_in_token"
    INVALID_CHARACTERS = "invalid_characters"
    OVERSIZED = "oversized"
    BASIC_NOT_BASE64 = "basic_not_base64"
    MISSING_SCHEME = "missing_scheme"
    # Where they were sent, or what kind of credential they were.
    API_KEY_IN_WRONG_HEADER = "api_key_in_wrong_header"
    TOKEN_IN_QUERY = "token_in_query"
    CREDENTIALS_NOT_READ = "credentials_not_read"
    NOT_A_JWT = "not_a_jwt"
    # What a verifier found (`authhygiene.verify`).
    CLAIM_MISSING = "claim_missing"
    CRIT_NOT_UNDERSTOOD = "crit_not_understood"
    VALID_TOKEN_REFUSED = "valid_token_refused"
    API_KEY_UNKNOWN = "api_key_unknown"
    WRONG_USER_OR_PASSWORD = "wrong_user_or_password"
    # Enforce mode: no rule of `require=` admits the request.
    NO_RULE_ADMITS = "no_rule_admits"
    # Enforce mode: the route requires scopes, and the credential (an API
    # key, a password) carries none.
    SCOPES_NOT_CARRIED = "scopes_not_carried"


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    """What the standards and our docs say about one reason.

    `error` is the RFC 6750 §3.1 error code a Bearer challenge carries, or
    None where RFC 6750 §3.1 says the challenge must carry none (no
    credentials, unsupported scheme) or where the reason is not about the
    token at all. `log_event` is the OWASP Logging Vocabulary name (R25) so
    SIEM rules written for it match our events. `hint` speaks to the caller;
    `operator` speaks to whoever runs the API, saying what a burst of this
    reason in the log usually means and what to check (`authhygiene logs`
    prints it in its findings).
    """

    status: int
    error: str | None
    title: str
    hint: str
    log_event: str
    operator: str


# One row per reason. Titles are stable per reason (RFC 9457 §3.1.3: the
# title should not change from occurrence to occurrence); hints say what the
# caller should do next; operator texts complete a sentence "N% of failures
# are <reason>: ...", so they start in lower case and end without a stop.
REASONS: dict[Reason, ReasonInfo] = {
    Reason.CREDENTIALS_MISSING: ReasonInfo(
        401,
        None,
        "Authentication is required",
        "Send credentials in the Authorization header, e.g. 'Authorization: {scheme} <token>'.",
        "authn_login_fail",
        "clients are not sending credentials at all; check that the client attaches the"
        " Authorization header and that no proxy, redirect or CORS preflight strips it",
    ),
    Reason.SCHEME_NOT_ACCEPTED: ReasonInfo(
        401,
        None,
        "The authentication scheme is not accepted",
        "Send the credentials with one of the accepted schemes: {accepted}.",
        "authn_login_fail",
        "clients send credentials in a scheme this API does not accept (see Schemes)",
    ),
    Reason.CREDENTIALS_MALFORMED: ReasonInfo(
        400,
        "invalid_request",
        "The credentials are malformed",
        "Send exactly one credential, once, as 'Authorization: {scheme} <token>'"
        " with nothing else on the line.",
        "authn_login_fail",
        "clients send malformed credentials (an empty Bearer, two Authorization headers,"
        " a quoted token, or the token twice)",
    ),
    Reason.CREDENTIALS_INVALID: ReasonInfo(
        401,
        "invalid_token",
        "The credentials were rejected",
        "Obtain new credentials and retry; do not retry with the same ones.",
        "authn_login_fail",
        "the app rejects the credentials themselves (an unknown key, a wrong password or"
        " an unreadable token)",
    ),
    Reason.TOKEN_EXPIRED: ReasonInfo(
        401,
        "invalid_token",
        "The access token has expired",
        "Obtain a new access token (refresh it) and retry.",
        "authn_token_expired",
        "clients keep using tokens after they expire; check that they refresh them",
    ),
    Reason.TOKEN_NOT_YET_VALID: ReasonInfo(
        401,
        "invalid_token",
        "The access token is not valid yet",
        "Wait until the token becomes valid, or check the clocks of the issuer and this server.",
        "authn_token_invalid",
        "tokens are used before they become valid (nbf/iat in the future)",
    ),
    Reason.TOKEN_SIGNATURE_INVALID: ReasonInfo(
        401,
        "invalid_token",
        "The access token's signature is invalid",
        "Use a token issued by the issuer this API trusts, unmodified.",
        "authn_token_invalid",
        "tokens are signed with a key this server does not accept; check signing-key"
        " rotation, the keys (JWKS) this server trusts, and which issuer the clients use",
    ),
    Reason.TOKEN_AUDIENCE_MISMATCH: ReasonInfo(
        401,
        "invalid_token",
        "The access token is for another audience",
        "Request a token whose audience ('aud') is this API.",
        "authn_token_invalid",
        "tokens were issued for another audience; compare the audience the clients request"
        " with the one this server expects",
    ),
    Reason.TOKEN_ISSUER_MISMATCH: ReasonInfo(
        401,
        "invalid_token",
        "The access token comes from an untrusted issuer",
        "Request a token from the issuer this API trusts.",
        "authn_token_invalid",
        "tokens come from another issuer; check that clients and this server use the same"
        " identity provider (not staging against production)",
    ),
    Reason.TOKEN_ALGORITHM_REJECTED: ReasonInfo(
        401,
        "invalid_token",
        "The access token's signing algorithm is not accepted",
        "Request a token signed with one of the algorithms this API accepts.",
        "authn_token_invalid",
        "tokens are signed with an algorithm this server refuses",
    ),
    Reason.TOKEN_KEY_UNKNOWN: ReasonInfo(
        401,
        "invalid_token",
        "The access token's signing key is unknown",
        "Obtain a new access token from the issuer this API trusts.",
        "authn_token_invalid",
        "tokens name a signing key (kid) this server does not have; the issuer rotated its"
        " keys, or the tokens come from another issuer",
    ),
    Reason.TOKEN_TYPE_REJECTED: ReasonInfo(
        401,
        "invalid_token",
        "The token is not an access token",
        "Send the access token, not an ID token or another kind of token.",
        "authn_token_invalid",
        "clients send tokens of another type (an ID token where an access token belongs)",
    ),
    Reason.TOKEN_TOO_LARGE: ReasonInfo(
        401,
        "invalid_token",
        "The access token is too large",
        "Send the access token issued for this API; it should be a few kilobytes at most.",
        "authn_token_invalid",
        "clients send tokens larger than this server reads (max_token_bytes)",
    ),
    Reason.TOKEN_REVOKED: ReasonInfo(
        401,
        "invalid_token",
        "The access token has been revoked",
        "Sign in again to obtain a new token.",
        "authn_token_revoked",
        "the tokens were revoked; the clients must obtain new ones",
    ),
    Reason.SESSION_EXPIRED: ReasonInfo(
        401,
        None,
        "The session has expired",
        "Sign in again.",
        "session_expired",
        "sessions expired; the users must sign in again",
    ),
    Reason.INSUFFICIENT_SCOPE: ReasonInfo(
        403,
        "insufficient_scope",
        "The access token lacks the required scope",
        "Request a token that carries the required scope{required}; retrying with this token"
        " will fail again.",
        "authz_fail",
        "tokens lack the scope the endpoint requires; check the scopes the clients request"
        " (a permission problem, not an authentication one)",
    ),
    Reason.STEP_UP_REQUIRED: ReasonInfo(
        401,
        "insufficient_user_authentication",
        "A stronger authentication is required",
        "Authenticate again with the required authentication level and retry.",
        "authz_fail",
        "the endpoint requires a stronger or more recent authentication than the token carries",
    ),
    Reason.FORBIDDEN: ReasonInfo(
        403,
        None,
        "Access to this resource is forbidden",
        "The server refuses this request with these credentials; do not repeat it with the"
        " same credentials.",
        "authz_fail",
        "authenticated callers are refused; a permission problem, not an authentication one",
    ),
    Reason.CLIENT_BLOCKED: ReasonInfo(
        403,
        None,
        "This client is blocked",
        "Contact the API's operators.",
        "authz_fail",
        "the clients are blocked by policy",
    ),
    # A browser page's origin the API does not serve: cross-site WebSocket
    # hijacking, or DNS rebinding against an MCP server (MCP authorization,
    # 2026-07-28: "validate Origin ... respond with HTTP 403").
    Reason.ORIGIN_NOT_ALLOWED: ReasonInfo(
        403,
        None,
        "The request's origin is not allowed",
        "Call the API from one of its allowed origins, or from a client that sends no Origin.",
        "authz_fail",
        "browser pages on origins the CORS policy does not list are calling; a new front end"
        " missing from cors= origins, or a page on another site trying to use the user's access",
    ),
    # RFC 6750 §2.3 / §5.3, MCP authorization: a token in the URL leaks into
    # access logs, browser history and Referer; where the API refuses the
    # query method, saying so is a malformed request (invalid_request).
    Reason.TOKEN_IN_QUERY: ReasonInfo(
        400,
        "invalid_request",
        "Tokens are not accepted in the URL",
        "Send the token in the Authorization header ('Authorization: Bearer <token>'), never in"
        " the query string; treat the token that was sent as exposed.",
        "authn_login_fail",
        "clients put access tokens in the query string, where access logs and browser history"
        " keep them; fix the client and consider the tokens exposed",
    ),
    Reason.TOO_MANY_FAILURES: ReasonInfo(
        429,
        None,
        "Too many failed authentication attempts",
        "Wait for the time given in Retry-After, then retry with valid credentials.",
        "excess_rate_limit_exceeded",
        "clients are refused after repeated failures; look at what failed before",
    ),
    # A server fault, never the client's: the verifier cannot judge the
    # credentials (no keys: the issuer's JWKS cannot be fetched; the app's
    # own `check` raised; a verifier broke).
    Reason.VERIFIER_UNAVAILABLE: ReasonInfo(
        503,
        None,
        "The credentials cannot be checked right now",
        "Retry after the time given in Retry-After; the credentials were not judged.",
        "sys_availability",
        "the verifier could not judge the credentials: the issuer's JWKS could not be"
        " fetched, or the app's own check failed (see the auth.misconfig events for why)",
    ),
    # A server fault too: Throttle(on_storage_error="closed") and its Redis
    # could not count a failure, so the failure is not answered as one.
    Reason.THROTTLE_UNAVAILABLE: ReasonInfo(
        503,
        None,
        "Failed attempts cannot be counted right now",
        "Retry after the time given in Retry-After.",
        "sys_availability",
        "the throttle's storage (Redis) could not count failures and on_storage_error is"
        " 'closed' (see the auth.misconfig events for why)",
    ),
}


def info(reason: Reason) -> ReasonInfo:
    """The table row for `reason`."""
    return REASONS[reason]
