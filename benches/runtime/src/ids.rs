//! Request and X-Ray trace ids in the shapes Lambda sends, one pair per invocation.

use std::time::{SystemTime, UNIX_EPOCH};

/// Whether each invocation carries its own trace id (as on Lambda) or all share one (the control run that
/// shows what per-invocation trace ids cost).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceIds {
    Unique,
    Constant,
}

impl TraceIds {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "unique" => Some(TraceIds::Unique),
            "constant" => Some(TraceIds::Constant),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TraceIds::Unique => "unique",
            TraceIds::Constant => "constant",
        }
    }
}

/// Hands out ids; request ids are always unique, as the runtime API pairs responses with them.
pub struct Ids {
    trace_ids: TraceIds,
    epoch: u64,
    count: u64,
}

impl Ids {
    pub fn new(trace_ids: TraceIds) -> Self {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Ids { trace_ids, epoch, count: 0 }
    }

    /// The next `(request id, trace id)`.
    pub fn next_pair(&mut self) -> (String, String) {
        self.count += 1;
        // splitmix64 is a bijection, so distinct counts give distinct, random-looking trace ids; the request
        // id ends with the count itself.
        let a = splitmix64(self.count);
        let b = splitmix64(!self.count);
        let request_id = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            b >> 32,
            b >> 16 & 0xffff,
            b & 0xfff,
            a >> 52,
            self.count & 0xffff_ffff_ffff
        );
        let trace_id = match self.trace_ids {
            TraceIds::Unique => {
                format!("Root=1-{:08x}-{:08x}{a:016x};Parent={b:016x};Sampled=0", self.epoch as u32, b >> 32)
            }
            TraceIds::Constant => "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into(),
        };
        (request_id, trace_id)
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_mode_never_repeats_and_keeps_the_x_ray_shape() {
        let mut ids = Ids::new(TraceIds::Unique);
        let pairs: Vec<_> = (0..10_000).map(|_| ids.next_pair()).collect();
        assert_eq!(pairs.iter().map(|p| &p.0).collect::<HashSet<_>>().len(), pairs.len());
        assert_eq!(pairs.iter().map(|p| &p.1).collect::<HashSet<_>>().len(), pairs.len());
        let (request_id, trace_id) = &pairs[0];
        assert_eq!(request_id.len(), 36);
        let root = trace_id.strip_prefix("Root=1-").unwrap().split(';').next().unwrap();
        assert!(root.len() == 33 && root.as_bytes()[8] == b'-', "{trace_id}");
        assert!(trace_id.ends_with(";Sampled=0"));
    }

    #[test]
    fn constant_mode_repeats_the_trace_id_only() {
        let mut ids = Ids::new(TraceIds::Constant);
        let (first, second) = (ids.next_pair(), ids.next_pair());
        assert_eq!(first.1, second.1);
        assert_ne!(first.0, second.0);
    }
}
