//! A table snapshot's scan as one plan node that carries its
//! [`ScanDescriptor`]: what a plan sent to another process holds instead of
//! the Parquet scans [`ScanDescriptor::plan`] builds, whose decryption
//! settings DataFusion's plan encoding drops and whose keys must never
//! travel.
//!
//! The node splits the snapshot's files into fixed partitions when it is
//! made, so each task of a distributed plan reads only its own files (a
//! Parquet scan would let one task's stream take over others' files). It
//! plans its partition's files when executed, in the process executing it,
//! with that process's [`ScanReader`]: its file store, its own KMS
//! connection, and plain files' block-tag keys derived from its catalog key
//! or, in a process without one (a cluster's executor), the ones the
//! coordinator sealed into the node.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::TaskContext;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::capability::Capability;
use super::scan_reader::{ReaderKeys, ScanReader};
use super::tag_keys::{BlockTagKeys, GivenTagKeys};
use super::{ProjectKeyAccess, ScanDescriptor, ScanKeys};
use crate::StorageError;

/// A snapshot's scan, split into partitions of whole files.
pub struct SnapshotScanExec {
    descriptor: ScanDescriptor,
    /// The files (indices into the descriptor's) each output partition reads.
    partitions: Vec<Vec<usize>>,
    /// How this process reads them (`None`: it cannot, as a scheduler).
    reader: Option<Arc<ScanReader>>,
    /// Signed where it was planned, checked where it is read.
    capability: Option<Capability>,
    /// Base64 of the plain files' block-tag keys, sealed by the coordinator
    /// for executors that hold no catalog key.
    tag_keys: Option<String>,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for SnapshotScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotScanExec")
            .field(
                "table",
                &format_args!("{}.{}", self.descriptor.project, self.descriptor.table),
            )
            .field("partitions", &self.partitions)
            .finish_non_exhaustive()
    }
}

/// What travels of a [`SnapshotScanExec`]: its descriptor and partitions,
/// and the capability its coordinator signed for them.
#[derive(Serialize, Deserialize)]
struct Encoded {
    descriptor: ScanDescriptor,
    partitions: Vec<Vec<usize>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    capability: Option<Capability>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag_keys: Option<String>,
}

impl SnapshotScanExec {
    /// A scan of `descriptor` in at most `target_partitions` partitions
    /// (files spread so each partition holds about as many bytes), read with
    /// `reader` when executed here.
    pub fn new(
        descriptor: ScanDescriptor,
        target_partitions: usize,
        reader: Option<Arc<ScanReader>>,
    ) -> Result<Self> {
        let partitions = spread(&descriptor, target_partitions);
        // Planned by a holder of the catalog key: it seals the plain files'
        // tag keys and signs the scan for the processes that will read it.
        let catalog = reader.as_ref().and_then(|r| r.catalog().map(|c| (r, c)));
        let (capability, tag_keys) = match catalog {
            Some((reader, catalog)) => {
                let tag_keys = match reader.sealer() {
                    Some(sealer) => GivenTagKeys::seal(catalog, sealer.as_ref(), &descriptor)?,
                    None => None,
                };
                let capability =
                    Capability::issue(catalog, &descriptor, &partitions, tag_keys.as_deref());
                (Some(capability), tag_keys)
            }
            None => (None, None),
        };
        Self::with_partitions(descriptor, partitions, reader, capability, tag_keys)
    }

