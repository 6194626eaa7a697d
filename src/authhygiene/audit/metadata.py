"""The RFC 9728 follow-up: when a challenge names `resource_metadata`, the
document there must answer without credentials, be JSON, name a non-empty
`authorization_servers`, and name as its `resource` the URL audited or a
parent of it (what MCP clients accept: the SDK's `check_resource_allowed`)."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from authhygiene.audit.checks import Answer, Finding, sink
from authhygiene.audit.probes import USER_AGENT, Expect, Probe

__all__ = ["judge_metadata", "metadata_probe", "origin_of", "resource_metadata"]

_CHECK = "metadata-document"
_SOURCE = "RFC 9728 §3, §5.1"
_FIX = (
    "Serve the document named by resource_metadata without authentication, as JSON with"
    " authorization_servers and `resource` equal to the URL clients call."
)
_OPTION = "protected_resource="
_MAX_URL_CHARS = 2048


def resource_metadata(answer: Answer) -> str | None:
    """The first `resource_metadata` URL a challenge of `answer` names."""
    for challenge in answer.challenges() or ():
        url = challenge.param("resource_metadata")
        if url and len(url) <= _MAX_URL_CHARS and url.startswith(("http://", "https://")):
            return url
    return None


def metadata_probe(url: str) -> Probe:
    return Probe("resource-metadata", "GET", url, (("User-Agent", USER_AGENT),), Expect.VALID)


def origin_of(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) as clients compare them: lower-cased, the
    default port filled in, no user:password@. None for no URL of ours."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        return None
    return (scheme, (parts.hostname or "").lower(), port)


def _parent_of(resource: str, url: str) -> bool:
    a, b = urlsplit(resource), urlsplit(url)
    if origin_of(resource) != origin_of(url):
        return False
    return (b.path.rstrip("/") + "/").startswith(a.path.rstrip("/") + "/")


def _problem(answer: Answer | None, url: str) -> str | None:
    if answer is None:
        return "the metadata URL could not be fetched (another server, or no answer)"
    if answer.status != 200:
        return f"status {answer.status} for the metadata document"
    try:
        document = json.loads(answer.body[:65536])
    except ValueError:
        return "the metadata document is not JSON"
    if not isinstance(document, dict):
        return "the metadata document is not a JSON object"
    servers = document.get("authorization_servers")
    if not isinstance(servers, list) or not servers:
        return "no authorization_servers in the metadata document"
    resource = document.get("resource")
    if not isinstance(resource, str) or not _parent_of(resource, url):
        return f"resource {str(resource)[:120]!r} is not {url} nor a parent of it"
    return None


def judge_metadata(
    probe: Probe, answer: Answer | None, url: str, secrets: tuple[str, ...] = ()
) -> list[Finding]:
    saw = _problem(answer, url)
    saw = sink(saw, secrets) if saw else saw
    return [Finding(_CHECK, probe.name, saw is None, True, _SOURCE, saw or "", _FIX, _OPTION)]
