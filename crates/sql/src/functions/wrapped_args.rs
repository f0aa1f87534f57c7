//! What the wrapped-keyset functions share: the session's wrapper (absent
//! when the session has no KMS) and the role arguments of a row.

use std::sync::Arc;

use datafusion::error::Result;

use super::args::{Text, exec};
use crate::wrapped::{KeysetWrapper, RoleArgs};

/// The session's access to the KMS, if it has one.
#[derive(Clone, Default)]
pub(crate) struct WrapperSlot(pub(crate) Option<Arc<KeysetWrapper>>);

impl WrapperSlot {
    pub(crate) fn get(&self, function: &str) -> Result<&KeysetWrapper> {
        self.0.as_deref().ok_or_else(|| {
            exec(
                function,
                "this session has no KMS: wrapped keysets need a session opened with key services (the sealhouse CLI and server provide them)",
            )
        })
    }
}

/// The `role_arn` and optional `role_chain` of `row`; `None` when
/// `role_arn` is NULL (the result is NULL).
pub(crate) fn role_args<'a>(
    role_arns: &Text<'a>,
    chains: Option<&Text<'a>>,
    row: usize,
) -> Option<RoleArgs<'a>> {
    Some(RoleArgs {
        role_arn: role_arns.get(row)?,
        role_chain: chains.and_then(|c| c.get(row)),
    })
}
