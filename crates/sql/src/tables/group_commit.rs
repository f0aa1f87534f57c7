//! Group commit: small appends to one table from many sessions at once
//! (single-row INSERTs from a pool of clients) are written as one file and
//! committed in one transaction, instead of one file, one data key, three
//! fsyncs and one catalog transaction each.
//!
//! The first append to find no commit under way for its table starts one (a
//! blocking task of its own, so a cancelled statement cannot abandon the
//! others' rows half-written); appends arriving meanwhile queue, and the
//! next round takes all of them. A round is as large as the appends that
//! arrived while the previous one was writing; when that one took several
//! and fewer wait now, the writer waits up to [`COMMIT_DELAY`] for as many
//! (PostgreSQL's `commit_delay` with `commit_siblings`): many clients then
//! share one file, one data key and one catalog commit among more rows,
//! and a lone client, whose rounds hold one append, pays no added latency.
//! Each append learns the outcome of its own round: its rows are committed
//! with the round's, or none of them are.
//!
//! An append whose statement was cancelled before a round took it is left
//! out; once taken, its rows commit with the round (as a PostgreSQL COMMIT
//! already sent cannot be called back).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::error::{DataFusionError, Result};
use sealhouse_storage::{Catalog, CommitMode, TableInfo};
use tokio::sync::oneshot;

use super::external;
use sealhouse_storage::encryption::ProjectKeys;
use sealhouse_storage::write::{NewFile, rows_bytes};

/// Appends whose rows take at most this much memory are group-committed;
/// larger ones write a file of their own.
pub(crate) const GROUP_APPEND_BYTES: usize = 1 << 20;

/// A round stops taking appends once it holds this much: one file stays a
/// size a reader handles in one piece.
const ROUND_BYTES: usize = 32 << 20;

/// The longest a writer waits for a round to fill (see the module's
/// documentation): a fraction of a round's own time (about 1.7 ms on the
/// bench machine, three fsyncs and a KMS call), so waiting costs the
/// waiting appends less than another round would.
const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_micros(500);

/// What a round answers each append: its rows committed, or why not.
type Outcome = std::result::Result<u64, Arc<DataFusionError>>;

/// One statement's rows waiting for a round.
struct Append {
    catalog: Arc<Catalog>,
    table: TableInfo,
    keys: Option<Arc<ProjectKeys>>,
    batches: Vec<RecordBatch>,
    rows: u64,
    bytes: usize,
    reply: oneshot::Sender<Outcome>,
}

impl Append {
    /// Whether `self` can go in the same file as `other`: the same table
    /// shape as scans read it (so their rows concatenate: a commit that
    /// widened a text column to views between them starts a new round) and
    /// encryption (an ALTER or an ENABLE ENCRYPTION between them too).
    fn fits_with(&self, other: &Append) -> bool {
        self.table.scan_schema() == other.table.scan_schema()
            && self.keys.as_ref().map(|k| k.setting()) == other.keys.as_ref().map(|k| k.setting())
    }
}

/// The appends of one table waiting for a round, and whether a round is
/// under way.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<Append>,
    writing: bool,
}

/// Tables are told apart by data directory and id (ids are never reused
/// within a data directory).
type TableKey = (PathBuf, i64);

static QUEUES: LazyLock<Mutex<HashMap<TableKey, Queue>>> = LazyLock::new(Mutex::default);

fn queues() -> MutexGuard<'static, HashMap<TableKey, Queue>> {
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Appends `batches` (in `table`'s schema, holding rows) to `table` with
/// whatever other appends to it are waiting; returns once they are
/// committed (the rows appended) or have failed.
pub(crate) async fn append(
    catalog: Arc<Catalog>,
    table: TableInfo,
    keys: Option<Arc<ProjectKeys>>,
    batches: Vec<RecordBatch>,
) -> Result<u64> {
    let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
    let bytes = batches.iter().map(rows_bytes).sum();
    let key = (catalog.root().to_path_buf(), table.id);
    let name = format!("{}.{}", table.project, table.name);
    let (reply, outcome) = oneshot::channel();
    let start = {
        let mut queues = queues();
        let queue = queues.entry(key.clone()).or_default();
        queue.waiting.push_back(Append {
            catalog,
            table,
            keys,
            batches,
            rows,
            bytes,
            reply,
        });
        !std::mem::replace(&mut queue.writing, true)
    };
    if start {
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || write_rounds(&handle, &key));
    }
    match outcome.await {
        Ok(Ok(rows)) => Ok(rows),
        Ok(Err(e)) => Err(DataFusionError::Shared(e)),
        Err(_) => Err(DataFusionError::Execution(format!(
            "the write of this INSERT's rows into {name} was interrupted by an internal error; \
             check whether they are there before retrying"
        ))),
    }
}

