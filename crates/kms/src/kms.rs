//! The KMS as traits: [`KmsData`], the data plane the warehouse uses, and
//! [`Kms`], which adds the administration of keys; synchronous and
//! object-safe (as tink separates a remote KMS client from key management).
//!
//! An implementation is bound to one caller: the embedded service's
//! [`crate::KmsHandle`] (a principal chosen in-process) and the HTTP client
//! (its credentials). Everything above the KMS that only uses keys
//! (storage, SQL) takes a `&dyn KmsData` or `Arc<dyn KmsData>` and is
//! indifferent to which one it has; [`crate::CachingKms`] wraps either.
//!
//! Every method authorises the call (`kms:<Operation>` on the key's ARN) and
//! records it in the audit log, allowed or not. Errors carry the cloud's codes
//! ([`crate::ErrorCode`]).

use crate::api::{
    CancelKeyDeletionRequest, CancelKeyDeletionResponse, CreateAliasRequest, CreateKeyRequest,
    CreateKeyResponse, CreateKeyVersionRequest, CreateKeyVersionResponse, DecryptRequest,
    DecryptResponse, DeleteAliasRequest, DeleteKeyMaterialRequest, DescribeKeyRequest,
    DescribeKeyResponse, DisableKeyRequest, EmptyResponse, EnableKeyRequest, EncryptRequest,
    EncryptResponse, GenerateDataKeyRequest, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextResponse, GetParametersForImportRequest,
    GetParametersForImportResponse, ImportKeyMaterialRequest, ListAliasesRequest,
    ListAliasesResponse, ListAuditEventsRequest, ListAuditEventsResponse, ListKeyVersionsRequest,
    ListKeyVersionsResponse, ListKeysRequest, ListKeysResponse, ReEncryptRequest,
    ReEncryptResponse, ScheduleKeyDeletionRequest, ScheduleKeyDeletionResponse,
    UpdateRotationPolicyRequest,
};
use crate::error::KmsError;

