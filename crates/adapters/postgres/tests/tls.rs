//! TLS to PostgreSQL as libpq's `sslmode` and `sslrootcert` ask for it, against the local server, which has TLS on
//! with Debian's self-signed "snakeoil" certificate (issued to `localhost`). Each test has a fresh database.

use std::path::Path;
use std::time::Duration;

use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;
use users_ports::UserRepository;
use users_postgres::testing::TestDatabase;
use users_postgres::testing::{CachedStore, cached_store_at};
use users_postgres::{PgOptions, run_migrations_with};

/// The local server's certificate, which is its own root.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// A fresh database on a server that offers TLS with the snakeoil certificate; `None` (said on stderr) when there is
/// none, which fails under `CI=true`, where the local cluster has TLS on.
async fn tls_database() -> Option<TestDatabase> {
    let db = TestDatabase::create().await?;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        ssl: String,
    }
    let Setting { ssl } = diesel::sql_query("SHOW ssl").get_result(&mut db.connect().await).await.unwrap();
    if ssl != "on" || !Path::new(SNAKEOIL).exists() {
        users_postgres::testing::skip(&format!("the server does not offer TLS (ssl = {ssl}) or {SNAKEOIL} is missing"));
        return None;
    }
    Some(db)
}

/// A store on `url` that has used a pooled connection and whose change listener is up.
async fn used_store(url: &str) -> CachedStore {
    let store = cached_store_at(url, &PgOptions::default());
    store.clone().check_health().await.expect("the store reaches its database");
    for _ in 0..500 {
        if store.hears_changes() {
            return store;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the change listener did not start within 5 s");
}

/// Whether each of the store's connections to `db` (by application name: pool and listener) is encrypted.
async fn encryption_by_connection(db: &TestDatabase) -> Vec<(String, bool)> {
    #[derive(diesel::QueryableByName)]
    struct Connection {
        #[diesel(sql_type = Text)]
        application_name: String,
        #[diesel(sql_type = Bool)]
        ssl: bool,
    }
    let rows: Vec<Connection> = diesel::sql_query(
        "SELECT a.application_name::text, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() ORDER BY 1",
    )
    .load(&mut db.connect().await)
    .await
    .unwrap();
    rows.into_iter().map(|row| (row.application_name, row.ssl)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_require_encrypts_the_pool_and_the_listener() {
    let Some(db) = tls_database().await else { return };

    let _store = used_store(&db.url_with("sslmode=require")).await;

    assert_eq!(
        encryption_by_connection(&db).await,
        [("users-change-listener".to_owned(), true), ("users-server".to_owned(), true)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_sslmode_tls_is_preferred_as_libpq_does() {
    let Some(db) = tls_database().await else { return };

    let _store = used_store(db.url()).await;

    assert!(encryption_by_connection(&db).await.iter().all(|(_, ssl)| *ssl));
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_disable_does_not_encrypt() {
    let Some(db) = tls_database().await else { return };

    let _store = used_store(&db.url_with("sslmode=disable")).await;

    let connections = encryption_by_connection(&db).await;
    assert_eq!(connections.len(), 2, "{connections:?}");
    assert!(connections.iter().all(|(_, ssl)| !*ssl), "{connections:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_ca_accepts_a_certificate_issued_under_the_given_root() {
    let Some(db) = tls_database().await else { return };

    // 127.0.0.1 is not a name the certificate gives: verify-ca checks the chain only.
    let url = db.url_with(&format!("sslmode=verify-ca&sslrootcert={SNAKEOIL}"));
    let _store = used_store(&url).await;
    run_migrations_with(&url, &PgOptions::default()).await.expect("migrations connect the same way");

    assert!(encryption_by_connection(&db).await.iter().all(|(_, ssl)| *ssl));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_ca_refuses_a_certificate_from_another_root_and_says_why() {
    let Some(db) = tls_database().await else { return };
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/unrelated-root.pem");
    let url = db.url_with(&format!("sslmode=verify-ca&sslrootcert={root}"));

    let error = run_migrations_with(&url, &PgOptions::default()).await.unwrap_err().to_string();

    assert!(error.contains("invalid peer certificate") && error.contains("UnknownIssuer"), "{error}");
    assert!(error.contains(&format!("sslmode=verify-ca, sslrootcert={root}")), "{error}");
    let store = cached_store_at(&url, &PgOptions::default());
    let error = store.clone().check_health().await.unwrap_err();
    assert!(error.is_unavailable(), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_checks_the_host_name_too() {
    let Some(db) = tls_database().await else { return };
    let params = format!("sslmode=verify-full&sslrootcert={SNAKEOIL}");

    // The certificate names localhost, not 127.0.0.1.
    let error = run_migrations_with(&db.url_with(&params), &PgOptions::default()).await.unwrap_err().to_string();
    assert!(error.contains("certificate not valid for name \"127.0.0.1\""), "{error}");

    let by_name = db.url_with(&params).replacen("@127.0.0.1:", "@localhost:", 1);
    assert!(by_name.contains("@localhost:"), "the test database's URL names 127.0.0.1: {by_name}");
    run_migrations_with(&by_name, &PgOptions::default()).await.expect("localhost is the certificate's name");
}

/// A server that answers "no TLS here" (`N`) to the client's SSLRequest, and records what the client sends after.
async fn server_without_tls() -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let after_refusal = tokio::spawn(async move {
        let (mut client, _) = listener.accept().await.unwrap();
        let mut ssl_request = [0u8; 8];
        client.read_exact(&mut ssl_request).await.unwrap();
        assert_eq!(ssl_request, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f], "the client asked for TLS first");
        client.write_all(b"N").await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut rest)).await;
        rest
    });
    (address, after_refusal)
}

#[tokio::test(flavor = "multi_thread")]
async fn sslmode_require_never_falls_back_to_plaintext_when_the_server_has_no_tls() {
    let (address, after_refusal) = server_without_tls().await;
    let url = format!("postgres://postgres:s3cret@{address}/users?sslmode=require");
    let store = cached_store_at(&url, &PgOptions::default());

    let refused = store.clone().check_health().await.expect_err("no connection without TLS");

    assert!(refused.is_unavailable(), "{refused}");
    let sent = after_refusal.await.unwrap();
    assert!(sent.is_empty(), "nothing, no start-up message with the user, went out in the clear: {sent:?}");
}
