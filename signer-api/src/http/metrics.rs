//! Counters and latency histograms in the Prometheus text exposition format (version 0.0.4).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::sync::Mutex;

/// Most clients with a series of their own in `hpki_auth_failures_total`; failures of any later
/// client count under `client="other"`, so a flood of addresses cannot grow the exposition (or
/// the memory behind it) without bound.
pub const AUTH_FAILURE_CLIENTS: usize = 64;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (metric name, rendered labels) → value.
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Rendered labels → histogram of request latency.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Clients with their own auth-failure series, at most [`AUTH_FAILURE_CLIENTS`]; kept for
    /// the process's life, as a counter must not vanish.
    auth_failure_clients: Mutex<BTreeSet<String>>,
}

fn labels(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(",")
}

impl Metrics {
    pub fn count(&self, name: &'static str, pairs: &[(&str, &str)]) {
        let mut counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        *counters.entry((name, labels(pairs))).or_default() += 1;
    }

    /// Counts a failed authentication of `client` (a bounded key: a stored token's id or an
    /// address) for `reason` (one of a fixed set of names).
    pub fn count_auth_failure(&self, client: &str, reason: &'static str) {
        let client = {
            let mut clients = self
                .auth_failure_clients
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let own = clients.contains(client)
                || (clients.len() < AUTH_FAILURE_CLIENTS && clients.insert(client.to_owned()));
            if own { client } else { "other" }
        };
        self.count(
            "hpki_auth_failures_total",
            &[("client", client), ("reason", reason)],
        );
    }

    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let key = labels(&[
            ("route", route),
            ("method", method),
            ("status", &status.to_string()),
        ]);
        let mut latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let h = latency.entry(key).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = "";
        for ((name, labels), value) in counters.iter() {
            if *name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
        drop(counters);
        let latency = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let name = "hpki_http_request_duration_seconds";
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (labels, h) in latency.iter() {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.count("hpki_signatures_total", &[("outcome", "ok")]);
        m.count("hpki_signatures_total", &[("outcome", "ok")]);
        m.observe("/health", "GET", 200, 0.003);
        let text = m.render();
        assert!(
            text.contains("hpki_signatures_total{outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(text.contains("le=\"0.0025\"} 0"), "{text}");
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 1"), "{text}");
    }

    #[test]
    fn auth_failure_clients_are_capped_with_an_other_bucket() {
        let m = Metrics::default();
        for i in 0..AUTH_FAILURE_CLIENTS + 10 {
            m.count_auth_failure(&format!("ip:10.0.0.{i}"), "unknown_token");
        }
        // A client admitted before the cap keeps its own series.
        m.count_auth_failure("ip:10.0.0.0", "unknown_token");
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("hpki_auth_failures_total{"))
            .count();
        assert_eq!(series, AUTH_FAILURE_CLIENTS + 1, "{text}");
        assert!(
            text.contains("hpki_auth_failures_total{client=\"other\",reason=\"unknown_token\"} 10"),
            "{text}"
        );
        assert!(
            text.contains(
                "hpki_auth_failures_total{client=\"ip:10.0.0.0\",reason=\"unknown_token\"} 2"
            ),
            "{text}"
        );
    }
}