/// Writes rounds of `key`'s table until no append waits.
fn write_rounds(handle: &tokio::runtime::Handle, key: &TableKey) {
    let _writing = Writing(key);
    let mut last = 0;
    loop {
        gather(key, last);
        let Some(round) = next_round(key) else {
            break;
        };
        last = round.len();
        let started = std::time::Instant::now();
        let outcome = handle.block_on(commit_round(&round)).map_err(Arc::new);
        tracing::debug!(
            target: "sealhouse::group_commit",
            table = key.1,
            appends = round.len(),
            rows = round.iter().map(|a| a.rows).sum::<u64>(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            ok = outcome.is_ok(),
            "round"
        );
        for append in round {
            // A statement that stopped waiting no longer hears.
            let _ = append.reply.send(match &outcome {
                Ok(()) => Ok(append.rows),
                Err(e) => Err(Arc::clone(e)),
            });
        }
    }
}

/// Waits up to [`COMMIT_DELAY`] for as many appends as the last round took
/// (`last`), when it took more than one: others are on their way. Whether
/// it waited.
fn gather(key: &TableKey, last: usize) -> bool {
    let deadline = std::time::Instant::now() + COMMIT_DELAY;
    let mut waited = false;
    while last > 1
        && queues().get(key).map_or(0, |q| q.waiting.len()) < last
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_micros(50));
        waited = true;
    }
    waited
}

/// Takes the next round: the first waiting append and every later one that
/// fits in its file, up to [`ROUND_BYTES`]. `None` (and the table's round
/// marked finished, under the same lock) when nothing waits.
fn next_round(key: &TableKey) -> Option<Vec<Append>> {
    let mut queues = queues();
    let queue = queues.get_mut(key)?;
    // Statements cancelled before their round are left out.
    queue.waiting.retain(|a| !a.reply.is_closed());
    let Some(first) = queue.waiting.pop_front() else {
        queues.remove(key);
        return None;
    };
    let mut bytes = first.bytes;
    let mut round = vec![first];
    let mut later = VecDeque::new();
    while let Some(append) = queue.waiting.pop_front() {
        if bytes < ROUND_BYTES && append.fits_with(&round[0]) {
            bytes += append.bytes;
            round.push(append);
        } else {
            later.push_back(append);
        }
    }
    queue.waiting = later;
    Some(round)
}

/// Writes a round's rows as one file and commits it.
async fn commit_round(round: &[Append]) -> Result<()> {
    let first = &round[0];
    // The held batches were conformed to the scan schema (sink.rs).
    let schema = first.table.scan_schema();
    let all = concat_batches(&schema, round.iter().flat_map(|a| &a.batches))?;
    let mut file = NewFile::create(
        &first.catalog,
        &first.table,
        first.keys.as_deref(),
        Some(&all),
    )
    .await?;
    file.write(&all)?;
    if let Some(staged) = file.finish()? {
        first
            .catalog
            .commit(&first.table, vec![staged], CommitMode::Append)
            .await
            .map_err(external)?;
    }
    Ok(())
}

