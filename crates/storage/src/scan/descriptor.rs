//! The scan descriptor: a serialisable description of a table snapshot to
//! read. It names files, digests, block tags and the project's key ARN;
//! it holds no key material and no secret (the block tags are MACs, the
//! key ARN a name), so it can travel in a plan to another process.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::ScanPredicate;
use crate::encryption::{ProjectEncryption, StorageAlgorithm};
use crate::{ColumnType, DataFile, StorageError, StorageLocation, TableInfo, scan_schema};

/// A table snapshot to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanDescriptor {
    /// Where the table's files live: the data directory, or a bucket (the
    /// reading process brings its own credentials).
    pub location: StorageLocation,
    /// The table's id.
    pub table_id: i64,
    /// Its project (named in errors).
    pub project: String,
    /// Its name (named in errors).
    pub table: String,
    /// Its columns: name and stored type (`BIGINT`, `STRING`, ...).
    pub columns: Vec<(String, String)>,
    /// Mean bytes per value of each column ([`TableInfo::widths`]), which
    /// with the types fixes the scan's schema; empty: none measured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widths: Vec<u32>,
    /// The project's storage encryption (its key ARN), if it has any.
    pub encryption: Option<ProjectEncryption>,
    /// The snapshot's files.
    pub files: Vec<ScanFile>,
    /// The columns to read, by index (`None`: all).
    pub projection: Option<Vec<usize>>,
    /// At most this many rows are needed.
    pub limit: Option<usize>,
    /// What the query keeps of the rows, for skipping row groups and pages
    /// (the query still filters every row read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<ScanPredicate>,
}

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanFile {
    /// Its key under the descriptor's location
    /// (`tables/<table id>/<file id>.parquet`).
    pub path: String,
    /// Rows it holds (recorded at commit).
    pub rows: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// How it is encrypted (`None`: plain Parquet).
    pub encryption: Option<StorageAlgorithm>,
    /// Hex SHA-256 of its footer region or segmented header, pinned at commit.
    pub pinned_sha256: Option<String>,
    /// Base64 of a plain file's block tags.
    pub block_tags: Option<String>,
}

impl ScanDescriptor {
    /// A scan of all of `files` of `table` (at `location`), whose project
    /// is encrypted as `encryption`.
    pub fn new(
        location: &StorageLocation,
        table: &TableInfo,
        encryption: Option<ProjectEncryption>,
        files: &[DataFile],
    ) -> Self {
        Self {
            location: location.clone(),
            table_id: table.id,
            project: table.project.clone(),
            table: table.name.clone(),
            columns: table
                .columns
                .iter()
                .map(|(name, ty)| (name.clone(), ty.to_string()))
                .collect(),
            widths: if table.widths.iter().all(|&w| w == 0) {
                Vec::new()
            } else {
                table.widths.clone()
            },
            encryption,
            files: files.iter().map(ScanFile::of).collect(),
            projection: None,
            limit: None,
            predicate: None,
        }
    }

    /// The same scan reading only the columns `projection` names.
    #[must_use]
    pub fn with_projection(mut self, projection: Option<Vec<usize>>) -> Self {
        self.projection = projection;
        self
    }

    /// The same scan needing at most `limit` rows.
    #[must_use]
    pub fn with_limit(mut self, limit: Option<usize>) -> Self {
        self.limit = limit;
        self
    }

    /// The same scan, whose reader may skip what `predicate` rules out.
    #[must_use]
    pub fn with_predicate(mut self, predicate: Option<ScanPredicate>) -> Self {
        self.predicate = predicate;
        self
    }

