//! `/metrics` on the health-check listener, in the Prometheus text format (OpenMetrics), through
//! `prometheus-client`. Names follow the field: cloud-sql-proxy's `open_connections` and
//! failure counts, pgbouncer-exporter's `*_bytes_total`; each series carries the connection's
//! name, so one proxy serving several connections is told apart. Nothing here holds a user
//! name, an address or a secret: only connection names and fixed reasons.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByConnection {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByReason {
    connection: String,
    reason: Failure,
}

/// Why a client connection failed, as a metric label.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub enum Failure {
    /// Not the proxy's owner, a wrong local password, or a user other than the connection's.
    RefusedUser,
    /// --max-connections, or too many clients in their handshake.
    Limit,
    /// No token: the AWS credentials are missing or expired.
    Credentials,
    /// TCP to the server, or its TLS (a certificate that does not verify).
    UpstreamTls,
    /// The server refused the token, or stalled in the login.
    UpstreamAuth,
    /// The client spoke no protocol the proxy takes, or went silent.
    ClientProtocol,
    /// The session broke after the login.
    #[default]
    Other,
}

impl Failure {
    fn label(self) -> &'static str {
        match self {
            Failure::RefusedUser => "refused_user",
            Failure::Limit => "limit",
            Failure::Credentials => "credentials",
            Failure::UpstreamTls => "upstream_tls",
            Failure::UpstreamAuth => "upstream_auth",
            Failure::ClientProtocol => "client_protocol",
            Failure::Other => "other",
        }
    }
}

impl EncodeLabelValue for Failure {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        std::fmt::Write::write_str(encoder, self.label())
    }
}

/// Seconds, from 1 ms to about 16 s: token issues (a cache hit is well under 1 ms, a signing
/// tens of ms, an SSO refresh seconds) and connects (loopback to cross-region).
#[derive(Clone)]
struct Seconds;

impl MetricConstructor<Histogram> for Seconds {
    fn new_metric(&self) -> Histogram {
        Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.001, 2.0, 15,
        ))
    }
}

pub struct Metrics {
    registry: Registry,
    open: Family<ByConnection, Gauge>,
    total: Family<ByConnection, Counter>,
    failures: Family<ByReason, Counter>,
    from_client: Family<ByConnection, Counter>,
    to_client: Family<ByConnection, Counter>,
    token_issue: Family<ByConnection, Histogram, Seconds>,
    upstream_connect: Family<ByConnection, Histogram, Seconds>,
    reused: Family<ByConnection, Counter>,
    parked: Family<ByConnection, Gauge>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("rdsiam_helper_proxy");
        let open = Family::<ByConnection, Gauge>::default();
        let total = Family::<ByConnection, Counter>::default();
        let failures = Family::<ByReason, Counter>::default();
        let from_client = Family::<ByConnection, Counter>::default();
        let to_client = Family::<ByConnection, Counter>::default();
        let token_issue = Family::new_with_constructor(Seconds);
        let upstream_connect = Family::new_with_constructor(Seconds);
        let reused = Family::<ByConnection, Counter>::default();
        let parked = Family::<ByConnection, Gauge>::default();
        registry.register(
            "server_connections_reused",
            "Client sessions served by a kept server connection (no new login)",
            reused.clone(),
        );
        registry.register(
            "server_connections_parked",
            "Server connections kept now, waiting for the next client",
            parked.clone(),
        );
        registry.register(
            "open_connections",
            "Client connections open now",
            open.clone(),
        );
        // Counters get `_total` from the encoder.
        registry.register("connections", "Client connections accepted", total.clone());
        registry.register(
            "connection_failures",
            "Client connections that failed, by reason",
            failures.clone(),
        );
        registry.register(
            "client_received_bytes",
            "Bytes received from clients (and relayed to the server)",
            from_client.clone(),
        );
        registry.register(
            "client_sent_bytes",
            "Bytes sent to clients (relayed from the server)",
            to_client.clone(),
        );
        registry.register(
            "token_issue_seconds",
            "Time to get a token from the shared cache (or to sign one)",
            token_issue.clone(),
        );
        registry.register(
            "upstream_connect_seconds",
            "Time to open TCP and verified TLS to the server",
            upstream_connect.clone(),
        );
        Metrics {
            registry,
            open,
            total,
            failures,
            from_client,
            to_client,
            token_issue,
            upstream_connect,
            reused,
            parked,
        }
    }

    fn key(connection: &str) -> ByConnection {
        ByConnection {
            connection: connection.to_string(),
        }
    }

    /// A listener's series, looked up once: a session then counts with atomic adds, with no
    /// label built, hashed or looked up under the family's lock (a client per query, as
    /// `pgbench -C` runs, makes a dozen such counts). The series exist from the start, at zero,
    /// so a scrape before the first client already shows them.
    pub fn series(&self, connection: &str, keeps_servers: bool) -> Series {
        let key = Metrics::key(connection);
        let reuse = keeps_servers.then(|| Reuse {
            reused: self.reused.get_or_create(&key).clone(),
            parked: self.parked.get_or_create(&key).clone(),
        });
        Series {
            connection: connection.to_string(),
            open: self.open.get_or_create(&key).clone(),
            total: self.total.get_or_create(&key).clone(),
            from_client: self.from_client.get_or_create(&key).clone(),
            to_client: self.to_client.get_or_create(&key).clone(),
            token_issue: self.token_issue.get_or_create(&key).clone(),
            upstream_connect: self.upstream_connect.get_or_create(&key).clone(),
            failures: self.failures.clone(),
            reuse,
        }
    }

    /// The text a scrape gets.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// One listener's series: handles that share their values with the registry.