    fn with_partitions(
        descriptor: ScanDescriptor,
        partitions: Vec<Vec<usize>>,
        reader: Option<Arc<ScanReader>>,
        capability: Option<Capability>,
        tag_keys: Option<String>,
    ) -> Result<Self> {
        descriptor.check().map_err(external)?;
        let mut seen = vec![false; descriptor.files.len()];
        for &i in partitions.iter().flatten() {
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                _ => {
                    return Err(external(StorageError::Corrupt(format!(
                        "the scan of {}.{} names file {i} twice or out of range",
                        descriptor.project, descriptor.table
                    ))));
                }
            }
        }
        if seen.contains(&false) || partitions.is_empty() {
            return Err(external(StorageError::Corrupt(format!(
                "the scan of {}.{} leaves files unread",
                descriptor.project, descriptor.table
            ))));
        }
        let schema = projected_schema(&descriptor)?;
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            descriptor,
            partitions,
            reader,
            capability,
            tag_keys,
            properties,
        })
    }

    /// The scan's descriptor.
    pub fn descriptor(&self) -> &ScanDescriptor {
        &self.descriptor
    }

    /// The node as bytes, to send to another process (no key material: see
    /// [`ScanDescriptor`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let encoded = Encoded {
            descriptor: self.descriptor.clone(),
            partitions: self.partitions.clone(),
            capability: self.capability.clone(),
            tag_keys: self.tag_keys.clone(),
        };
        serde_json::to_vec(&encoded).unwrap_or_else(|e| {
            // Strings, numbers and lists of them.
            unreachable!("a snapshot scan always serialises: {e}")
        })
    }

    /// A node from [`SnapshotScanExec::to_bytes`], checked as a descriptor
    /// is and with every file in exactly one partition, read with `reader`.
    pub fn from_bytes(bytes: &[u8], reader: Option<Arc<ScanReader>>) -> Result<Self> {
        let encoded: Encoded = serde_json::from_slice(bytes).map_err(|e| {
            external(StorageError::Corrupt(format!(
                "a snapshot scan does not parse: {e}"
            )))
        })?;
        if let Some(reader) = &reader {
            Capability::check(
                encoded.capability.as_ref(),
                reader.capability_key(),
                &encoded.descriptor,
                &encoded.partitions,
                encoded.tag_keys.as_deref(),
            )?;
        }
        Self::with_partitions(
            encoded.descriptor,
            encoded.partitions,
            reader,
            encoded.capability,
            encoded.tag_keys,
        )
    }

    /// The block-tag keys the node carries, opened, when this process holds
    /// no catalog key to derive them with.
    fn given_tag_keys(&self, reader: &ScanReader) -> Result<Option<GivenTagKeys>> {
        let (None, Some(sealed), Some(opener)) =
            (reader.catalog(), &self.tag_keys, reader.opener())
        else {
            return Ok(None);
        };
        GivenTagKeys::open(sealed, opener.as_ref(), &self.descriptor).map(Some)
    }

    /// The descriptor of partition `partition`'s files alone.
    fn partition_descriptor(&self, partition: usize) -> Result<ScanDescriptor> {
        let indices = self.partitions.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "partition {partition} of a scan of {} partitions",
                self.partitions.len()
            ))
        })?;
        let mut descriptor = self.descriptor.clone();
        descriptor.files = indices
            .iter()
            .map(|&i| self.descriptor.files[i].clone())
            .collect();
        Ok(descriptor)
    }
}

/// Splits the descriptor's files into at most `target` groups of about
/// equal bytes (largest first into the lightest group), each group's files
/// in the snapshot's order. A snapshot with no files has one empty group.
fn spread(descriptor: &ScanDescriptor, target: usize) -> Vec<Vec<usize>> {
    let files = &descriptor.files;
    let groups = target.clamp(1, files.len().max(1));
    let mut by_size: Vec<usize> = (0..files.len()).collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(files[i].bytes));
    let mut partitions: Vec<(u64, Vec<usize>)> = vec![(0, Vec::new()); groups];
    for i in by_size {
        if let Some(lightest) = partitions.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            lightest.0 += files[i].bytes;
            lightest.1.push(i);
        }
    }
    partitions
        .into_iter()
        .map(|(_, mut indices)| {
            indices.sort_unstable();
            indices
        })
        .collect()
}

fn projected_schema(descriptor: &ScanDescriptor) -> Result<SchemaRef> {
    let schema = descriptor.schema().map_err(external)?;
    Ok(match &descriptor.projection {
        Some(p) => Arc::new(schema.project(p)?),
        None => schema,
    })
}

