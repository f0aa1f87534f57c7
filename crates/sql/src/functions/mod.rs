//! The SQL functions Sealhouse adds to DataFusion, one per file. Each is
//! documented in docs/sql-functions.md.

mod add_key_to_keyset;
mod args;
mod base64;
mod bounded_text;
mod constant_check;
mod enhanced_sym_decrypt;
mod enhanced_sym_encrypt;
mod enhanced_sym_reencrypt;
mod get_json_object;
mod hex;
mod keyset_arg;
pub(crate) mod keyset_cache;
mod keyset_from_json;
mod keyset_handles;
mod keyset_key_state;
mod keyset_rows;
mod keyset_to_json;
mod new_keyset;
mod new_wrapped_keyset;
mod rewrap_keyset;
mod rotate_keyset;
mod rotate_wrapped_keyset;
mod sym_crypt;
mod udf;
mod use_wrapped_keyset;
mod wrapped_args;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;
use sealhouse_crypto::SecretBytes;

pub(crate) use args::{KEYSET_FIELD, exec, raise};
pub(crate) use constant_check::check_wrapped_keysets_constant;
use keyset_cache::KeysetCache;
use keyset_key_state::{KeyChange, KeysetKeyState};
use udf::udf;
use wrapped_args::SessionWrapper;

use crate::sealed_keysets::KeysetUnsealer;
use crate::wrapped::KeysetWrapper;

/// A session's functions and the state they share: one keyset cache, the
/// statement's keyset references, and the session's KMS access.
pub(crate) struct FunctionSet {
    pub(crate) udfs: Vec<ScalarUDF>,
    cache: Arc<KeysetCache>,
    wrapper: SessionWrapper,
}

impl FunctionSet {
    /// Forgets the statement's keyset references and unwraps; called after
    /// every statement, successful or not.
    pub(crate) fn end_statement(&self) {
        drop(self.statement_end());
    }

    /// What ends the statement when dropped: for a statement whose rows
    /// are still being computed after it returned (a streamed query).
    pub(crate) fn statement_end(&self) -> StatementEnd {
        StatementEnd {
            cache: Arc::clone(&self.cache),
            wrapper: self.wrapper.0.clone(),
        }
    }
}

/// Ends a statement's keyset references and unwraps when dropped.
pub(crate) struct StatementEnd {
    cache: Arc<KeysetCache>,
    wrapper: Option<Arc<KeysetWrapper>>,
}

impl Drop for StatementEnd {
    fn drop(&mut self) {
        self.cache.handles.clear();
        if let Some(w) = &self.wrapper {
            w.end_statement();
        }
    }
}

/// The functions a cluster's executors run: every function but those
/// that act through the session's role chain (the wrapped-keyset
/// functions), their keyset cache opening sealed keysets with `unsealer`.
pub fn cluster_functions(unsealer: Option<Arc<KeysetUnsealer>>) -> Vec<ScalarUDF> {
    all(None, unsealer)
        .udfs
        .into_iter()
        .filter(|f| !ROLE_CHAIN.contains(&f.name()))
        .collect()
}

