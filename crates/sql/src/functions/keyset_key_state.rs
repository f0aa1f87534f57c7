//! Changing one key inside a keyset:
//!
//! - `ENABLE_KEY_IN_KEYSET(keyset, key_id)`: a disabled key works again;
//! - `DISABLE_KEY_IN_KEYSET(keyset, key_id)`: the key stays but neither
//!   encrypts nor decrypts (not allowed for the primary key);
//! - `DESTROY_KEY_IN_KEYSET(keyset, key_id)`: the key's material is erased,
//!   for good (not allowed for the primary key);
//! - `SET_PRIMARY_KEY_IN_KEYSET(keyset, key_id)`: an enabled key becomes primary.
//!
//! Each returns the changed keyset (BINARY); key ids are those
//! `KEYSET_TO_JSON` shows.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, Volatility};
use sealhouse_crypto::{KeyId, Keyset};

use super::args::{Bytes, FunctionSpec, Kind, Text, all_scalar, crypto, per_row};
use super::keyset_arg::parse_keyset;
use super::udf::SqlFunction;

const PARAM_LIST: &[(&str, Kind)] = &[("keyset", Kind::Keyset), ("key_id", Kind::Text)];

/// Which change.
#[derive(Clone, Copy)]
pub(crate) enum KeyChange {
    Enable,
    Disable,
    Destroy,
    SetPrimary,
}

impl KeyChange {
    pub(crate) const ALL: [KeyChange; 4] =
        [Self::Enable, Self::Disable, Self::Destroy, Self::SetPrimary];

    fn spec(self) -> &'static FunctionSpec {
        static ENABLE: FunctionSpec = FunctionSpec {
            function: "ENABLE_KEY_IN_KEYSET",
            params: PARAM_LIST,
            required: 2,
            returns: DataType::Binary,
            volatility: Volatility::Immutable,
        };
        static DISABLE: FunctionSpec = FunctionSpec {
            function: "DISABLE_KEY_IN_KEYSET",
            params: PARAM_LIST,
            required: 2,
            returns: DataType::Binary,
            volatility: Volatility::Immutable,
        };
        static DESTROY: FunctionSpec = FunctionSpec {
            function: "DESTROY_KEY_IN_KEYSET",
            params: PARAM_LIST,
            required: 2,
            returns: DataType::Binary,
            volatility: Volatility::Immutable,
        };
        static SET_PRIMARY: FunctionSpec = FunctionSpec {
            function: "SET_PRIMARY_KEY_IN_KEYSET",
            params: PARAM_LIST,
            required: 2,
            returns: DataType::Binary,
            volatility: Volatility::Immutable,
        };
        match self {
            Self::Enable => &ENABLE,
            Self::Disable => &DISABLE,
            Self::Destroy => &DESTROY,
            Self::SetPrimary => &SET_PRIMARY,
        }
    }

    fn apply(self, keyset: &mut Keyset, id: &KeyId) -> Result<(), sealhouse_crypto::Error> {
        match self {
            Self::Enable => keyset.enable(id),
            Self::Disable => keyset.disable(id),
            Self::Destroy => keyset.destroy(id),
            Self::SetPrimary => keyset.set_primary(id),
        }
    }
}

pub(crate) struct KeysetKeyState(pub(crate) KeyChange);

impl SqlFunction for KeysetKeyState {
    fn spec(&self) -> &'static FunctionSpec {
        self.0.spec()
    }

    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
        let name = self.spec().function;
        let keysets = Bytes::of(&args[0])?;
        let ids = Text::of(&args[1])?;
        per_row(rows, all_scalar(args), &DataType::Binary, |row| {
            let (Some(keyset), Some(id)) = (keysets.get(row), ids.get(row)) else {
                return Ok(None);
            };
            let mut keyset = parse_keyset(name, keyset)?;
            let id = KeyId::parse(id).map_err(|e| crypto(name, e))?;
            self.0
                .apply(&mut keyset, &id)
                .map_err(|e| crypto(name, e))?;
            Ok(Some(keyset.to_bytes().expose().to_vec()))
        })
    }
}
