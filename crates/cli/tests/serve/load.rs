//! The load run of `sealhouse serve`: concurrent PostgreSQL-protocol
//! clients mixing encrypting INSERTs (ENHANCED_SYM_ENCRYPT into a project
//! with AES256 storage encryption) with reads that check what they read,
//! for a bounded time; then a check that no row was lost or duplicated.
//! Used by the CI test (short) and the `pg_load` benchmark (longer).

use std::time::{Duration, Instant};

use tokio_postgres::types::Type;

use super::{Key, Served};

/// What each client does in a loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// An INSERT, a count of the client's rows, and every fourth time a
    /// decryption of one of them.
    Mixed,
    /// Single-row INSERTs only (every row is checked at the end).
    InsertsOnly,
}

/// How the server plans the clients' prepared statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plans {
    /// Kept per session and reused (the default, `plan_cache_mode = auto`).
    Kept,
    /// Planned with their values at every execution
    /// (`plan_cache_mode = force_custom_plan`): the reference.
    EveryExecution,
}

/// What a load run did.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadReport {
    pub clients: usize,
    pub elapsed: Duration,
    pub inserts: u64,
    pub reads: u64,
    pub decrypts: u64,
}

impl LoadReport {
    pub fn statements_per_second(&self) -> f64 {
        (self.inserts + self.reads + self.decrypts) as f64 / self.elapsed.as_secs_f64()
    }

    pub fn inserts_per_second(&self) -> f64 {
        self.inserts as f64 / self.elapsed.as_secs_f64()
    }
}

/// Makes the encrypted project and table `project.events`; the keyset the
/// clients encrypt with.
pub async fn prepare(served: &Served, key: &Key, project: &str) -> Vec<u8> {
    let c = served.connect(key).await;
    c.batch_execute(&format!(
        "CREATE PROJECT {project} ENCRYPTION ALGORITHM AES256; \
         CREATE TABLE {project}.events (client BIGINT, seq BIGINT, payload BINARY)"
    ))
    .await
    .unwrap_or_else(|e| panic!("setup: {e:?}\n{}", served.log()));
    let row = c
        .query_one("SELECT NEW_KEYSET('AES-GCM-256', 'load')", &[])
        .await
        .expect("keyset");
    row.get(0)
}

fn plaintext(client: i64, seq: i64) -> String {
    format!("client {client} row {seq}: 13900001234")
}

/// Runs `clients` clients for `duration`, each inserting (and with
/// [`Mix::Mixed`] checking) its own rows; panics on any error or on a lost,
/// duplicated or wrong row.
pub async fn run(
    served: &Served,
    key: &Key,
    project: &str,
    keyset: &[u8],
    (clients, mix, plans): (usize, Mix, Plans),
    duration: Duration,
) -> LoadReport {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for client in 0..clients {
        let client_id = i64::try_from(client).expect("small");
        let c = served.connect(key).await;
        if plans == Plans::EveryExecution {
            c.batch_execute("SET plan_cache_mode = force_custom_plan")
                .await
                .expect("set plan_cache_mode");
        }
        let keyset = keyset.to_vec();
        let project = project.to_owned();
        tasks.push(tokio::spawn(async move {
            let insert = c
                .prepare_typed(
                    &format!(
                        "INSERT INTO {project}.events VALUES ($1, $2, ENHANCED_SYM_ENCRYPT($3, $4))"
                    ),
                    &[Type::INT8, Type::INT8, Type::BYTEA, Type::TEXT],
                )
                .await
                .expect("prepare insert");
            let count = c
                .prepare(&format!(
                    "SELECT count(*) FROM {project}.events WHERE client = $1"
                ))
                .await
                .expect("prepare count");
            let decrypt = c
                .prepare_typed(
                    &format!(
                        "SELECT CAST(ENHANCED_SYM_DECRYPT($1, payload) AS STRING) FROM \
                         {project}.events WHERE client = $2 AND seq = $3"
                    ),
                    &[Type::BYTEA, Type::INT8, Type::INT8],
                )
                .await
                .expect("prepare decrypt");
            let (mut inserts, mut reads, mut decrypts) = (0u64, 0u64, 0u64);
            let mut seq: i64 = 0;
            while Instant::now() < deadline {
                let text = plaintext(client_id, seq);
                let n = c
                    .execute(&insert, &[&client_id, &seq, &keyset, &text])
                    .await
                    .unwrap_or_else(|e| panic!("insert {client_id}/{seq}: {e:?}"));
                assert_eq!(n, 1);
                inserts += 1;
                seq += 1;
                if mix == Mix::InsertsOnly {
                    continue;
                }
                // Every row this client wrote is there, once.
                let seen: i64 = c
                    .query_one(&count, &[&client_id])
                    .await
                    .unwrap_or_else(|e| panic!("count {client_id}: {e:?}"))
                    .get(0);
                assert_eq!(seen, seq, "client {client_id} sees its rows");
                reads += 1;
                if seq % 4 == 1 {
                    let probe = seq / 2;
                    let rows = c
                        .query(&decrypt, &[&keyset, &client_id, &probe])
                        .await
                        .unwrap_or_else(|e| panic!("decrypt {client_id}/{probe}: {e:?}"));
                    assert_eq!(rows.len(), 1, "one row {client_id}/{probe}");
                    let got: String = rows[0].get(0);
                    assert_eq!(got, plaintext(client_id, probe));
                    decrypts += 1;
                }
            }
            (inserts, reads, decrypts)
        }));
    }
    let mut report = LoadReport {
        clients,
        ..LoadReport::default()
    };
    for task in tasks {
        let (i, r, d) = task.await.expect("client task");
        report.inserts += i;
        report.reads += r;
        report.decrypts += d;
    }
    report.elapsed = started.elapsed();

    // Nothing lost, nothing twice: one row per (client, seq), all of them.
    let c = served.connect(key).await;
    let total: i64 = c
        .query_one(&format!("SELECT count(*) FROM {project}.events"), &[])
        .await
        .expect("total")
        .get(0);
    assert_eq!(u64::try_from(total).expect("count"), report.inserts);
    let doubled = c
        .query(
            &format!(
                "SELECT client, seq FROM {project}.events GROUP BY client, seq HAVING count(*) > 1"
            ),
            &[],
        )
        .await
        .expect("duplicates");
    assert!(doubled.is_empty(), "{} duplicated rows", doubled.len());
    // The last row of every client decrypts to what it wrote.
    let last = c
        .prepare_typed(
            &format!(
                "SELECT seq, CAST(ENHANCED_SYM_DECRYPT($1, payload) AS STRING) FROM \
                 {project}.events WHERE client = $2 ORDER BY seq DESC LIMIT 1"
            ),
            &[Type::BYTEA, Type::INT8],
        )
        .await
        .expect("prepare last row");
    for client in 0..i64::try_from(clients).expect("small") {
        let rows = c.query(&last, &[&keyset, &client]).await.expect("last row");
        if let Some(row) = rows.first() {
            let seq: i64 = row.get(0);
            assert_eq!(row.get::<_, String>(1), plaintext(client, seq));
        }
    }
    report
}
