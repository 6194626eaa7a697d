"""The findings: a few plain-English sentences that answer "why are we getting 401s?".

Every sentence is derived from a count in the same summary, none is guessed.
What a reason or an `auth.misconfig` kind means for whoever runs the API comes
from the tables in `authhygiene.core` (`REASONS[...].operator`,
`MISCONFIG[...].meaning`), so a reason added to the taxonomy is explained
here without a change to this module.
"""

from __future__ import annotations

from authhygiene.core.misconfig import MISCONFIG
from authhygiene.core.reasons import REASONS, Reason
from authhygiene.log_summary.phrasing import duration, iso, pct, plural, shown
from authhygiene.log_summary.summary import TIME_REASONS, ReasonSkew, Summary, Tally

__all__ = ["JSON_SETUP", "findings", "led", "skew_words"]

DOMINANT_SHARE = 0.5
NOTABLE_REASON_SHARE = 0.25
MAX_REASON_FINDINGS = 3
MIN_FINDING_COUNT = 3
# The one structlog call that makes a log this command reads best.
JSON_SETUP = (
    "structlog.configure(processors=[structlog.processors.add_log_level,"
    ' structlog.processors.TimeStamper(fmt="iso", utc=True),'
    " structlog.processors.JSONRenderer()])"
)


def findings(summary: Summary) -> tuple[str, ...]:
    """Sentences that answer "why are we getting 401s?", each derived from
    the counts in `summary`, most telling first."""
    total = summary.failures
    out: list[str] = []
    if summary.lines and not summary.events:
        out.append(
            f"no line is a log event ({plural(summary.lines, 'line')} read); this command reads"
            " structlog's JSON, console (its default), key=value and logfmt lines. JSON reads"
            f" best: {JSON_SETUP}"
        )
    if total:
        out.extend(_reason_findings(summary, total))
        out.extend(_concentration_findings(summary, total))
        out.extend(_problem_findings(summary))
        out.extend(_spike_findings(summary))
    if summary.suppressed:
        out.append(
            f"the log's rate limit kept {plural(summary.suppressed, 'failure')} out of it"
            f" ({plural(summary.suppressed_events, 'auth.failure.suppressed event')}); the"
            " counts above include them"
        )
    if summary.report_only:
        out.append(
            f"report-only mode logged {plural(summary.report_only, 'refusal')} and left the"
            " app's answers unchanged; they are not counted as failures above"
        )
    out.extend(_misconfig_findings(summary))
    return tuple(out)


# The `problem` values clients most often cause, in an operator's words.
_PROBLEM_SAYS = {
    "token_in_query": "the clients send the token in the URL, which this API does not read"
    " (and which access logs print); they must send it in the Authorization header",
    "doubled_scheme": "the clients send 'Bearer Bearer <token>'; their code adds the scheme"
    " word twice",
    "empty_token": "the clients send the scheme word with no token after it; their token"
    " variable is empty (not logged in yet, or a failed refresh)",
    "quoted_token": "the clients wrap the token in quotes",
    "api_key_in_wrong_header": "the clients send the API key in a header this API does not read",
    "not_a_jwt": "the clients send a token that is not a JWT (an ID or refresh token, or"
    " another API's token)",
}


def _problem_findings(summary: Summary) -> list[str]:
    """A way of sending credentials that most logged failures share (the
    token in the URL, a doubled "Bearer"): the clients' code to change."""
    logged = summary.logged
    out = []
    for tally in summary.problems[:1]:
        if tally.count < MIN_FINDING_COUNT or tally.count / logged < NOTABLE_REASON_SHARE:
            break
        says = _PROBLEM_SAYS.get(
            tally.value or "",
            "the clients send credentials in a way this API does not read; each failure's"
            " `hint` says what to change",
        )
        out.append(
            f"{pct(tally.count, logged)} of logged failures ({tally.count:,} of {logged:,})"
            f" have problem={shown(tally.value)}: {says}"
        )
    return out


def _reason_findings(summary: Summary, total: int) -> list[str]:
    out = []
    for tally in summary.by_reason[:MAX_REASON_FINDINGS]:
        share = tally.count / total
        if share < NOTABLE_REASON_SHARE or tally.count < MIN_FINDING_COUNT:
            break
        head = f"{pct(tally.count, total)} of failures ({tally.count:,} of {total:,}) are"
        out.append(f"{head} {shown(tally.value)}: {_advice(summary, tally.value)}")
    return out


def _advice(summary: Summary, reason: str | None) -> str:
    """What a reason means for whoever runs the API, from the taxonomy."""
    if reason is None:
        return "the events name no reason"
    try:
        known = Reason(reason)
    except ValueError:
        # A reason this version does not know: a newer middleware's, or text
        # someone else wrote into the log.
        return "see the events' diagnosis field"
    if known in TIME_REASONS and (skew := _skew_advice(summary, known)) is not None:
        return skew
    return REASONS[known].operator


