//! `ObjectIdGenerator`: makes the public ids of new users the way MongoDB drivers do.

use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use users_domain::ObjectId;

/// Timestamp, a random value drawn once per process, and a counter starting at a random value: unique across
/// processes without coordination, and roughly ordered by creation time.
#[derive(Debug)]
pub struct ObjectIdGenerator {
    process_unique: [u8; 5],
    counter: AtomicU32,
}

impl ObjectIdGenerator {
    pub fn new() -> Self {
        let mut seed = [0u8; 9];
        // The OS random source failing is not something a running service can work around.
        getrandom::fill(&mut seed).expect("the operating system's random source is unavailable");
        let mut process_unique = [0u8; 5];
        process_unique.copy_from_slice(&seed[..5]);
        let counter = u32::from_be_bytes([seed[5], seed[6], seed[7], seed[8]]);
        Self { process_unique, counter: AtomicU32::new(counter) }
    }

    pub fn next(&self, now: DateTime<Utc>) -> ObjectId {
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        // ObjectIds hold 32-bit seconds; saturate rather than wrap after 2106.
        let seconds = u32::try_from(now.timestamp().max(0)).unwrap_or(u32::MAX);
        ObjectId::from_parts(seconds, self.process_unique, counter)
    }
}

impl Default for ObjectIdGenerator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_one_generator_are_distinct_and_start_with_the_time() {
        let generator = ObjectIdGenerator::new();
        let now = DateTime::from_timestamp(0x6565_6565, 0).unwrap();
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| generator.next(now)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.to_string().starts_with("65656565")));
    }
}
