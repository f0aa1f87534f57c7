//! The server's dispatch: an action and its parameters to a [`Kms`] call
//! and the JSON of its answer.

use sealhouse_kms::{Kms, KmsError};
use serde_json::Value;

use crate::wire::{Action, Params, Wire};

/// Parses the request, calls the KMS, and encodes the response.
fn run<Req: Wire, Resp: Wire>(
    p: &Params,
    call: impl FnOnce(&Req) -> Result<Resp, KmsError>,
) -> Result<Value, KmsError> {
    let request = Req::from_wire(p)?;
    Ok(call(&request)?.to_wire().build())
}

/// Runs `action` with parameters `p` on `kms`.
pub(crate) fn dispatch(kms: &dyn Kms, action: Action, p: &Params) -> Result<Value, KmsError> {
    match action {
        Action::CreateKey => run(p, |r| kms.create_key(r)),
        Action::DescribeKey => run(p, |r| kms.describe_key(r)),
        Action::ListKeys => run(p, |r| kms.list_keys(r)),
        Action::EnableKey => run(p, |r| kms.enable_key(r)),
        Action::DisableKey => run(p, |r| kms.disable_key(r)),
        Action::ScheduleKeyDeletion => run(p, |r| kms.schedule_key_deletion(r)),
        Action::CancelKeyDeletion => run(p, |r| kms.cancel_key_deletion(r)),
        Action::CreateKeyVersion => run(p, |r| kms.create_key_version(r)),
        Action::ListKeyVersions => run(p, |r| kms.list_key_versions(r)),
        Action::UpdateRotationPolicy => run(p, |r| kms.update_rotation_policy(r)),
        Action::CreateAlias => run(p, |r| kms.create_alias(r)),
        Action::ListAliases => run(p, |r| kms.list_aliases(r)),
        Action::DeleteAlias => run(p, |r| kms.delete_alias(r)),
        Action::Encrypt => run(p, |r| kms.encrypt(r)),
        Action::Decrypt => run(p, |r| kms.decrypt(r)),
        Action::GenerateDataKey => run(p, |r| kms.generate_data_key(r)),
        Action::GenerateDataKeyWithoutPlaintext => {
            run(p, |r| kms.generate_data_key_without_plaintext(r))
        }
        Action::ReEncrypt => run(p, |r| kms.re_encrypt(r)),
        Action::GetParametersForImport => run(p, |r| kms.get_parameters_for_import(r)),
        Action::ImportKeyMaterial => run(p, |r| kms.import_key_material(r)),
        Action::DeleteKeyMaterial => run(p, |r| kms.delete_key_material(r)),
        Action::ListAuditEvents => run(p, |r| kms.list_audit_events(r)),
    }
}
