//! The plan codec of every process of a Sealhouse cluster: table scans
//! travel as [`SnapshotScanExec`] (the storage crate's scan descriptor and
//! its file partitions; no key material), everything else as Ballista
//! encodes it.
//!
//! Functions: DataFusion's own travel by name, as Ballista sends them.
//! Sealhouse's travel marked as Sealhouse's, so an executor runs the same
//! function the coordinator planned (the bounded REPEAT / LPAD / RPAD
//! replace DataFusion's under the same names). A keyset constant they take
//! arrives sealed by the coordinator (`sealhouse_sql`'s sealed keysets),
//! and executors open it through the KMS. The wrapped-keyset functions,
//! which act through the session's role chain, are refused.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::TaskContext;
use datafusion::logical_expr::ScalarUDF;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use sealhouse_sql::KeysetUnsealer;
use sealhouse_storage::{ScanReader, SnapshotScanExec};

/// The first byte of an encoded node: whose it is.
const BALLISTA_NODE: u8 = 0;
const SNAPSHOT_SCAN: u8 = 1;

/// What an encoded function carries when it is one of Sealhouse's.
const SEALHOUSE_FUNCTION: &[u8] = b"sealhouse";

/// Sealhouse's physical codec, delegating to Ballista's.
#[derive(Debug)]
pub struct SealhouseCodec {
    ballista: BallistaPhysicalExtensionCodec,
    /// How scans decoded here read their files (`None`: they cannot, as in
    /// the scheduler).
    reader: Option<Arc<ScanReader>>,
    /// Sealhouse's functions an executor may run, by lowercase name.
    functions: HashMap<String, Arc<ScalarUDF>>,
    /// Every function name Sealhouse registers (lowercase).
    own: HashSet<String>,
}

impl SealhouseCodec {
    /// The codec of a process whose scans read with `reader`, and whose
    /// functions open sealed keysets with `unsealer` (`None` for what runs
    /// no task: the scheduler, and a coordinator's encoding).
    pub fn new(reader: Option<Arc<ScanReader>>, unsealer: Option<Arc<KeysetUnsealer>>) -> Self {
        let functions = sealhouse_sql::cluster_functions(unsealer)
            .into_iter()
            .map(|f| (f.name().to_ascii_lowercase(), Arc::new(f)))
            .collect();
        Self {
            ballista: BallistaPhysicalExtensionCodec::default(),
            reader,
            functions,
            own: sealhouse_sql::own_function_names().into_iter().collect(),
        }
    }
}

impl PhysicalExtensionCodec for SealhouseCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.split_first() {
            Some((&SNAPSHOT_SCAN, scan)) if inputs.is_empty() => Ok(Arc::new(
                SnapshotScanExec::from_bytes(scan, self.reader.clone())?,
            )),
            Some((&BALLISTA_NODE, node)) => self.ballista.try_decode(node, inputs, ctx),
            _ => Err(DataFusionError::Internal(
                "a plan node of the cluster's plan is neither Ballista's nor a table scan".into(),
            )),
        }
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(scan) = node.downcast_ref::<SnapshotScanExec>() {
            buf.push(SNAPSHOT_SCAN);
            buf.extend_from_slice(&scan.to_bytes());
            Ok(())
        } else {
            buf.push(BALLISTA_NODE);
            self.ballista.try_encode(node, buf)
        }
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        let name = node.name().to_ascii_lowercase();
        if self.functions.contains_key(&name) {
            buf.extend_from_slice(SEALHOUSE_FUNCTION);
            Ok(())
        } else if self.own.contains(&name) {
            Err(DataFusionError::NotImplemented(format!(
                "{} acts through your role chain, which stays with the session: it does not \
                 run on a cluster; run this statement without --cluster",
                node.name().to_ascii_uppercase()
            )))
        } else {
            // DataFusion's own: executors find it by name.
            Ok(())
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        if buf == SEALHOUSE_FUNCTION {
            self.functions
                .get(&name.to_ascii_lowercase())
                .cloned()
                .ok_or_else(|| {
                    DataFusionError::Plan(format!(
                        "the plan names Sealhouse function {name}, which executors do not run"
                    ))
                })
        } else {
            self.ballista.try_decode_udf(name, buf)
        }
    }
}