/// The names (and aliases) of every function a session registers, some of
/// which replace DataFusion's own under the same name: a plan naming one
/// must not run where only DataFusion's are registered.
pub fn own_function_names() -> Vec<String> {
    all(None, None)
        .udfs
        .iter()
        .flat_map(|f| std::iter::once(f.name()).chain(f.aliases().iter().map(String::as_str)))
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The functions (lowercase) that act through the session's role chain and
/// KMS access: they run where the session is, never on a cluster.
pub(crate) const ROLE_CHAIN: &[&str] = &[
    "new_wrapped_keyset",
    "rewrap_keyset",
    "rotate_wrapped_keyset",
    "use_wrapped_keyset",
];

/// The functions (lowercase) that take a keyset first and read it through
/// the keyset cache, so a sealed keyset may stand in for it.
pub(crate) const SEALABLE: &[&str] = &[
    "enhanced_sym_encrypt",
    "enhanced_sym_decrypt",
    "try_enhanced_sym_decrypt",
    "enhanced_sym_reencrypt",
    "keyset_to_json",
];

/// The functions (lowercase) whose result holds key material when their
/// arguments give it: made on constants, it would be a constant of a plan.
pub(crate) const KEY_MATERIAL: &[&str] = &[
    "new_keyset",
    "keyset_from_json",
    "keyset_to_json",
    "add_key_to_keyset",
    "rotate_keyset",
    "enable_key_in_keyset",
    "disable_key_in_keyset",
    "destroy_key_in_keyset",
    "set_primary_key_in_keyset",
];

/// The functions (lowercase) taking a raw key, and its position.
pub(crate) const RAW_KEY: &[(&str, usize)] = &[("sym_encrypt", 1), ("sym_decrypt", 1)];

/// The names (lowercase) of the functions that hold keys, keysets or
/// session state.
pub(crate) fn keyset_function_names() -> std::collections::HashSet<String> {
    SEALABLE
        .iter()
        .chain(KEY_MATERIAL)
        .chain(ROLE_CHAIN)
        .chain(RAW_KEY.iter().map(|(name, _)| name))
        .map(|name| (*name).to_owned())
        .collect()
}

/// What keyset bytes of a constant stand for, seen from the session.
pub(crate) enum KeysetConstant {
    /// A live reference of this statement: the wrapped keyset's.
    Reference(Arc<SecretBytes>),
    /// A reference this session no longer holds.
    Stale,
    /// Anything else (a keyset, or bytes that are not one).
    Bytes,
}

impl FunctionSet {
    /// What `bytes` given as a keyset stand for in this statement.
    pub(crate) fn keyset_constant(&self, bytes: &[u8]) -> KeysetConstant {
        match self.cache.handles.resolve(bytes) {
            keyset_handles::Resolved::Live(found) => KeysetConstant::Reference(found.keyset),
            keyset_handles::Resolved::Stale => KeysetConstant::Stale,
            keyset_handles::Resolved::NotAReference => KeysetConstant::Bytes,
        }
    }
}

/// Every function, sharing one keyset cache; the wrapped-keyset functions
/// act through `wrapper` (and fail, saying so, without one), and sealed
/// keysets open with `unsealer` (and are refused without one).
pub(crate) fn all(
    wrapper: Option<Arc<KeysetWrapper>>,
    unsealer: Option<Arc<KeysetUnsealer>>,
) -> FunctionSet {
    let cache = Arc::new(KeysetCache::new(unsealer));
    let wrapper = SessionWrapper(wrapper);
    let mut udfs = vec![
        udf(new_keyset::NewKeyset),
        udf(keyset_to_json::KeysetToJson {
            cache: Arc::clone(&cache),
        }),
        udf(keyset_from_json::KeysetFromJson),
        udf(add_key_to_keyset::AddKeyToKeyset),
        udf(rotate_keyset::RotateKeyset),
        udf(enhanced_sym_encrypt::EnhancedSymEncrypt {
            cache: Arc::clone(&cache),
        }),
        udf(enhanced_sym_decrypt::EnhancedSymDecrypt {
            cache: Arc::clone(&cache),
            null_on_failure: false,
        }),
        udf(enhanced_sym_decrypt::EnhancedSymDecrypt {
            cache: Arc::clone(&cache),
            null_on_failure: true,
        }),
        udf(enhanced_sym_reencrypt::EnhancedSymReencrypt {
            cache: Arc::clone(&cache),
        }),
        udf(sym_crypt::SymCrypt {
            encrypt: true,
            cache: Arc::clone(&cache),
        }),
        udf(sym_crypt::SymCrypt {
            encrypt: false,
            cache: Arc::clone(&cache),
        }),
        udf(get_json_object::GetJsonObject),
        udf(hex::Hex),
        udf(hex::Unhex),
        udf(base64::Base64),
        udf(base64::Unbase64),
        udf(new_wrapped_keyset::NewWrappedKeyset {
            wrapper: wrapper.clone(),
        }),
        udf(rewrap_keyset::RewrapKeyset {
            wrapper: wrapper.clone(),
        }),
        udf(rotate_wrapped_keyset::RotateWrappedKeyset {
            wrapper: wrapper.clone(),
        }),
        udf(use_wrapped_keyset::UseWrappedKeyset {
            wrapper: wrapper.clone(),
            cache: Arc::clone(&cache),
        }),
    ];
    udfs.extend(KeyChange::ALL.map(|change| udf(KeysetKeyState(change))));
    // Registered after DataFusion's, under the same names: these replace them.
    udfs.extend(bounded_text::all());
    FunctionSet {
        udfs,
        cache,
        wrapper,
    }
}
