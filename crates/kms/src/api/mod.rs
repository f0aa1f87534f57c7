//! The request and response types of every KMS operation, one file per group.
//! Field names are the cloud API's (`KeyId` → `key_id`) and serialize under
//! its names (`KeyId`), with the value forms of `json_form.rs`; see `docs/kms.md`.

mod aliases;
mod audit;
mod byok;
mod crypto;
pub(crate) mod json_form;
mod keys;
mod types;
mod versions;

pub use aliases::{
    Alias, CreateAliasRequest, DeleteAliasRequest, ListAliasesRequest, ListAliasesResponse,
};
pub use audit::{
    AuditEvent, AuditOutcome, ListAuditEventsRequest, ListAuditEventsResponse, OutcomeFilter,
};
pub use byok::{
    GetParametersForImportRequest, GetParametersForImportResponse, ImportKeyMaterialRequest,
};
pub use crypto::{
    DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, GenerateDataKeyRequest,
    GenerateDataKeyResponse, GenerateDataKeyWithoutPlaintextResponse, MAX_DATA_KEY_BYTES,
    MAX_PLAINTEXT_BYTES, ReEncryptRequest, ReEncryptResponse,
};
pub use keys::{
    CancelKeyDeletionRequest, CancelKeyDeletionResponse, CreateKeyRequest, CreateKeyResponse,
    DeleteKeyMaterialRequest, DescribeKeyRequest, DescribeKeyResponse, DisableKeyRequest,
    EmptyResponse, EnableKeyRequest, KeyListEntry, KeyMetadata, KeyRequest, ListKeysRequest,
    ListKeysResponse, ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse,
};
pub use types::{
    AutomaticRotation, DataKeySpec, EncryptionContext, KeySpec, KeyState, KeyUsage, Origin,
    ProtectionLevel, RotationInterval, WrappingAlgorithm, WrappingKeySpec,
};
pub use versions::{
    CreateKeyVersionRequest, CreateKeyVersionResponse, KeyVersion, ListKeyVersionsRequest,
    ListKeyVersionsResponse, UpdateRotationPolicyRequest,
};

use crate::error::KmsError;

/// Checks `PageNumber` (from 1) and `PageSize` (1 to `max`); returns the
/// row offset of the page.
pub(crate) fn page_offset(page_number: u32, page_size: u32, max: u32) -> Result<u64, KmsError> {
    if page_number == 0 {
        return Err(KmsError::invalid("PageNumber starts at 1"));
    }
    if !(1..=max).contains(&page_size) {
        return Err(KmsError::invalid(format!(
            "PageSize {page_size} is out of range; use 1 to {max}"
        )));
    }
    Ok(u64::from(page_number - 1) * u64::from(page_size))
}
