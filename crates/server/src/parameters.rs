//! Binding a portal's parameters to the values a plan runs with.
//!
//! arrow-pg decodes each parameter by the type the client sent or the plan
//! infers; for a parameter of neither (PostgreSQL's `unknown`, which is how
//! psycopg and others send Python `str`), its fallback reads a value that
//! starts with `{` and ends with `}` as an array literal, so the text
//! `{"ssn":"123-45-6789"}` came back as `["ssn":"123-45-6789"]`. PostgreSQL
//! itself takes an `unknown` parameter as text until context says otherwise,
//! and so do we: such a parameter is the exact text the client sent.

use arrow_pg::datatypes::df::deserialize_parameters;
use arrow_pg::datatypes::into_pg_type;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ParamValues, ScalarValue};
use pgwire::api::Type;
use pgwire::api::portal::Portal;
use pgwire::error::PgWireResult;

/// Types whose parameters are their text exactly (arrow-pg would read a
/// `{...}` value of these as an array): `unknown`, and JSON sent as such.
const TEXT_AS_IS: [Type; 3] = [Type::UNKNOWN, Type::JSON, Type::JSONB];

/// The values of `portal`'s parameters, `inferred` being the types the
/// plan gives them (`None`: it gives none).
pub(crate) fn bind<S: Clone>(
    portal: &Portal<S>,
    inferred: &[Option<&DataType>],
) -> PgWireResult<ParamValues> {
    let mut values = deserialize_parameters(portal, inferred)?;
    if let ParamValues::List(list) = &mut values {
        for (i, value) in list.iter_mut().enumerate() {
            let ty = effective_type(portal, inferred, i)?;
            if TEXT_AS_IS.contains(&ty) {
                let text = portal.parameter::<String>(i, &ty)?;
                *value = ScalarValue::Utf8(text).into();
            }
        }
    }
    Ok(values)
}

/// The type arrow-pg decodes parameter `i` as: the client's if it sent
/// one (`unknown` included), else the plan's, else `unknown`.
fn effective_type<S>(
    portal: &Portal<S>,
    inferred: &[Option<&DataType>],
    i: usize,
) -> PgWireResult<Type> {
    match (
        portal.statement.parameter_types.get(i).cloned().flatten(),
        inferred.get(i).copied().flatten(),
    ) {
        (Some(hint), _) => Ok(hint),
        (None, Some(inferred)) => into_pg_type(inferred),
        (None, None) => Ok(Type::UNKNOWN),
    }
}
