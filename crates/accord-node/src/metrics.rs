//! Prometheus metrics: requests, latencies, objects ingested, and reporting obligations (time to
//! notify, overdue), in the text exposition format.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CollectionLabels {
    collection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    regime: String,
    stage: String,
}

/// Reporting obligations of one regime stage, across incidents.
#[derive(Debug, Clone, PartialEq)]
pub struct ObligationStats {
    pub regime: String,
    pub stage: String,
    /// Mean seconds from the clock's start to the submission, over submitted ones.
    pub mean_time_to_notify: Option<f64>,
    pub submitted: i64,
    pub overdue: i64,
}

/// The server's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    ingested: Family<CollectionLabels, Counter>,
    read_ahead: Family<OutcomeLabels, Counter>,
    ingest_warnings: Family<RuleLabels, Counter>,
    connections_open: Gauge,
    connections_refused: Family<ReasonLabels, Counter>,
    time_to_notify: Family<StageLabels, Gauge<f64, AtomicU64>>,
    submitted: Family<StageLabels, Gauge>,
    overdue: Family<StageLabels, Gauge>,
    /// The ledger's gauges (named `accord_audit_*`, as dashboards know them).
    ledger: [Gauge; 5],
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("accord");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        let ingested = Family::<CollectionLabels, Counter>::default();
        let read_ahead = Family::<OutcomeLabels, Counter>::default();
        let ingest_warnings = Family::<RuleLabels, Counter>::default();
        registry.register(
            "ingest_warnings",
            "Warnings on object versions newly stored, by validation rule (an unknown marking definition, say: such objects are withheld from everyone the policy cannot place)",
            ingest_warnings.clone(),
        );
        let connections_open = Gauge::default();
        let connections_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "connections_open",
            "Client connections open (TLS handshake included)",
            connections_open.clone(),
        );
        registry.register(
            "connections_refused",
            "Connections closed at once, by reason: the node's limit (max_connections), the address's (max_connections_per_address), or an accept error",
            connections_refused.clone(),
        );
        let time_to_notify = Family::<StageLabels, Gauge<f64, AtomicU64>>::default();
        let submitted = Family::<StageLabels, Gauge>::default();
        let overdue = Family::<StageLabels, Gauge>::default();
        registry.register(
            "obligation_time_to_notify_seconds",
            "Mean time from an obligation's clock start to its submission, by regime and stage",
            time_to_notify.clone(),
        );
        registry.register(
            "obligations_submitted",
            "Reporting obligations submitted, by regime and stage",
            submitted.clone(),
        );
        registry.register(
            "obligations_overdue",
            "Reporting obligations past their deadline and not submitted, by regime and stage",
            overdue.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "objects_ingested",
            "STIX object versions newly stored, by collection",
            ingested.clone(),
        );
        registry.register(
            "pages_read_ahead",
            "Pages read ahead of their request, by outcome: used, read again because they no longer held (stale), or never asked for (unused)",
            read_ahead.clone(),
        );
        // The log grows with every disclosure, and a full disk stops disclosures: let operators
        // see both coming.
        let ledger: [Gauge; 5] = Default::default();
        for (gauge, (name, help)) in ledger.iter().zip([
            ("audit_entries", "Entries in the transparency log"),
            ("audit_bytes", "Bytes of entries in the transparency log"),
            (
                "audit_unsigned_entries",
                "Entries after the latest signed checkpoint",
            ),
            (
                "audit_failed",
                "1 when the transparency log stopped accepting entries after a write failed (disclosures stop until restart)",
            ),
            (
                "audit_disk_available_bytes",
                "Bytes free on the file system of the transparency log (-1 if unknown); disclosures stop when it is full",
            ),
        ]) {
            registry.register(name, help, gauge.clone());
        }
        Metrics {
            ledger,
            registry: Mutex::new(registry),
            requests,
            latency,
            ingested,
            read_ahead,
            ingest_warnings,
            connections_open,
            connections_refused,
            time_to_notify,
            submitted,
            overdue,
        }
    }

    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn objects_ingested(&self, collection: &str, n: u64) {
        self.ingested
            .get_or_create(&CollectionLabels {
                collection: collection.to_owned(),
            })
            .inc_by(n);
    }

    /// Pages read ahead that were `used`, read again because they no longer held (`stale`), or
    /// dropped because nobody asked for them in time (`unused`).
    pub fn read_ahead(&self, outcome: &'static str, n: usize) {
        if n > 0 {
            self.read_ahead
                .get_or_create(&OutcomeLabels { outcome })
                .inc_by(n as u64);
        }
    }

    /// A warning on an object version newly stored.
    pub fn ingest_warning(&self, rule: &'static str) {
        self.ingest_warnings.get_or_create(&RuleLabels { rule }).inc();
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connections_open(&self, delta: i64) {
        self.connections_open.inc_by(delta);
    }

    /// A connection refused: `reason` is `limit`, `address_limit` or `accept_error`.
    pub fn connection_refused(&self, reason: &'static str) {
        self.connections_refused
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// Replaces the reporting-obligation gauges with a fresh computation.
    pub fn obligations(&self, stats: &[ObligationStats]) {
        self.time_to_notify.clear();
        self.submitted.clear();
        self.overdue.clear();
        for s in stats {
            let labels = StageLabels {
                regime: s.regime.clone(),
                stage: s.stage.clone(),
            };
            if let Some(mean) = s.mean_time_to_notify {
                self.time_to_notify.get_or_create(&labels).set(mean);
            }
            self.submitted.get_or_create(&labels).set(s.submitted);
            self.overdue.get_or_create(&labels).set(s.overdue);
        }
    }

    /// Reads the transparency log's state into its gauges.
    pub fn ledger(&self, log: &accord_ledger_files::Ledger) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        let size = log.size();
        let signed = log.latest_checkpoint().map_or(0, |(cp, _)| cp.size);
        let values = [
            gauge(size),
            gauge(log.bytes()),
            gauge(size.saturating_sub(signed)),
            i64::from(log.failure().is_some()),
            log.disk_available().map_or(-1, gauge),
        ];
        for (g, v) in self.ledger.iter().zip(values) {
            g.set(v);
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}
