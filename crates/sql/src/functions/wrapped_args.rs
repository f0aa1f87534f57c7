//! What the wrapped-keyset functions share: the session's wrapper (absent
//! when the session has no KMS) and the role arguments of a row.

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;

use super::args::{Text, exec};
use crate::wrapped::{KeysetWrapper, RoleArgs};

/// The session's keyset wrapper (its access to the KMS as its identity),
/// if it has one.
#[derive(Clone, Default)]
pub(crate) struct SessionWrapper(pub(crate) Option<Arc<KeysetWrapper>>);

impl SessionWrapper {
    pub(crate) fn get(&self, function: &str) -> Result<&KeysetWrapper> {
        self.0.as_deref().ok_or_else(|| {
            exec(
                function,
                "this session has no KMS: wrapped keysets need a session opened with key services (the sealhouse CLI and server provide them)",
            )
        })
    }
}

/// What every wrapped-keyset function takes: `kms_cmk_arn` and `role_arn`
/// first, and an optional `role_chain` last.
pub(crate) struct KmsArgs<'a> {
    cmks: Text<'a>,
    roles: Text<'a>,
    chains: Option<Text<'a>>,
}

impl<'a> KmsArgs<'a> {
    /// The arguments, with `role_chain` (if given) at `chain_at`.
    pub(crate) fn of(args: &'a [ColumnarValue], chain_at: usize) -> Result<Self> {
        Ok(Self {
            cmks: Text::of(&args[0])?,
            roles: Text::of(&args[1])?,
            chains: args.get(chain_at).map(Text::of).transpose()?,
        })
    }

    /// `row`'s CMK ARN and role chain; `None` when either ARN is NULL (the
    /// result is NULL).
    pub(crate) fn row(&self, row: usize) -> Option<(&'a str, RoleArgs<'a>)> {
        let roles = RoleArgs {
            role_arn: self.roles.get(row)?,
            role_chain: self.chains.as_ref().and_then(|c| c.get(row)),
        };
        Some((self.cmks.get(row)?, roles))
    }
}