pub struct Series {
    connection: String,
    open: Gauge,
    total: Counter,
    from_client: Counter,
    to_client: Counter,
    token_issue: Histogram,
    upstream_connect: Histogram,
    /// Failures are rare, and by reason: looked up when one happens.
    failures: Family<ByReason, Counter>,
    /// PostgreSQL listeners that keep server connections.
    reuse: Option<Reuse>,
}

struct Reuse {
    reused: Counter,
    parked: Gauge,
}

impl Series {
    pub fn opened(&self) {
        self.open.inc();
        self.total.inc();
    }

    pub fn closed(&self, failure: Option<Failure>, from: u64, to: u64) {
        self.open.dec();
        self.from_client.inc_by(from);
        self.to_client.inc_by(to);
        if let Some(reason) = failure {
            self.failures
                .get_or_create(&ByReason {
                    connection: self.connection.clone(),
                    reason,
                })
                .inc();
        }
    }

    pub fn token_issued(&self, took: Duration) {
        self.token_issue.observe(took.as_secs_f64());
    }

    pub fn upstream_connected(&self, took: Duration) {
        self.upstream_connect.observe(took.as_secs_f64());
    }

    pub fn reused(&self) {
        if let Some(reuse) = &self.reuse {
            reuse.reused.inc();
        }
    }

    pub fn parked(&self, now: usize) {
        if let Some(reuse) = &self.reuse {
            reuse.parked.set(now as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_out_under_field_style_names() {
        let metrics = Metrics::new();
        let series = metrics.series("prod", true);
        series.opened();
        series.closed(Some(Failure::RefusedUser), 10, 20);
        let text = metrics.encode();
        for line in [
            "rdsiam_helper_proxy_open_connections{connection=\"prod\"} 0",
            "rdsiam_helper_proxy_connections_total{connection=\"prod\"} 1",
            "rdsiam_helper_proxy_connection_failures_total{connection=\"prod\",reason=\"refused_user\"} 1",
            "rdsiam_helper_proxy_client_received_bytes_total{connection=\"prod\"} 10",
            "rdsiam_helper_proxy_client_sent_bytes_total{connection=\"prod\"} 20",
            "rdsiam_helper_proxy_server_connections_reused_total{connection=\"prod\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