fn external(e: StorageError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl DisplayAs for SnapshotScanExec {
    /// The table and how its files are split; never a file's digest or tags.
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SnapshotScanExec: table={}.{}, files={}, partitions={}",
            self.descriptor.project,
            self.descriptor.table,
            self.descriptor.files.len(),
            self.partitions.len()
        )
    }
}

impl ExecutionPlan for SnapshotScanExec {
    fn name(&self) -> &str {
        "SnapshotScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "a snapshot scan has no inputs".into(),
            ))
        }
    }

    /// Plans this partition's files with this process's reader and runs
    /// that plan's partitions one after another.
    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let descriptor = self.partition_descriptor(partition)?;
        let reader = self.reader.clone().ok_or_else(|| {
            DataFusionError::Execution(format!(
                "this process cannot read table {}.{}: it has no data directory to read \
                 table files with",
                descriptor.project, descriptor.table
            ))
        })?;
        // Which files each task read, for the cluster's log and its tests.
        tracing::info!(
            target: "sealhouse::scan",
            table = %format_args!("{}.{}", descriptor.project, descriptor.table),
            partition,
            files = %descriptor.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(","),
            "reading a scan partition"
        );
        let schema = self.schema();
        let given = self.given_tag_keys(&reader)?;
        let rows = async move {
            let state = SessionStateBuilder::new()
                .with_config(context.session_config().clone())
                .with_runtime_env(context.runtime_env())
                .build();
            let project_keys = match (&descriptor.encryption, &reader.keys) {
                (None, _) => None,
                (Some(setting), ReaderKeys::Any(keys)) => {
                    Some(Arc::new(keys.project(&descriptor.project, setting)?))
                }
                (Some(setting), ReaderKeys::Project(keys)) if keys.setting() == setting => {
                    Some(Arc::clone(keys))
                }
                (Some(_), ReaderKeys::OutOfReach(why)) => {
                    return Err(DataFusionError::Shared(Arc::clone(why)));
                }
                (Some(_), ReaderKeys::Project(_) | ReaderKeys::None) => {
                    return Err(DataFusionError::Execution(format!(
                        "table {}.{} is in an encrypted project and this process holds no \
                         keys of it",
                        descriptor.project, descriptor.table
                    )));
                }
            };
            let keys = ScanKeys {
                file_store: reader.file_store(),
                project: match &project_keys {
                    Some(keys) => ProjectKeyAccess::Held(keys),
                    None => ProjectKeyAccess::Unencrypted,
                },
                block_tags: match (reader.catalog(), &given) {
                    (Some(catalog), _) => Some(BlockTagKeys::Catalog(catalog)),
                    (None, Some(given)) => Some(BlockTagKeys::Given(given)),
                    (None, None) => None,
                },
            };
            let plan = descriptor.plan(&state, keys).await?;
            let count = plan.output_partitioning().partition_count();
            let streams = (0..count)
                .map(|i| plan.execute(i, Arc::clone(&context)))
                .collect::<Result<Vec<_>>>()?;
            Ok(futures::stream::iter(streams).flatten())
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            futures::stream::once(rows).try_flatten(),
        )))
    }

    /// Row counts recorded at commit: exact for a partition's files, as the
    /// Parquet scans report them.
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let files: Vec<usize> = match partition {
            Some(p) => self.partitions.get(p).cloned().unwrap_or_default(),
            None => (0..self.descriptor.files.len()).collect(),
        };
        let rows: u64 = files.iter().map(|&i| self.descriptor.files[i].rows).sum();
        let bytes: u64 = files.iter().map(|&i| self.descriptor.files[i].bytes).sum();
        let rows = match self.descriptor.limit {
            Some(limit) if (limit as u64) < rows => Precision::Inexact(limit),
            _ => Precision::Exact(rows as usize),
        };
        Ok(Arc::new(
            Statistics::new_unknown(&self.schema())
                .with_num_rows(rows)
                .with_total_byte_size(Precision::Inexact(bytes as usize)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A descriptor of table 7 with files of these sizes.
    fn descriptor(sizes: &[u64]) -> ScanDescriptor {
        let mut d = ScanDescriptor::from_bytes(include_bytes!(
            "../../../../fuzz/seeds/scan_descriptor/aes256"
        ))
        .expect("the seed parses");
        let template = d.files[0].clone();
        d.limit = None;
        d.files = sizes
            .iter()
            .enumerate()
            .map(|(i, &bytes)| {
                let mut f = template.clone();
                f.path = format!("tables/7/{i:032x}.parquet");
                f.bytes = bytes;
                f.rows = bytes / 10;
                f
            })
            .collect();
        d
    }

    proptest! {
        #[test]
        fn every_file_is_in_exactly_one_partition_and_sizes_are_balanced(
            sizes in proptest::collection::vec(1u64..1_000_000, 0..40),
            target in 0usize..20,
        ) {
            let d = descriptor(&sizes);
            let parts = spread(&d, target);
            prop_assert!(!parts.is_empty());
            prop_assert!(parts.len() <= target.max(1));
            prop_assert!(parts.len() <= sizes.len().max(1));
            let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
            all.sort_unstable();
            prop_assert_eq!(all, (0..sizes.len()).collect::<Vec<_>>());
            // Greedy largest-first: no partition exceeds another by more
            // than the largest file.
            let bytes: Vec<u64> = parts.iter().map(|p| p.iter().map(|&i| sizes[i]).sum()).collect();
            if let (Some(max), Some(min), Some(largest)) =
                (bytes.iter().max(), bytes.iter().min(), sizes.iter().max())
            {
                prop_assert!(max - min <= *largest);
            }
            // It travels and comes back the same.
            let node = SnapshotScanExec::new(d, target, None).expect("a valid scan");
            let again = SnapshotScanExec::from_bytes(&node.to_bytes(), None).expect("decodes");
            prop_assert_eq!(&again.partitions, &node.partitions);
            prop_assert_eq!(again.descriptor(), node.descriptor());
            let total: u64 = sizes.iter().map(|s| s / 10).sum();
            let stats = again.partition_statistics(None).expect("statistics");
            prop_assert_eq!(stats.num_rows, Precision::Exact(total as usize));
            // Under a limit, at most the limit (and not exactly: a
            // partition stops early).
            let mut limited = again.descriptor().clone();
            limited.limit = Some(5);
            let node = SnapshotScanExec::new(limited, target, None).expect("a valid scan");
            let stats = node.partition_statistics(None).expect("statistics");
            let want = if total > 5 { Precision::Inexact(5) } else { Precision::Exact(total as usize) };
            prop_assert_eq!(stats.num_rows, want);
        }
    }

    #[test]
    fn partitions_that_skip_repeat_or_invent_files_are_refused() {
        let d = descriptor(&[10, 20, 30]);
        for (partitions, why) in [
            (vec![vec![0, 1]], "leaves files unread"),
            (vec![vec![0, 1], vec![1, 2]], "twice or out of range"),
            (vec![vec![0, 1, 2, 3]], "twice or out of range"),
            (vec![], "leaves files unread"),
        ] {
            let bytes = serde_json::to_vec(&Encoded {
                descriptor: d.clone(),
                partitions,
                capability: None,
                tag_keys: None,
            })
            .expect("encodes");
            let e = SnapshotScanExec::from_bytes(&bytes, None)
                .expect_err("refused")
                .to_string();
            assert!(e.contains(why), "{e}");
            assert!(e.contains("sales.orders"), "{e}");
        }
        let e = SnapshotScanExec::from_bytes(b"{", None).expect_err("refused");
        assert!(e.to_string().contains("does not parse"), "{e}");
    }

    #[test]
    fn a_process_reads_only_scans_signed_for_it_with_its_catalog_key() {
        let open = || {
            let dir = tempfile::tempdir().expect("tempdir");
            let catalog =
                crate::Catalog::open(dir.path(), crate::CatalogKey::random().expect("key"))
                    .expect("opens");
            (dir, Arc::new(ScanReader::new(catalog, ReaderKeys::None)))
        };
        let (_dir, reader) = open();
        let d = descriptor(&[10, 20, 30]);
        let signed = SnapshotScanExec::new(d.clone(), 2, Some(Arc::clone(&reader)))
            .expect("valid")
            .to_bytes();
        SnapshotScanExec::from_bytes(&signed, Some(Arc::clone(&reader))).expect("verifies");
        // The scheduler (no reader) passes it on as it came.
        let passed = SnapshotScanExec::from_bytes(&signed, None).expect("decodes");
        assert_eq!(passed.to_bytes(), signed);

        let refused = |bytes: &[u8], reader: &Arc<ScanReader>, why: &str| {
            let e = SnapshotScanExec::from_bytes(bytes, Some(Arc::clone(reader)))
                .expect_err(why)
                .to_string();
            assert!(e.contains("the scan of sales.orders is refused"), "{e}");
            assert!(e.contains(why), "{e}");
        };
        // Made without the key (as anyone reaching the scheduler could).
        let unsigned = SnapshotScanExec::new(d.clone(), 2, None)
            .expect("valid")
            .to_bytes();
        refused(&unsigned, &reader, "carries no capability");
        // Edited after signing: another split, another file, a later expiry.
        let mut value: serde_json::Value = serde_json::from_slice(&signed).expect("json");
        let edits: [(&str, serde_json::Value); 3] = [
            ("/partitions", serde_json::json!([[0, 1, 2]])),
            (
                "/descriptor/files/0/path",
                serde_json::json!("tables/7/ffffffffffffffffffffffffffffffff.parquet"),
            ),
            ("/capability/expires_at", serde_json::json!(i64::MAX)),
        ];
        for (pointer, edit) in edits {
            let original = value.pointer(pointer).expect(pointer).clone();
            *value.pointer_mut(pointer).expect(pointer) = edit;
            let bytes = serde_json::to_vec(&value).expect("json");
            refused(
                &bytes,
                &reader,
                "not signed for it with this warehouse's key",
            );
            *value.pointer_mut(pointer).expect(pointer) = original;
        }
        // Another warehouse's key.
        let (_other_dir, other) = open();
        refused(
            &signed,
            &other,
            "not signed for it with this warehouse's key",
        );
        // Signed, but expired.
        let expires_at = crate::catalog::now() - 1;
        let partitions = vec![vec![0, 2], vec![1]];
        let catalog = reader.catalog().expect("a catalog");
        let capability = Capability::sign(catalog, &d, &partitions, None, expires_at);
        let expired = serde_json::to_vec(&Encoded {
            descriptor: d,
            partitions,
            capability: Some(capability),
            tag_keys: None,
        })
        .expect("json");
        refused(&expired, &reader, "has expired");
    }

    #[test]
    fn the_fuzz_seeds_decode_as_documented() {
        let node = SnapshotScanExec::from_bytes(
            include_bytes!("../../../../fuzz/seeds/snapshot_scan/three_files"),
            None,
        )
        .expect("the seed decodes");
        assert_eq!(node.partitions, vec![vec![0, 2], vec![1]]);
        assert_eq!(node.descriptor().files.len(), 3);
    }

    #[test]
    fn a_scan_without_a_reader_says_so_when_run_and_shows_no_digest() {
        let d = descriptor(&[10, 20]);
        let node = SnapshotScanExec::new(d, 2, None).expect("valid");
        let e = match node.execute(0, Arc::new(TaskContext::default())) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a scan without a reader ran"),
        };
        assert!(e.contains("cannot read table sales.orders"), "{e}");
        let shown = datafusion::physical_plan::displayable(&node)
            .indent(true)
            .to_string();
        assert_eq!(
            shown.trim(),
            "SnapshotScanExec: table=sales.orders, files=2, partitions=2"
        );
        assert!(!format!("{node:?}").contains("0011223344"), "{node:?}");
    }
}
