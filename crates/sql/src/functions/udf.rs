//! One adapter from Sealhouse's functions to DataFusion's `ScalarUDFImpl`, so
//! that each function file holds only what is particular to it: its
//! [`FunctionSpec`] and its row logic.

use std::fmt;
use std::hash::{Hash, Hasher};

use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

use super::args::FunctionSpec;

/// A SQL function.
pub(crate) trait SqlFunction: Send + Sync + 'static {
    /// Its name, parameters, result type and volatility.
    fn spec(&self) -> &'static FunctionSpec;
    /// Computes the result for `rows` rows; arguments arrive coerced to the
    /// types [`FunctionSpec::coerce`] asked for.
    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue>;
    /// Its result type: the spec's, unless it is not one a static can hold.
    fn return_type(&self) -> DataType {
        self.spec().returns.clone()
    }
}

/// Wraps a [`SqlFunction`] as a DataFusion UDF.
pub(crate) fn udf(function: impl SqlFunction) -> ScalarUDF {
    let signature = Signature::user_defined(function.spec().volatility);
    // SQL identifiers are normalised to lower case before functions are looked up.
    let name = function.spec().function.to_ascii_lowercase();
    ScalarUDF::new_from_impl(Adapter {
        function: Box::new(function),
        signature,
        name,
    })
}

struct Adapter {
    function: Box<dyn SqlFunction>,
    signature: Signature,
    name: String,
}

impl fmt::Debug for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlFunction")
            .field("name", &self.function.spec().function)
            .finish()
    }
}

// Functions are identified by name: two adapters of one name are the same function.
impl PartialEq for Adapter {
    fn eq(&self, other: &Self) -> bool {
        self.function.spec().function == other.function.spec().function
    }
}

impl Eq for Adapter {}

impl Hash for Adapter {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.function.spec().function.hash(state);
    }
}

impl ScalarUDFImpl for Adapter {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.function.return_type())
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.function.spec().coerce(arg_types)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        self.function.invoke(&args.args, args.number_rows)
    }
}