/// The KMS's data plane, as seen by one caller: what the warehouse does
/// with keys (wrap and unwrap keysets, make and open data keys, describe a
/// key it is about to use). What [`crate::CachingKms`] wraps and storage and
/// SQL hold.
pub trait KmsData: Send + Sync {
    /// DescribeKey: a key's metadata.
    fn describe_key(&self, request: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError>;

    /// Encrypt: up to 6 KiB under the key's primary version.
    fn encrypt(&self, request: &EncryptRequest) -> Result<EncryptResponse, KmsError>;

    /// Decrypt: the blob names its key and version.
    fn decrypt(&self, request: &DecryptRequest) -> Result<DecryptResponse, KmsError>;

    /// GenerateDataKey: a random data key, in the clear and encrypted.
    fn generate_data_key(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError>;

    /// GenerateDataKeyWithoutPlaintext: a random data key, encrypted only.
    fn generate_data_key_without_plaintext(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError>;

    /// ReEncrypt: from one key and context to another, inside the KMS.
    fn re_encrypt(&self, request: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError>;
}

/// The whole key management service, as seen by one caller: the data
/// plane and the administration of keys, aliases, rotation, BYOK and the
/// audit log.
pub trait Kms: KmsData {
    /// CreateKey: a new key in the caller's account (PendingImport when its
    /// origin is EXTERNAL, otherwise Enabled with a first version).
    fn create_key(&self, request: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError>;

    /// ListKeys: the caller's keys in this region.
    fn list_keys(&self, request: &ListKeysRequest) -> Result<ListKeysResponse, KmsError>;

    /// EnableKey: Disabled → Enabled.
    fn enable_key(&self, request: &EnableKeyRequest) -> Result<EmptyResponse, KmsError>;

    /// DisableKey: Enabled → Disabled; cryptographic use is refused with
    /// `Rejected.Disabled` until it is enabled again.
    fn disable_key(&self, request: &DisableKeyRequest) -> Result<EmptyResponse, KmsError>;

    /// ScheduleKeyDeletion: → PendingDeletion for 7 to 30 days, after which
    /// the key and all its material are destroyed.
    fn schedule_key_deletion(
        &self,
        request: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError>;

    /// CancelKeyDeletion: PendingDeletion → Enabled.
    fn cancel_key_deletion(
        &self,
        request: &CancelKeyDeletionRequest,
    ) -> Result<CancelKeyDeletionResponse, KmsError>;

    /// CreateKeyVersion: manual rotation; the new version becomes primary.
    fn create_key_version(
        &self,
        request: &CreateKeyVersionRequest,
    ) -> Result<CreateKeyVersionResponse, KmsError>;

    /// ListKeyVersions: a key's versions, oldest first.
    fn list_key_versions(
        &self,
        request: &ListKeyVersionsRequest,
    ) -> Result<ListKeyVersionsResponse, KmsError>;

    /// UpdateRotationPolicy: automatic rotation on (with an interval) or off.
    fn update_rotation_policy(
        &self,
        request: &UpdateRotationPolicyRequest,
    ) -> Result<EmptyResponse, KmsError>;

    /// CreateAlias: `alias/<name>` for a key.
    fn create_alias(&self, request: &CreateAliasRequest) -> Result<EmptyResponse, KmsError>;

    /// ListAliases: the caller's aliases in this region.
    fn list_aliases(&self, request: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError>;

    /// DeleteAlias.
    fn delete_alias(&self, request: &DeleteAliasRequest) -> Result<EmptyResponse, KmsError>;

    /// GetParametersForImport: an RSA wrapping key and a 24-hour import token.
    fn get_parameters_for_import(
        &self,
        request: &GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError>;

    /// ImportKeyMaterial: wrapped material and its token; PendingImport → Enabled.
    fn import_key_material(
        &self,
        request: &ImportKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError>;

    /// DeleteKeyMaterial: an EXTERNAL key's imported material is destroyed
    /// and the key returns to PendingImport until the same material is
    /// imported again.
    fn delete_key_material(
        &self,
        request: &DeleteKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError>;

    /// ListAuditEvents: the audit log of the caller's account, filtered.
    fn list_audit_events(
        &self,
        request: &ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, KmsError>;
}

/// A boxed KMS is a KMS: lets wrappers such as [`crate::CachingKms`] take a
/// `Box<dyn Kms>` chosen at run time.
impl<K: KmsData + ?Sized> KmsData for Box<K> {
    fn describe_key(&self, request: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
        (**self).describe_key(request)
    }

    fn encrypt(&self, request: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
        (**self).encrypt(request)
    }

    fn decrypt(&self, request: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        (**self).decrypt(request)
    }

    fn generate_data_key(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        (**self).generate_data_key(request)
    }

    fn generate_data_key_without_plaintext(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        (**self).generate_data_key_without_plaintext(request)
    }

    fn re_encrypt(&self, request: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        (**self).re_encrypt(request)
    }
}

impl<K: Kms + ?Sized> Kms for Box<K> {
    fn create_key(&self, request: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError> {
        (**self).create_key(request)
    }

    fn list_keys(&self, request: &ListKeysRequest) -> Result<ListKeysResponse, KmsError> {
        (**self).list_keys(request)
    }

    fn enable_key(&self, request: &EnableKeyRequest) -> Result<EmptyResponse, KmsError> {
        (**self).enable_key(request)
    }

    fn disable_key(&self, request: &DisableKeyRequest) -> Result<EmptyResponse, KmsError> {
        (**self).disable_key(request)
    }

    fn schedule_key_deletion(
        &self,
        request: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        (**self).schedule_key_deletion(request)
    }

    fn cancel_key_deletion(
        &self,
        request: &CancelKeyDeletionRequest,
    ) -> Result<CancelKeyDeletionResponse, KmsError> {
        (**self).cancel_key_deletion(request)
    }

    fn create_key_version(
        &self,
        request: &CreateKeyVersionRequest,
    ) -> Result<CreateKeyVersionResponse, KmsError> {
        (**self).create_key_version(request)
    }

    fn list_key_versions(
        &self,
        request: &ListKeyVersionsRequest,
    ) -> Result<ListKeyVersionsResponse, KmsError> {
        (**self).list_key_versions(request)
    }

    fn update_rotation_policy(
        &self,
        request: &UpdateRotationPolicyRequest,
    ) -> Result<EmptyResponse, KmsError> {
        (**self).update_rotation_policy(request)
    }

    fn create_alias(&self, request: &CreateAliasRequest) -> Result<EmptyResponse, KmsError> {
        (**self).create_alias(request)
    }

    fn list_aliases(&self, request: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError> {
        (**self).list_aliases(request)
    }

    fn delete_alias(&self, request: &DeleteAliasRequest) -> Result<EmptyResponse, KmsError> {
        (**self).delete_alias(request)
    }

    fn get_parameters_for_import(
        &self,
        request: &GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError> {
        (**self).get_parameters_for_import(request)
    }

    fn import_key_material(
        &self,
        request: &ImportKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError> {
        (**self).import_key_material(request)
    }

    fn delete_key_material(
        &self,
        request: &DeleteKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError> {
        (**self).delete_key_material(request)
    }

    fn list_audit_events(
        &self,
        request: &ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, KmsError> {
        (**self).list_audit_events(request)
    }
}