/// Marks the table's rounds finished if the writer panicked: the appends
/// still waiting are dropped (their statements fail), and the next append
/// starts a new writer.
struct Writing<'a>(&'a TableKey);

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            queues().remove(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use sealhouse_crypto::SecretBytes;
    use sealhouse_storage::{Catalog, CatalogKey, TableInfo};

    use super::{Queue, TableKey, append, gather, queues, write_rounds};

    fn catalog(dir: &tempfile::TempDir) -> (Arc<Catalog>, TableInfo) {
        let key = CatalogKey::new(&SecretBytes::from_slice(&[7; 32])).expect("key");
        let catalog = Catalog::open(dir.path(), key).expect("catalog");
        catalog.create_project("p", false).expect("project");
        let schema = Schema::new(vec![Field::new("id", DataType::Int64, true)]);
        let table = catalog
            .create_table("p", "t", &schema, false)
            .expect("table");
        (catalog, table)
    }

    fn row(table: &TableInfo, id: i64) -> RecordBatch {
        RecordBatch::try_new(
            Arc::clone(&table.schema),
            vec![Arc::new(Int64Array::from(vec![id]))],
        )
        .expect("batch")
    }

    /// Marks a round of `key` as under way, so that appends queue behind it
    /// (as they do behind a round writing): the test then decides when the
    /// writer starts.
    fn hold(key: &TableKey) {
        queues().insert(
            key.clone(),
            Queue {
                writing: true,
                ..Queue::default()
            },
        );
    }

    fn waiting(key: &TableKey) -> usize {
        queues().get(key).map_or(0, |q| q.waiting.len())
    }

    type Spawned = tokio::task::JoinHandle<datafusion::error::Result<u64>>;

    /// One-row appends of `ids`, queued (behind [`hold`]) before this
    /// returns.
    fn queue(
        rt: &tokio::runtime::Runtime,
        (catalog, table): (&Arc<Catalog>, &TableInfo),
        ids: std::ops::Range<i64>,
    ) -> Vec<Spawned> {
        let key = (catalog.root().to_path_buf(), table.id);
        let before = waiting(&key);
        let spawned: Vec<Spawned> = ids
            .map(|i| {
                rt.spawn(append(
                    Arc::clone(catalog),
                    table.clone(),
                    None,
                    vec![row(table, i)],
                ))
            })
            .collect();
        while waiting(&key) < before + spawned.len() {
            std::thread::yield_now();
        }
        spawned
    }

    /// A table whose rounds are held ([`hold`]), and a runtime for its
    /// appends.
    struct Held {
        _dir: tempfile::TempDir,
        catalog: Arc<Catalog>,
        table: TableInfo,
        key: TableKey,
        rt: tokio::runtime::Runtime,
    }

    fn held() -> Held {
        let dir = tempfile::tempdir().expect("dir");
        let (catalog, table) = catalog(&dir);
        let key = (catalog.root().to_path_buf(), table.id);
        hold(&key);
        Held {
            _dir: dir,
            catalog,
            table,
            key,
            rt: tokio::runtime::Runtime::new().expect("runtime"),
        }
    }

    /// Starts the writer of `key`'s rounds, as a first append would.
    fn start_writer(rt: &tokio::runtime::Runtime, key: &TableKey) {
        let (handle, key) = (rt.handle().clone(), key.clone());
        rt.spawn_blocking(move || write_rounds(&handle, &key));
    }

    /// 64 appends that arrive while a round is under way are committed by
    /// the next round as one file, and each learns its own row count.
    #[test]
    fn appends_waiting_together_are_one_file() {
        let Held {
            _dir,
            catalog,
            table,
            key,
            rt,
        } = held();
        let appends = queue(&rt, (&catalog, &table), 0..64);
        start_writer(&rt, &key);
        for a in appends {
            assert_eq!(rt.block_on(a).expect("task").expect("append"), 1);
        }
        let files = catalog.files(&table).expect("files");
        assert_eq!(files.len(), 1, "one round, one file");
        assert_eq!(files[0].rows, 64);
    }

    /// After a round of several appends, the writer waits for as many
    /// (up to the delay); after a round of one (a lone client), or with as
    /// many waiting, it does not.
    #[test]
    fn a_writer_waits_for_a_round_to_fill_only_after_a_full_one() {
        let Held {
            _dir,
            catalog,
            table,
            key,
            rt,
        } = held();
        assert!(
            !gather(&key, 1),
            "a lone client's next round is not delayed"
        );
        assert!(gather(&key, 3), "nothing waits: the writer waits for more");
        let appends = queue(&rt, (&catalog, &table), 0..3);
        assert!(!gather(&key, 3), "as many as last time are waiting");
        start_writer(&rt, &key);
        for a in appends {
            assert_eq!(rt.block_on(a).expect("task").expect("append"), 1);
        }
    }

    /// A statement cancelled while its append waits is left out of the
    /// round; the others commit.
    #[test]
    fn a_cancelled_append_is_left_out() {
        let Held {
            _dir,
            catalog,
            table,
            key,
            rt,
        } = held();
        let kept = queue(&rt, (&catalog, &table), 1..2).remove(0);
        let cancelled = queue(&rt, (&catalog, &table), 2..3).remove(0);
        cancelled.abort();
        assert!(rt.block_on(cancelled).expect_err("aborted").is_cancelled());
        start_writer(&rt, &key);
        assert_eq!(rt.block_on(kept).expect("task").expect("append"), 1);
        let files = catalog.files(&table).expect("files");
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 1);
    }

    /// A round that cannot commit (the table was dropped) fails every
    /// append in it with the reason, and the next append starts afresh.
    #[test]
    fn a_failed_round_fails_each_of_its_appends() {
        let Held {
            _dir,
            catalog,
            table,
            key,
            rt,
        } = held();
        let appends = queue(&rt, (&catalog, &table), 0..3);
        assert!(catalog.drop_table("p", "t", false).expect("drop"));
        start_writer(&rt, &key);
        for a in appends {
            let e = rt.block_on(a).expect("task").expect_err("dropped table");
            assert!(e.to_string().contains("p.t"), "{e}");
        }
        // The writer replies, then finds nothing waiting and marks the
        // table's rounds finished: wait for that (bounded) before looking.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while queues().get(&key).is_some() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(queues().get(&key).is_none(), "no round left under way");
    }
}
