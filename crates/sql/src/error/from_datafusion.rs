//! A DataFusion error as the statement's [`SqlError`].
//!
//! Sealhouse's own errors cross DataFusion boxed in
//! `DataFusionError::External` (see [`crate::functions::exec`] and the table
//! provider), possibly under context layers, an Arrow error or a shared
//! `Arc` (a join's build side hands one error to every partition); they come
//! out as the typed error they went in as. DataFusion's own errors map by
//! their variant: a missing column is [`SqlError::NotFound`], resource
//! exhaustion [`SqlError::OutOfMemory`], and so on.

use std::error::Error;
use std::sync::Arc;

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use sealhouse_storage::StorageError;

use super::{ObjectKind, SqlError};

impl From<DataFusionError> for SqlError {
    fn from(error: DataFusionError) -> Self {
        match unwrap_typed(error) {
            Ok(typed) => typed,
            Err(error) => match borrowed_typed(&error) {
                Some(typed) => typed,
                None => from_root(error.find_root()),
            },
        }
    }
}

/// Peels the layers DataFusion puts around an error, taking the typed
/// Sealhouse error inside when there is one; otherwise gives back what is
/// left. A loop, not recursion: chains can be long.
fn unwrap_typed(mut error: DataFusionError) -> Result<SqlError, DataFusionError> {
    loop {
        error = match error {
            DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => *inner,
            DataFusionError::Shared(shared) => match Arc::try_unwrap(shared) {
                Ok(inner) => inner,
                Err(shared) => return Err(DataFusionError::Shared(shared)),
            },
            DataFusionError::External(boxed) => match take_boxed(boxed) {
                Taken::Typed(typed) => return Ok(typed),
                Taken::DataFusion(inner) => inner,
                Taken::Other(boxed) => return Err(DataFusionError::External(boxed)),
            },
            DataFusionError::ArrowError(arrow, context) => match *arrow {
                ArrowError::ExternalError(boxed) => match take_boxed(boxed) {
                    Taken::Typed(typed) => return Ok(typed),
                    Taken::DataFusion(inner) => inner,
                    Taken::Other(boxed) => {
                        return Err(DataFusionError::ArrowError(
                            Box::new(ArrowError::ExternalError(boxed)),
                            context,
                        ));
                    }
                },
                other => return Err(DataFusionError::ArrowError(Box::new(other), context)),
            },
            other => return Err(other),
        }
    }
}

type Boxed = Box<dyn Error + Send + Sync>;

enum Taken {
    Typed(SqlError),
    DataFusion(DataFusionError),
    Other(Boxed),
}

fn take_boxed(boxed: Boxed) -> Taken {
    let boxed = match boxed.downcast::<SqlError>() {
        Ok(typed) => return Taken::Typed(*typed),
        Err(boxed) => boxed,
    };
    let boxed = match boxed.downcast::<StorageError>() {
        Ok(storage) => return Taken::Typed(SqlError::from(*storage)),
        Err(boxed) => boxed,
    };
    match boxed.downcast::<DataFusionError>() {
        Ok(inner) => Taken::DataFusion(*inner),
        Err(boxed) => Taken::Other(boxed),
    }
}

/// A typed error somewhere in a chain that cannot be taken apart (shared,
/// or inside another library's error): a clone of it.
fn borrowed_typed(error: &DataFusionError) -> Option<SqlError> {
    let mut next: Option<&(dyn Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(typed) = e.downcast_ref::<SqlError>() {
            return Some(typed.clone());
        }
        if let Some(storage) = e.downcast_ref::<StorageError>() {
            return Some(SqlError::Storage(storage.clone()));
        }
        next = e.source();
    }
    None
}

