//! Nothing to link: this crate holds the criterion benchmarks in `benches/` (run `cargo bench -p users-benches`).
