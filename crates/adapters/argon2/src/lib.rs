//! `PasswordHasher` with Argon2id at OWASP's recommended parameters, run on a fixed pool of hashing threads (one per
//! core by default) so a hash (tens of milliseconds of CPU, 19 MiB of memory) never stalls the async workers, and a
//! storm of sign-ins queues instead of starting a thread - and 19 MiB - per sign-in. The queue is bounded: beyond
//! it, work is refused at once (`PasswordHashError::Busy`) rather than making every later caller wait behind a
//! flood, and queued work whose caller has gone is skipped. Each hashing thread keeps its Argon2 memory from one
//! hash to the next.
//!
//! It also checks foreign hashes, those of accounts imported from other systems until their first sign-in replaces
//! them with our Argon2id: Argon2 PHC of any variant, version and parameters, bcrypt (`$2a$`, `$2b$`, `$2y$`), scrypt
//! PHC, PBKDF2-SHA256 PHC and Django's `pbkdf2_sha256$`. Their verification runs on the same hashing threads, and a
//! stored hash whose cost is beyond the bounds of [`stored`] is refused unhashed (`MalformedHash`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::oneshot;

use argon2::password_hash::PasswordHasher as _;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use users_domain::Password;
use users_ports::{PasswordHash, PasswordHashError, PasswordHasher};

pub mod stored;
use stored::Stored;

/// OWASP's first recommended Argon2id setting: 19 MiB of memory, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;
const ALGORITHM: Algorithm = Algorithm::Argon2id;
const VERSION: Version = Version::V0x13;

#[derive(Clone)]
pub struct Argon2Hasher {
    argon2: Arc<Argon2<'static>>,
    /// A hash of a random password with the same parameters, verified against for unknown accounts.
    dummy_hash: Arc<str>,
    pool: HashingPool,
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking hashing jobs from one queue of at most `queue_limit` waiting jobs: at most as many
/// hashes' memory is in use at once as there are threads, whatever the load. The threads end when the last handle
/// is dropped.
#[derive(Clone)]
struct HashingPool {
    jobs: Sender<Job>,
    /// Jobs sent and not yet taken by a thread.
    waiting: Arc<AtomicUsize>,
    queue_limit: usize,
}

impl HashingPool {
    fn start(threads: usize, queue_limit: usize) -> Result<Self, PasswordHashError> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&queue))
                .map_err(unexpected)?;
        }
        Ok(Self { jobs, waiting: Arc::new(AtomicUsize::new(0)), queue_limit })
    }

    /// Queues `job`, or refuses it when `queue_limit` jobs are already waiting.
    fn submit(&self, job: Job) -> Result<(), PasswordHashError> {
        let admitted = self.waiting.fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
            (waiting < self.queue_limit).then_some(waiting + 1)
        });
        if admitted.is_err() {
            metrics::counter!("password_hash_refused_total").increment(1);
            return Err(PasswordHashError::Busy);
        }
        let waiting = Arc::clone(&self.waiting);
        let job: Job = Box::new(move || {
            waiting.fetch_sub(1, Ordering::AcqRel);
            job();
        });
        self.jobs.send(job).map_err(|_| PasswordHashError::Unexpected("the hashing threads stopped".into()))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return, // another hashing thread panicked while waiting: stop with it
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // every hasher is gone
        }
    }
}

impl std::fmt::Debug for Argon2Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Argon2Hasher").field("params", self.argon2.params()).finish_non_exhaustive()
    }
}

impl Argon2Hasher {
    /// The production parameters, hashing on one thread per core, with at most `queue_limit` hashes waiting.
    pub fn new(queue_limit: usize) -> Result<Self, PasswordHashError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_params(MEMORY_KIB, ITERATIONS, PARALLELISM, cores, queue_limit)
    }

    /// `threads` hashes run at once at most; up to `queue_limit` more wait their turn, and more than that are refused.
    pub fn with_params(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        threads: usize,
        queue_limit: usize,
    ) -> Result<Self, PasswordHashError> {
        let params = Params::new(memory_kib, iterations, parallelism, None).map_err(unexpected)?;
        let argon2 = Argon2::new(ALGORITHM, VERSION, params);
        let mut dummy_password = [0u8; 32];
        getrandom::fill(&mut dummy_password).map_err(unexpected)?;
        let dummy_hash: Phc = argon2.hash_password(&dummy_password).map_err(unexpected)?;
        let dummy_hash = dummy_hash.to_string();
        Ok(Self {
            argon2: Arc::new(argon2),
            dummy_hash: dummy_hash.into(),
            pool: HashingPool::start(threads, queue_limit)?,
        })
    }
}