/// DataFusion's own error, by its variant. The innermost DataFusion error
/// says what actually went wrong.
fn from_root(root: &DataFusionError) -> SqlError {
    match root {
        DataFusionError::SQL(parser, _) => {
            SqlError::Syntax(parser.to_string().replace("sql parser error: ", ""))
        }
        DataFusionError::Plan(m) => SqlError::Plan(clean(m)),
        DataFusionError::SchemaError(e, _) => match e.as_ref() {
            SchemaError::FieldNotFound { .. } => {
                SqlError::not_found(ObjectKind::Column, e.to_string())
            }
            _ => SqlError::Plan(e.to_string()),
        },
        DataFusionError::Execution(m) => SqlError::Execution(clean(m)),
        DataFusionError::External(e) => SqlError::Execution(e.to_string()),
        DataFusionError::NotImplemented(m) => {
            SqlError::Unsupported(format!("not supported: {}", clean(m)))
        }
        DataFusionError::ResourcesExhausted(m) => SqlError::OutOfMemory(clean(m)),
        other => SqlError::Execution(clean(&other.to_string())),
    }
}

/// Drops DataFusion's internal hints (backtraces, "This issue was likely
/// caused by a bug in DataFusion" boilerplate) from a message.
pub(super) fn clean(message: &str) -> String {
    message
        .split("\n\nThis issue")
        .next()
        .unwrap_or(message)
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealhouse_kms::ErrorCode;

    fn boxed(e: SqlError) -> DataFusionError {
        DataFusionError::External(Box::new(e))
    }

    #[test]
    fn a_sealhouse_error_comes_back_typed_through_every_layer() {
        let kms = || SqlError::Kms {
            code: ErrorCode::Disabled,
            message: "key k is Disabled".into(),
        };
        let layered = [
            boxed(kms()),
            boxed(kms()).context("while scanning"),
            DataFusionError::Shared(Arc::new(boxed(kms()))),
            DataFusionError::ArrowError(
                Box::new(ArrowError::ExternalError(Box::new(boxed(kms())))),
                None,
            ),
            DataFusionError::External(Box::new(boxed(kms()).context("twice"))),
        ];
        for error in layered {
            let shown = format!("{error}");
            match SqlError::from(error) {
                SqlError::Kms { code, message } => {
                    assert_eq!(code, ErrorCode::Disabled, "{shown}");
                    assert_eq!(message, "key k is Disabled");
                }
                other => panic!("{shown} came out as {other:?}"),
            }
        }
    }

    #[test]
    fn a_shared_error_held_twice_is_cloned() {
        let shared = Arc::new(boxed(SqlError::DecryptionFailed("no".into())));
        let other_holder = Arc::clone(&shared);
        let error = SqlError::from(DataFusionError::Shared(shared));
        assert!(matches!(error, SqlError::DecryptionFailed(_)), "{error:?}");
        drop(other_holder);
    }

    #[test]
    fn storage_errors_come_back_as_storage_errors() {
        let error = SqlError::from(
            DataFusionError::External(Box::new(StorageError::Unsealed)).context("scan"),
        );
        assert!(
            matches!(&error, SqlError::Storage(StorageError::Unsealed)),
            "{error:?}"
        );
    }

    #[test]
    fn datafusion_errors_map_by_variant() {
        let missing = DataFusionError::SchemaError(
            Box::new(SchemaError::FieldNotFound {
                field: Box::new(datafusion::common::Column::from_name("nope")),
                valid_fields: vec![],
            }),
            Box::new(None),
        );
        assert!(matches!(
            SqlError::from(missing),
            SqlError::NotFound {
                kind: ObjectKind::Column,
                ..
            }
        ));
        assert!(matches!(
            SqlError::from(DataFusionError::NotImplemented("x".into())),
            SqlError::Unsupported(_)
        ));
        assert!(matches!(
            SqlError::from(DataFusionError::ResourcesExhausted("x".into()).context("sort")),
            SqlError::OutOfMemory(_)
        ));
        assert!(matches!(
            SqlError::from(DataFusionError::Plan("x".into())),
            SqlError::Plan(_)
        ));
    }
}