    /// The descriptor as bytes (JSON), to send to another process.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|e| {
            // Every field is a string, a number or a list of them.
            unreachable!("a scan descriptor always serialises: {e}")
        })
    }

    /// A descriptor from [`ScanDescriptor::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StorageError> {
        serde_json::from_slice(bytes)
            .map_err(|e| StorageError::Corrupt(format!("a scan descriptor does not parse: {e}")))
    }

    /// The schema the scan produces: all the table's columns, each as
    /// [`ColumnType::scan_type`] for its width (the reader decodes BINARY
    /// straight into `BinaryView`, wide text into `Utf8View`).
    pub fn schema(&self) -> Result<SchemaRef, StorageError> {
        if !self.widths.is_empty() && self.widths.len() != self.columns.len() {
            return Err(StorageError::Corrupt(format!(
                "the scan descriptor of {}.{} gives {} column widths for {} columns",
                self.project,
                self.table,
                self.widths.len(),
                self.columns.len()
            )));
        }
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (name, ty))| {
                let ty = ColumnType::parse(ty).ok_or_else(|| {
                    StorageError::Corrupt(format!(
                        "column {name} of {}.{} has unknown type {ty}",
                        self.project, self.table
                    ))
                })?;
                Ok((name.as_str(), ty, self.widths.get(i).copied().unwrap_or(0)))
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        Ok(scan_schema(columns))
    }

    /// The files as the catalog describes them.
    pub(crate) fn data_files(&self) -> Result<Vec<DataFile>, StorageError> {
        self.files
            .iter()
            .map(|f| f.data_file(self.table_id))
            .collect()
    }

    /// Checks what planning checks before any file is opened: the columns'
    /// types, the projection, the predicate's columns and constants, and that every file is one of the table's
    /// (`tables/<table id>/<name>.parquet` under the location) with a
    /// well-formed digest and tag list. (A descriptor from another
    /// process is checked again when planned.)
    pub fn check(&self) -> Result<(), StorageError> {
        let schema = self.schema()?;
        if let Some(bad) = self
            .projection
            .iter()
            .flatten()
            .find(|&&i| i >= schema.fields().len())
        {
            return Err(StorageError::Corrupt(format!(
                "the scan descriptor projects column {bad} of {}.{}, which has {} columns",
                self.project,
                self.table,
                schema.fields().len()
            )));
        }
        if let Some(predicate) = &self.predicate {
            predicate.to_expr(&schema)?;
        }
        self.data_files().map(|_| ())
    }
}

impl ScanFile {
    fn of(file: &DataFile) -> Self {
        Self {
            path: file.key.clone(),
            rows: file.rows,
            bytes: file.bytes,
            encryption: file.encryption,
            pinned_sha256: file.pinned_sha256.map(hex::encode),
            block_tags: file.block_tags.as_deref().map(|t| STANDARD.encode(t)),
        }
    }

