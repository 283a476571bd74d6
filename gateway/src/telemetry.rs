//! The gateway's request counters, kept in memory and rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Default)]
pub struct Metrics {
    /// (route, status) → (count, total seconds)
    requests: Mutex<BTreeMap<(String, u16), (u64, f64)>>,
}

impl Metrics {
    pub fn record(&self, route: String, status: u16, seconds: f64) {
        if let Ok(mut map) = self.requests.lock() {
            let entry = map.entry((route, status)).or_default();
            entry.0 += 1;
            entry.1 += seconds;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP qianchuan_http_requests_total HTTP requests by route and status.\n\
             # TYPE qianchuan_http_requests_total counter\n",
        );
        let mut seconds = String::from(
            "# HELP qianchuan_http_request_seconds_sum Time spent answering, by route and status.\n\
             # TYPE qianchuan_http_request_seconds_sum counter\n",
        );
        if let Ok(map) = self.requests.lock() {
            for ((route, status), (count, secs)) in map.iter() {
                out.push_str(&format!(
                    "qianchuan_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}\n"
                ));
                seconds.push_str(&format!(
                    "qianchuan_http_request_seconds_sum{{route=\"{route}\",status=\"{status}\"}} {secs:.6}\n"
                ));
            }
        }
        out + &seconds
    }
}