fn unexpected(error: impl std::fmt::Display) -> PasswordHashError {
    PasswordHashError::Unexpected(error.to_string())
}

/// Runs one hash or verification on the hashing threads, recording how long it waited for one
/// (`password_hash_queue_seconds`), how long it took (`password_hash_seconds`) and how many are under way or queued.
async fn off_the_workers<T: Send + 'static>(
    pool: &HashingPool,
    operation: &'static str,
    work: impl FnOnce() -> Result<T, PasswordHashError> + Send + 'static,
) -> Result<T, PasswordHashError> {
    let in_flight = metrics::gauge!("password_hash_in_flight");
    in_flight.increment(1.0);
    let submitted = Instant::now();
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move || {
        metrics::histogram!("password_hash_queue_seconds", "operation" => operation)
            .record(submitted.elapsed().as_secs_f64());
        // Its request was cancelled while it waited (the client hung up): the hash would serve nobody.
        if done.is_closed() {
            metrics::counter!("password_hash_skipped_total").increment(1);
            #[cfg(test)]
            tests::SKIPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let started = Instant::now();
        let result = work();
        metrics::histogram!("password_hash_seconds", "operation" => operation).record(started.elapsed().as_secs_f64());
        // The caller may have gone (its request was cancelled); then nobody needs the answer.
        let _ = done.send(result);
    });
    let result = match pool.submit(job) {
        Ok(()) => result.await.map_err(|_| PasswordHashError::Unexpected("a hashing thread panicked".into())),
        Err(error) => Err(error),
    };
    in_flight.decrement(1.0);
    result?
}

thread_local! {
    /// This thread's Argon2 memory, kept from one hash to the next: allocating, zeroing and faulting in 19 MiB for
    /// every hash cost the hashing threads 14% of their throughput (BENCHMARKS.md).
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Argon2 of `password` and `salt` into `output`, in this thread's kept memory. A stored hash that asks for more
/// memory than the production parameters (a hostile or outdated row) gets memory of its own, not kept.
fn hash_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], output: &mut [u8]) -> argon2::Result<()> {
    let blocks = argon2.params().block_count();
    if blocks > MEMORY_KIB as usize {
        return argon2.hash_password_into(password, salt, output);
    }
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::new());
        }
        argon2.hash_password_into_with_memory(password, salt, output, &mut memory[..blocks])
    })
}

