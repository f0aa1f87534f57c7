//! A session's memory: its statements share a bounded pool, and nothing
//! they compute is ever written to a temporary file (it can hold decrypted
//! values): an operator that would spill fails with the limit instead.

use std::sync::Arc;

use datafusion::execution::SessionStateBuilder;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{GreedyMemoryPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use super::SqlSession;
use crate::SqlError;

/// A session's runtime: no disk manager, no memory limit until
/// [`SqlSession::limit_memory`].
pub(super) fn runtime() -> Arc<RuntimeEnv> {
    RuntimeEnvBuilder::new()
        .with_disk_manager_builder(
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
        )
        .build_arc()
        .expect("a runtime without a disk manager or limits always builds")
}

impl SqlSession {
    /// Bounds the memory this session's statements may hold at once in
    /// sorts, joins, aggregates and the like (DataFusion's memory pool) to
    /// `bytes`; a statement needing more fails with
    /// [`SqlError::OutOfMemory`] and the session goes on. Call it before
    /// the first statement.
    pub fn limit_memory(&mut self, bytes: usize) -> Result<(), SqlError> {
        let state = self.ctx.state();
        let pool = TrackConsumersPool::new(
            GreedyMemoryPool::new(bytes),
            std::num::NonZeroUsize::new(3).unwrap_or(std::num::NonZeroUsize::MIN),
        );
        let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_pool(Arc::new(pool))
            .build_arc()?;
        let limited = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime)
            .build();
        *self.ctx.state_ref().write() = limited;
        Ok(())
    }
}
