//! Order statistics of a set of durations (nearest-rank percentiles: every figure is a measured sample).

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub median: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Summary {
    /// `None` for no samples.
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        samples.sort_unstable();
        let rank = |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
        let max = *samples.last()?;
        Some(Summary { median: rank(0.5), p99: rank(0.99), max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let samples = (1..=200).map(Duration::from_micros).collect();
        let summary = Summary::of(samples).unwrap();
        assert_eq!(
            (summary.median, summary.p99, summary.max),
            (Duration::from_micros(100), Duration::from_micros(198), Duration::from_micros(200))
        );
        assert_eq!(Summary::of(vec![Duration::from_millis(3)]).unwrap().p99, Duration::from_millis(3));
        assert!(Summary::of(Vec::new()).is_none());
    }
}
