//! The server's dispatch: an action and its parameters to a [`Kms`] call
//! and the JSON of its answer.

use sealhouse_kms::{Kms, KmsError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::wire::{Action, from_body, to_value};

/// Parses the request, calls the KMS, and encodes the response.
fn run<Req: DeserializeOwned, Resp: Serialize>(
    body: &[u8],
    call: impl FnOnce(&Req) -> Result<Resp, KmsError>,
) -> Result<Value, KmsError> {
    let request = from_body::<Req>(body)?;
    to_value(&call(&request)?)
}

/// `dispatch`, from the list of operations in `sealhouse-kms`.
macro_rules! dispatch_calls {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        /// Runs `action` with the parameters in `body` on `kms`.
        pub(crate) fn dispatch(
            kms: &dyn Kms,
            action: Action,
            body: &[u8],
        ) -> Result<Value, KmsError> {
            match action {
                $(Action::$data_action => run(body, |r: &$data_req| kms.$data_method(r)),)*
                $(Action::$admin_action => run(body, |r: &$admin_req| kms.$admin_method(r)),)*
            }
        }
    };
}

sealhouse_kms::kms_operations!(dispatch_calls);