/// A new PHC string for `password`, with a fresh 16-byte salt, as `argon2`'s own `hash_password` makes it.
fn hash(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, PasswordHashError> {
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    getrandom::fill(&mut salt).map_err(unexpected)?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hash_into(argon2, password, &salt, &mut output).map_err(unexpected)?;
    let phc = Phc {
        algorithm: ALGORITHM.ident(),
        version: Some(VERSION.into()),
        params: ParamsString::try_from(argon2.params()).map_err(unexpected)?,
        salt: Some(Salt::new(&salt).map_err(unexpected)?),
        hash: Some(Output::new(&output).map_err(unexpected)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored hash `stored`, in whichever accepted form it is: recomputed with its own
/// algorithm, version, parameters and salt and compared in constant time. A hash that [`stored::parse`] refuses is
/// `MalformedHash`, and nothing is hashed for it.
fn verify(password: &str, stored: &str) -> Result<bool, PasswordHashError> {
    match stored::parse(stored)? {
        Stored::Argon2 { algorithm, version, params, salt, expected } => {
            verify_argon2(password, &Argon2::new(algorithm, version, params), &salt, &expected)
        }
        foreign => stored::verify_foreign(password, &foreign),
    }
}

/// Argon2 in this thread's kept memory, compared in constant time (`Output`'s equality), as `argon2`'s own
/// `verify_password` does.
fn verify_argon2(
    password: &str,
    argon2: &Argon2<'_>,
    salt: &Salt,
    expected: &Output,
) -> Result<bool, PasswordHashError> {
    let mut output = [0u8; Output::MAX_LENGTH];
    let output = &mut output[..expected.len()];
    hash_into(argon2, password.as_bytes(), salt, output).map_err(unexpected)?;
    Ok(Output::new(output).map_err(unexpected)? == *expected)
}

impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, PasswordHashError> {
        let (argon2, password) = (Arc::clone(&self.argon2), password.clone());
        off_the_workers(&self.pool, "hash", move || Ok(PasswordHash::new(hash(&argon2, password.expose().as_bytes())?)))
            .await
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, PasswordHashError> {
        let (password, hash) = (password.clone(), hash.clone());
        off_the_workers(&self.pool, "verify", move || verify(password.expose(), hash.as_str())).await
    }

    async fn verify_dummy(&self, password: &Password) -> Result<(), PasswordHashError> {
        let (password, dummy) = (password.clone(), Arc::clone(&self.dummy_hash));
        off_the_workers(&self.pool, "verify", move || verify(password.expose(), &dummy).map(drop)).await
    }

    fn check_hash(&self, hash: &PasswordHash) -> Result<(), PasswordHashError> {
        stored::parse(hash.as_str()).map(drop)
    }

    /// False only for our own Argon2id, version 1.3, with the parameters (memory, passes, lanes, and no associated
    /// data) and output length this hasher uses; true for every other accepted form and for any refused hash.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        let ours = self.argon2.params();
        match stored::parse(hash.as_str()) {
            Ok(Stored::Argon2 { algorithm, version, params, expected, .. }) => {
                algorithm != ALGORITHM
                    || version != VERSION
                    || params.m_cost() != ours.m_cost()
                    || params.t_cost() != ours.t_cost()
                    || params.p_cost() != ours.p_cost()
                    || !params.data().is_empty()
                    || expected.len() != Params::DEFAULT_OUTPUT_LEN
            }
            _ => true,
        }
    }
}

/// Describes this adapter's metrics for `/metrics` and gives each series a first value, so that a scrape shows them
/// (at zero) before the first password is hashed. Called once the metrics recorder is installed.
pub fn describe_metrics() {
    metrics::describe_counter!("password_hash_refused_total", "Password hashes refused at once: the queue was full");
    metrics::describe_counter!(
        "password_hash_skipped_total",
        "Queued password hashes dropped unstarted because their request was cancelled"
    );
    metrics::describe_gauge!("password_hash_in_flight", "Password hashes queued or running");
    metrics::describe_histogram!(
        "password_hash_queue_seconds",
        metrics::Unit::Seconds,
        "Time a password hash waited for a hashing thread, by operation"
    );
    metrics::describe_histogram!(
        "password_hash_seconds",
        metrics::Unit::Seconds,
        "Time a password hash took on its thread, by operation (hash, verify)"
    );
    metrics::counter!("password_hash_refused_total").absolute(0);
    metrics::counter!("password_hash_skipped_total").absolute(0);
    metrics::gauge!("password_hash_in_flight").set(0.0);
}

#[cfg(test)]
mod foreign_tests;

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs skipped because their caller had gone, for the test of that rule.
    pub(super) static SKIPPED: AtomicUsize = AtomicUsize::new(0);

    fn password(raw: &str) -> Password {
        Password::parse(raw).unwrap()
    }

    #[tokio::test]
    async fn hashes_with_argon2id_and_the_owasp_parameters() {
        let hasher = Argon2Hasher::new(64).unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
    }

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let hasher = Argon2Hasher::new(64).unwrap();
        let hash = hasher.hash(&password("correct horse")).await.unwrap();
        assert!(hasher.verify(&password("correct horse"), &hash).await.unwrap());
        assert!(!hasher.verify(&password("correct horsE"), &hash).await.unwrap());
    }

    #[tokio::test]
    async fn salts_every_hash() {
        let hasher = Argon2Hasher::new(64).unwrap();
        let first = hasher.hash(&password("correct horse")).await.unwrap();
        let second = hasher.hash(&password("correct horse")).await.unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_both_ways() {
        use argon2::password_hash::PasswordVerifier as _;
        let argon2 = Argon2::new(ALGORITHM, VERSION, Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap());
        let ours = hash(&argon2, b"correct horse").unwrap();
        assert!(argon2.verify_password(b"correct horse", &Phc::new(&ours).unwrap()).is_ok(), "{ours}");
        // Rows hashed before the memory was kept, or by other tools, still verify.
        let theirs: Phc = argon2.hash_password(b"correct horse").unwrap();
        assert!(verify("correct horse", &theirs.to_string()).unwrap());
        assert!(!verify("correct horsE", &theirs.to_string()).unwrap());
    }

    #[test]
    fn hashes_with_other_parameters_verify_with_their_own() {
        for (memory_kib, iterations, algorithm) in
            [(4_096, 3, Algorithm::Argon2id), (2 * MEMORY_KIB, 1, Algorithm::Argon2id), (8_192, 2, Algorithm::Argon2i)]
        {
            let argon2 = Argon2::new(algorithm, VERSION, Params::new(memory_kib, iterations, 1, None).unwrap());
            let stored: Phc = argon2.hash_password(b"correct horse").unwrap();
            assert!(verify("correct horse", &stored.to_string()).unwrap(), "{stored}");
            assert!(!verify("correct horsE", &stored.to_string()).unwrap(), "{stored}");
        }
    }

    #[test]
    fn a_stored_hash_without_its_salt_or_output_is_malformed() {
        for stored in ["$argon2id$v=19$m=19456,t=2,p=1", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", "$bcrypt$x"] {
            assert!(matches!(verify("correct horse", stored), Err(PasswordHashError::MalformedHash)), "{stored}");
        }
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_reported_not_accepted() {
        let hasher = Argon2Hasher::new(64).unwrap();
        let result = hasher.verify(&password("correct horse"), &PasswordHash::new("plaintext")).await;
        assert!(matches!(result, Err(PasswordHashError::MalformedHash)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn more_hashes_than_threads_queue_and_all_complete() {
        let hasher = Argon2Hasher::with_params(1024, 1, 1, 2, 8).unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    let password = password(&format!("password number {i}"));
                    let hash = hasher.hash(&password).await.unwrap();
                    hasher.verify(&password, &hash).await.unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert!(task.await.unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_limit_work_is_refused_at_once() {
        // One thread, one waiting place: of many hashes sent together, those beyond are refused, not queued.
        let hasher = Argon2Hasher::with_params(8_192, 3, 1, 1, 1).unwrap();
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash(&password(&format!("password number {i}"))).await })
            })
            .collect();
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => {}
                Err(PasswordHashError::Busy) => refused += 1,
                Err(other) => panic!("unexpected {other}"),
            }
        }
        assert!(refused >= 8, "at most one running and one waiting at a time; {refused} of 12 refused");
        // Once the queue has drained, work is taken again.
        assert!(hasher.hash(&password("once more, calmly")).await.is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_whose_caller_has_gone_is_skipped() {
        let hasher = Argon2Hasher::with_params(32_768, 3, 1, 1, 8).unwrap();
        let skipped_before = SKIPPED.load(Ordering::Relaxed);
        // The only thread is kept busy while a second hash waits; that caller then gives up.
        let busy = {
            let hasher = hasher.clone();
            tokio::spawn(async move { hasher.hash(&password("keeps the thread busy")).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let gone = password("gone away now");
        let abandoned = tokio::time::timeout(std::time::Duration::from_millis(1), hasher.hash(&gone));
        assert!(abandoned.await.is_err(), "the caller gave up before its turn");
        busy.await.unwrap().unwrap();
        // The thread takes jobs in order: by the time the next caller is answered, the abandoned one was taken.
        hasher.hash(&password("the next caller")).await.unwrap();
        assert!(SKIPPED.load(Ordering::Relaxed) > skipped_before, "the abandoned hash was skipped, not run");
    }

    #[tokio::test]
    async fn the_dummy_verification_runs_a_real_hash() {
        let hasher = Argon2Hasher::new(64).unwrap();
        assert!(hasher.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        hasher.verify_dummy(&password("any password")).await.unwrap();
    }
}
