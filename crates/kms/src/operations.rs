//! Every operation of the KMS, listed once.
//!
//! [`kms_operations!`](crate::kms_operations) hands the list to a macro of
//! the caller's, which turns it into what that caller needs: the [`Kms`] and
//! [`KmsData`] traits and their `Box` forwarding (`kms.rs`),
//! [`KmsHandle`](crate::KmsHandle)'s calls into the service (`handle.rs`),
//! and in `sealhouse-kms-http` the action names, the server's dispatch and
//! the client. So adding an operation touches its request and response types
//! (`api/`), its implementation in the service (`ServiceState`), its line
//! here, and, for a data-plane operation, [`CachingKms`](crate::CachingKms)
//! (which decides whether its answers are cached).
//!
//! Each line is `Action method(Request) -> Response;` with the operation's
//! documentation above it: `Action` is the API's name (`x-acs-action`, the
//! audit log's operation), `method` the trait method and the service's.
//!
//! [`Kms`]: crate::Kms
//! [`KmsData`]: crate::KmsData

/// Calls `$then! { data { ... } admin { ... } }` with every operation, data
/// plane first: see the module documentation of `operations.rs`.
#[doc(hidden)]
#[macro_export]
macro_rules! kms_operations {
    ($then:ident) => {
        $then! {
            data {
                /// DescribeKey: a key's metadata.
                DescribeKey describe_key($crate::api::DescribeKeyRequest)
                    -> $crate::api::DescribeKeyResponse;
                /// Encrypt: up to 6 KiB under the key's primary version.
                Encrypt encrypt($crate::api::EncryptRequest) -> $crate::api::EncryptResponse;
                /// Decrypt: the blob names its key and version.
                Decrypt decrypt($crate::api::DecryptRequest) -> $crate::api::DecryptResponse;
                /// GenerateDataKey: a random data key, in the clear and encrypted.
                GenerateDataKey generate_data_key($crate::api::GenerateDataKeyRequest)
                    -> $crate::api::GenerateDataKeyResponse;
                /// GenerateDataKeyWithoutPlaintext: a random data key, encrypted only.
                GenerateDataKeyWithoutPlaintext generate_data_key_without_plaintext(
                    $crate::api::GenerateDataKeyRequest
                ) -> $crate::api::GenerateDataKeyWithoutPlaintextResponse;
                /// ReEncrypt: from one key and context to another, inside the KMS.
                ReEncrypt re_encrypt($crate::api::ReEncryptRequest)
                    -> $crate::api::ReEncryptResponse;
            }
            admin {
                /// CreateKey: a new key in the caller's account (PendingImport when its
                /// origin is EXTERNAL, otherwise Enabled with a first version).
                CreateKey create_key($crate::api::CreateKeyRequest)
                    -> $crate::api::CreateKeyResponse;
                /// ListKeys: the caller's keys in this region.
                ListKeys list_keys($crate::api::ListKeysRequest) -> $crate::api::ListKeysResponse;
                /// EnableKey: Disabled → Enabled.
                EnableKey enable_key($crate::api::EnableKeyRequest) -> $crate::api::EmptyResponse;
                /// DisableKey: Enabled → Disabled; cryptographic use is refused with
                /// `Rejected.Disabled` until it is enabled again.
                DisableKey disable_key($crate::api::DisableKeyRequest)
                    -> $crate::api::EmptyResponse;
                /// ScheduleKeyDeletion: → PendingDeletion for 7 to 30 days, after which
                /// the key and all its material are destroyed.
                ScheduleKeyDeletion schedule_key_deletion($crate::api::ScheduleKeyDeletionRequest)
                    -> $crate::api::ScheduleKeyDeletionResponse;
                /// CancelKeyDeletion: PendingDeletion → Enabled.
                CancelKeyDeletion cancel_key_deletion($crate::api::CancelKeyDeletionRequest)
                    -> $crate::api::CancelKeyDeletionResponse;
                /// CreateKeyVersion: manual rotation; the new version becomes primary.
                CreateKeyVersion create_key_version($crate::api::CreateKeyVersionRequest)
                    -> $crate::api::CreateKeyVersionResponse;
                /// ListKeyVersions: a key's versions, oldest first.
                ListKeyVersions list_key_versions($crate::api::ListKeyVersionsRequest)
                    -> $crate::api::ListKeyVersionsResponse;
                /// UpdateRotationPolicy: automatic rotation on (with an interval) or off.
                UpdateRotationPolicy update_rotation_policy(
                    $crate::api::UpdateRotationPolicyRequest
                ) -> $crate::api::EmptyResponse;
                /// CreateAlias: `alias/<name>` for a key.
                CreateAlias create_alias($crate::api::CreateAliasRequest)
                    -> $crate::api::EmptyResponse;
                /// ListAliases: the caller's aliases in this region.
                ListAliases list_aliases($crate::api::ListAliasesRequest)
                    -> $crate::api::ListAliasesResponse;
                /// DeleteAlias.
                DeleteAlias delete_alias($crate::api::DeleteAliasRequest)
                    -> $crate::api::EmptyResponse;
                /// GetParametersForImport: an RSA wrapping key and a 24-hour import token.
                GetParametersForImport get_parameters_for_import(
                    $crate::api::GetParametersForImportRequest
                ) -> $crate::api::GetParametersForImportResponse;
                /// ImportKeyMaterial: wrapped material and its token; PendingImport → Enabled.
                ImportKeyMaterial import_key_material($crate::api::ImportKeyMaterialRequest)
                    -> $crate::api::EmptyResponse;
                /// DeleteKeyMaterial: an EXTERNAL key's imported material is destroyed
                /// and the key returns to PendingImport until the same material is
                /// imported again.
                DeleteKeyMaterial delete_key_material($crate::api::DeleteKeyMaterialRequest)
                    -> $crate::api::EmptyResponse;
                /// ListAuditEvents: the audit log of the caller's account, filtered.
                ListAuditEvents list_audit_events($crate::api::ListAuditEventsRequest)
                    -> $crate::api::ListAuditEventsResponse;
            }
        }
    };
}
