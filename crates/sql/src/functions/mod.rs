//! The SQL functions Sealhouse adds to DataFusion, one per file. Each is
//! documented in docs/sql-functions.md.

mod add_key_to_keyset;
mod args;
mod base64;
mod enhanced_sym_decrypt;
mod enhanced_sym_encrypt;
mod enhanced_sym_reencrypt;
mod hex;
mod keyset_arg;
mod keyset_cache;
mod keyset_from_json;
mod keyset_key_state;
mod keyset_rows;
mod keyset_to_json;
mod new_keyset;
mod rotate_keyset;
mod sym_crypt;
mod udf;

use std::sync::Arc;

use datafusion::logical_expr::ScalarUDF;

use keyset_cache::KeysetCache;
use keyset_key_state::{KeyChange, KeysetKeyState};
use udf::udf;

/// Every function, sharing one keyset cache.
pub(crate) fn all() -> Vec<ScalarUDF> {
    let cache = Arc::new(KeysetCache::default());
    let mut functions = vec![
        udf(new_keyset::NewKeyset),
        udf(keyset_to_json::KeysetToJson),
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
        udf(enhanced_sym_reencrypt::EnhancedSymReencrypt { cache }),
        udf(sym_crypt::SymCrypt { encrypt: true }),
        udf(sym_crypt::SymCrypt { encrypt: false }),
        udf(hex::Hex),
        udf(hex::Unhex),
        udf(base64::Base64),
        udf(base64::Unbase64),
    ];
    functions.extend(KeyChange::ALL.map(|change| udf(KeysetKeyState(change))));
    functions
}
