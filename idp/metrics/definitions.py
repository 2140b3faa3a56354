"""Every metric the provider updates as things happen, defined once: names, help texts, label
names and buckets. docs/operations.md ("Metrics") explains each; deploy/ names only these.

Labels are bounded sets the configuration or the code fixes (organizations, directory URIs,
clients, connectors, Flask endpoint names, outcomes), never a value a caller sends. Metrics
live in ``REGISTRY`` (not prometheus_client's global one); in a multiprocess directory each
process writes its own files and a scrape merges them (``idp.metrics.collectors``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# No *_created series: a timestamp per label set is noise here.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)

# Seconds: a login's directory round trips are milliseconds; a slow server takes its timeout_s.
DIRECTORY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

LOGINS = Counter(
    "idp_logins", "Password checks by organization and outcome: succeeded, one of the "
    "directory's refusals (invalid_credentials, account_disabled, account_locked, "
    "password_expired), throttled, directory_unavailable or refused_locked.",
    ["organization", "outcome"], registry=REGISTRY)
THROTTLED = Counter(
    "idp_login_throttled", "Login attempts the throttle refused before the directory was "
    "asked, by organization and what was throttled (account or address).",
    ["organization", "scope"], registry=REGISTRY)
LINKING = Counter(
    "idp_linking_decisions", "Account linking decisions by kind (the audit event type: "
    "account.linked, link.proposed, link.approved, link.rejected, identity.merged, "
    "account.unlinked, ...) and the rule that made it (empty: a person or staff member).",
    ["decision", "rule"], registry=REGISTRY)
TOKENS = Counter(
    "idp_tokens_issued", "Token responses by grant type and client.",
    ["grant_type", "client_id"], registry=REGISTRY)
DIRECTORY_SECONDS = Histogram(
    "idp_directory_operation_seconds", "Directory round trips of a login, by organization, "
    "server URI and operation (search: finding the account; bind: checking its password).",
    ["organization", "uri", "operation"], buckets=DIRECTORY_BUCKETS, registry=REGISTRY)
REQUEST_SECONDS = Histogram(
    "idp_http_request_seconds", "Time the application took to answer, by Flask endpoint "
    "('none': no route matched).", ["endpoint"], buckets=REQUEST_BUCKETS, registry=REGISTRY)
REQUESTS = Counter(
    "idp_http_requests", "Answers by Flask endpoint ('none': no route matched) and status code.",
    ["endpoint", "status"], registry=REGISTRY)
DB_IN_USE = Gauge(
    "idp_db_connections_in_use", "Database connections checked out of the pools now, summed "
    "over the live processes.", registry=REGISTRY, multiprocess_mode="livesum")
DB_OPEN = Gauge(
    "idp_db_connections_open", "Database connections open (in use or idle in a pool), summed "
    "over the live processes.", registry=REGISTRY, multiprocess_mode="livesum")
DB_CAPACITY = Gauge(
    "idp_db_pool_capacity", "Connections the pools may open (size plus overflow), summed over "
    "the live processes.", registry=REGISTRY, multiprocess_mode="livesum")