def _skew_advice(summary: Summary, reason: Reason) -> str | None:
    """For a time reason whose events carry the clock-skew flag: whether most
    are within the skew window (fix the clocks) or far outside it (fix the
    clients or the issuer). None without the flag."""
    skew = next((s for s in summary.skew_by_reason if s.reason == reason), None)
    if skew is None or not skew.flagged:
        return None
    words = skew_words((skew,))
    if skew.suspected / skew.flagged >= DOMINANT_SHARE:
        return f"{words}: check NTP on the clients, the token issuer and this server"
    if reason is Reason.TOKEN_EXPIRED:
        return f"{words}: check that clients refresh their tokens"
    return f"{words}: check the nbf/iat the issuer writes"


def skew_words(checked: tuple[ReasonSkew, ...]) -> str:
    """What the failures logged with the clock-skew flag say, in plain
    words: "of the 20 logged with the clock-skew check, none looked like
    clock skew (all long expired)"."""
    total = sum(s.flagged for s in checked)
    within = sum(s.suspected for s in checked)
    far = _far(checked)
    if total == 1:
        looked = "looked like clock skew" if within else f"did not look like clock skew ({far})"
        return f"the one logged with the clock-skew check {looked}"
    if within == 0:
        return (
            f"of the {total:,} logged with the clock-skew check, none looked like clock skew"
            f" (all {far})"
        )
    if within == total:
        return f"all {total:,} logged with the clock-skew check looked like clock skew"
    return (
        f"of the {total:,} logged with the clock-skew check, {within:,}"
        f" ({pct(within, total)}) looked like clock skew and {total - within:,} were {far}"
    )


def _far(checked: tuple[ReasonSkew, ...]) -> str:
    """How the failures outside the clock-skew window were off."""
    reasons = {s.reason for s in checked if s.flagged > s.suspected}
    if reasons == {Reason.TOKEN_EXPIRED}:
        return "long expired"
    if reasons == {Reason.TOKEN_NOT_YET_VALID}:
        return "far from valid"
    return "far outside the clock-skew window"


def _concentration_findings(summary: Summary, total: int) -> list[str]:
    out = []
    if summary.top_fingerprints:
        top = summary.top_fingerprints[0]
        if _dominant(top.count, total):
            out.append(
                f"one credential (fingerprint {shown(top.value)}) accounts for"
                f" {pct(top.count, total)} of failures ({top.count:,} of {total:,})"
                f"{_mostly(top)}: one client (or one shared credential) keeps retrying"
                " the same rejected credential"
            )
    if summary.top_clients and summary.top_clients[0].value is not None:
        top = summary.top_clients[0]
        if _dominant(top.count, total):
            out.append(
                f"one client address ({shown(top.value)}) accounts for"
                f" {pct(top.count, total)} of failures ({top.count:,} of {total:,})"
                f"{_mostly(top)}: a single caller, or a proxy that hides the callers'"
                " addresses"
            )
    if summary.distinct_paths > 1 and summary.top_paths[0].value is not None:
        top = summary.top_paths[0]
        if _dominant(top.count, total):
            out.append(
                f"{pct(top.count, total)} of failures ({top.count:,} of {total:,}) are on"
                f" one path, {shown(top.value)}{_mostly(top)}"
            )
    return out


def _dominant(count: int, total: int) -> bool:
    return count >= MIN_FINDING_COUNT and count / total >= DOMINANT_SHARE


def led(reason: str | None, reason_count: int, count: int) -> bool:
    """One reason makes up most of these failures (a named one)."""
    return reason is not None and count > 0 and reason_count / count >= DOMINANT_SHARE


def _mostly(tally: Tally) -> str:
    if not led(tally.top_reason, tally.top_reason_count, tally.count):
        return ""
    return f", {pct(tally.top_reason_count, tally.count)} of them {tally.top_reason}"


def _spike_findings(summary: Summary) -> list[str]:
    timeline = summary.timeline
    if timeline is None:
        return [f"no failure carries a readable time ({summary.untimed:,} without one)"]
    spikes = sorted((b for b in timeline.buckets if b.spike), key=lambda b: (-b.count, b.start))
    if not spikes:
        return []
    peak = spikes[0]
    text = (
        f"failures spike at {iso(peak.start)} ({duration(timeline.width_s)} bucket):"
        f" {peak.count:,}, {peak.count / timeline.median:.0f}x the median bucket"
        f" ({timeline.median:g})"
    )
    if led(peak.top_reason, peak.top_reason_count, peak.count):
        text += f", {pct(peak.top_reason_count, peak.count)} of them {peak.top_reason}"
    if len(spikes) > 1:
        text += f"; {len(spikes) - 1} more bucket(s) spike too"
    return [text]


def _misconfig_findings(summary: Summary) -> list[str]:
    out = []
    for item in summary.misconfig:
        row = MISCONFIG.get(item.kind or "")
        what = "see the event" if row is None else row.meaning
        where = f" (e.g. on {item.paths[0]})" if item.paths else ""
        fix = f"; fix: {item.fixes[0]}" if item.fixes else ""
        out.append(f"misconfiguration {shown(item.kind)}{where}: {what}{fix}")
    return out
