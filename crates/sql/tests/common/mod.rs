//! Helpers for the SQL tests: a warehouse on a fresh directory, and access
//! to result cells.

#![allow(dead_code, unreachable_pub)]

mod backend;
mod identity;
mod session;

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use sealhouse_sql::SqlSession;
use sealhouse_sql::format::ResultSet;

#[allow(unused_imports)]
pub use backend::{Backend, TableFiles};
#[allow(unused_imports)]
pub use identity::{Identities, account, root, services, user};
#[allow(unused_imports)]
pub use session::{Session, WorldSession};

/// The account most tests act in (the spec's examples' account A), and a
/// second one for what crosses accounts.
pub const ACCOUNT_A: &str = "1892732288741234";
pub const ACCOUNT_B: &str = "1885386054511234";

/// The same catalog key on every open of a fixture's directory, as one KMS
/// root key gives.
pub fn catalog_key() -> sealhouse_storage::CatalogKey {
    sealhouse_storage::CatalogKey::new(&sealhouse_crypto::SecretBytes::from_slice(&[3; 32]))
        .expect("catalog key")
}

/// The runtime the tests run statements on: two workers, as CI's cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A warehouse on a fresh directory, as its owner.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    session: Session,
    pub runtime: tokio::runtime::Runtime,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let warehouse = SqlSession::open(dir.path(), catalog_key()).expect("open");
        let runtime = runtime();
        Self {
            session: Session::new(&runtime, warehouse),
            dir,
            runtime,
        }
    }

    pub fn reopen(&mut self) {
        self.session.warehouse = SqlSession::open(self.dir.path(), catalog_key()).expect("reopen");
    }
}

impl std::ops::Deref for Fixture {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl std::ops::DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

/// A cell as bytes (BINARY or STRING); `None` for NULL.
pub fn cell(rows: &ResultSet, row: usize, col: usize) -> Option<Vec<u8>> {
    let mut seen = 0;
    for batch in &rows.batches {
        if row < seen + batch.num_rows() {
            let column = batch.column(col);
            let r = row - seen;
            if column.is_null(r) {
                return None;
            }
            return Some(match column.data_type() {
                DataType::Binary => column.as_binary::<i32>().value(r).to_vec(),
                DataType::BinaryView => column.as_binary_view().value(r).to_vec(),
                DataType::Utf8 => column.as_string::<i32>().value(r).as_bytes().to_vec(),
                other => {
                    let f = datafusion::arrow::util::display::ArrayFormatter::try_new(
                        column.as_ref(),
                        &Default::default(),
                    )
                    .expect("formatter");
                    let _ = other;
                    f.value(r).to_string().into_bytes()
                }
            });
        }
        seen += batch.num_rows();
    }
    panic!("row {row} out of range ({seen} rows)")
}

pub fn text(rows: &ResultSet, row: usize, col: usize) -> String {
    String::from_utf8(cell(rows, row, col).expect("not NULL")).expect("utf-8")
}

pub fn testdata(relative: &str) -> PathBuf {
    std::env::var_os("SEALHOUSE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        })
        .join(relative)
}

pub fn repo_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}