    fn data_file(&self, table_id: i64) -> Result<DataFile, StorageError> {
        let damaged = |what: &str| {
            StorageError::Corrupt(format!(
                "the scan descriptor's file {} has {what}",
                self.path
            ))
        };
        let relative = Path::new(&self.path);
        // A descriptor names its table's files, never anything else.
        if relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(damaged("a path outside the table's files"));
        }
        if crate::files::table_id_of_key(&self.path) != Some(table_id)
            || !self.path.ends_with(".parquet")
        {
            return Err(damaged(&format!(
                "a path that is not a file of table {table_id}"
            )));
        }
        let pinned_sha256 = match &self.pinned_sha256 {
            None => None,
            Some(text) => Some(
                hex::decode(text)
                    .ok()
                    .and_then(|d| <[u8; 32]>::try_from(d).ok())
                    .ok_or_else(|| damaged("a malformed digest"))?,
            ),
        };
        let block_tags = match &self.block_tags {
            None => None,
            Some(text) => Some(Arc::from(
                STANDARD
                    .decode(text)
                    .map_err(|_| damaged("malformed block tags"))?,
            )),
        };
        Ok(DataFile {
            key: self.path.clone(),
            rows: self.rows,
            bytes: self.bytes,
            encryption: self.encryption,
            pinned_sha256,
            block_tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};
    use proptest::prelude::*;

    #[test]
    fn the_fuzz_seeds_parse_and_check_as_documented() {
        let good = ScanDescriptor::from_bytes(include_bytes!(
            "../../../../fuzz/seeds/scan_descriptor/aes256"
        ))
        .expect("parses");
        good.check().expect("a descriptor under its root");
        assert_eq!(good.schema().expect("schema").fields().len(), 3);
        assert_eq!(
            good.location,
            StorageLocation::Local("/data/warehouse".into())
        );
        let files = good.data_files().expect("files");
        assert_eq!(
            files[0].key,
            "tables/7/5f0c8e1e9c2b4c5a8b5e6f7a8b9c0d1e.parquet"
        );
        assert_eq!(files[0].pinned_sha256.expect("digest")[1], 0x11);

        let escape = ScanDescriptor::from_bytes(include_bytes!(
            "../../../../fuzz/seeds/scan_descriptor/escape"
        ))
        .expect("parses");
        let e = escape.check().expect_err("refused");
        assert!(e.to_string().contains("projects column 5"), "{e}");
        let mut escape = escape;
        escape.projection = None;
        let e = escape.check().expect_err("refused");
        assert!(e.to_string().contains("outside the table's files"), "{e}");
        let filtered = ScanDescriptor::from_bytes(include_bytes!(
            "../../../../fuzz/seeds/scan_descriptor/predicate"
        ))
        .expect("parses");
        filtered
            .check()
            .expect("a predicate on the table's columns");
        let text = filtered
            .predicate
            .as_ref()
            .expect("a predicate")
            .to_expr(&filtered.schema().expect("schema"))
            .expect("an expression")
            .to_string();
        assert!(text.contains("id >= Int64(100)"), "{text}");
        assert!(
            text.contains("NOT IN ([Utf8(\"a\"), Utf8(\"b\")])"),
            "{text}"
        );
        let mut unknown = filtered.clone();
        unknown.predicate = Some(ScanPredicate::IsNull {
            column: "nope".into(),
            negated: false,
        });
        let e = unknown.check().expect_err("refused");
        assert!(e.to_string().contains("column nope"), "{e}");

        let mut other = good.clone();
        other.files[0].path = "tables/8/5f0c8e1e9c2b4c5a8b5e6f7a8b9c0d1e.parquet".into();
        let e = other.check().expect_err("another table's file");
        assert!(e.to_string().contains("not a file of table 7"), "{e}");
    }

    fn data_file() -> impl Strategy<Value = DataFile> {
        (
            "[a-f0-9]{32}",
            any::<u64>(),
            any::<u64>(),
            prop::option::of(prop::sample::select(StorageAlgorithm::ALL.to_vec())),
            prop::option::of(any::<[u8; 32]>()),
            prop::option::of(prop::collection::vec(any::<u8>(), 0..64)),
        )
            .prop_map(|(id, rows, bytes, encryption, pinned, tags)| DataFile {
                key: format!("tables/3/{id}.parquet"),
                rows,
                bytes,
                encryption,
                pinned_sha256: pinned,
                block_tags: tags.map(Arc::from),
            })
    }

    proptest! {
        #[test]
        fn files_survive_the_trip_through_bytes(files in prop::collection::vec(data_file(), 0..8)) {
            let table = TableInfo {
                id: 3,
                project: "p".into(),
                name: "t".into(),
                columns: vec![
                    ("id".into(), ColumnType::BigInt),
                    ("x".into(), ColumnType::String),
                ],
                schema: Arc::new(Schema::new(vec![
                    Field::new("id", DataType::Int64, true),
                    Field::new("x", DataType::Utf8, true),
                ])),
                widths: vec![0, 1024],
                created_at: 0,
            };
            let location = StorageLocation::S3 { bucket: "warehouse".into(), prefix: "a/b".into() };
            let descriptor = ScanDescriptor::new(&location, &table, None, &files)
                .with_projection(Some(vec![0]))
                .with_limit(Some(5))
                .with_predicate(Some(ScanPredicate::Compare {
                    column: "id".into(),
                    op: super::super::Comparison::Lt,
                    value: "10".into(),
                }));
            let back = ScanDescriptor::from_bytes(&descriptor.to_bytes()).expect("parses");
            prop_assert_eq!(&back, &descriptor);
            back.check().expect("checks");
            // The widths travel: the wide text column is read as views in
            // the other process too.
            let schema = back.schema().expect("schema");
            prop_assert_eq!(&schema, &table.scan_schema());
            prop_assert_eq!(schema.field(1).data_type(), &DataType::Utf8View);
            let again = back.data_files().expect("files");
            prop_assert_eq!(again.len(), files.len());
            for (a, b) in again.iter().zip(&files) {
                prop_assert_eq!(&a.key, &b.key);
                prop_assert_eq!((a.rows, a.bytes, a.encryption), (b.rows, b.bytes, b.encryption));
                prop_assert_eq!(a.pinned_sha256, b.pinned_sha256);
                prop_assert_eq!(a.block_tags.as_deref(), b.block_tags.as_deref());
            }
        }
    }
}
