//! [`KmsHandle`]: the service seen by one principal, and its implementation
//! of [`Kms`]: every operation is run as one [`Call`] and then audited.

use std::sync::Arc;

use sealhouse_iam::{Principal, RequestContext};

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
use crate::call::Call;
use crate::error::KmsError;
use crate::kms::{Kms, KmsData};
use crate::service::ServiceState;

/// The service bound to one principal: an implementation of [`Kms`].
#[derive(Clone)]
pub struct KmsHandle {
    inner: Arc<ServiceState>,
    principal: Principal,
    context: RequestContext,
}

impl std::fmt::Debug for KmsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsHandle")
            .field("principal", &self.principal.to_string())
            .finish_non_exhaustive()
    }
}

impl KmsHandle {
    pub(crate) fn new(
        inner: Arc<ServiceState>,
        principal: Principal,
        context: RequestContext,
    ) -> Self {
        Self {
            inner,
            principal,
            context,
        }
    }

    /// The principal calls are made as.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Runs one operation: the call, then its audit event.
    fn run<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&ServiceState, &mut Call<'_>) -> Result<T, KmsError>,
    ) -> Result<T, KmsError> {
        let inner = &*self.inner;
        let mut call = Call::new(
            &self.principal,
            &self.context,
            &inner.iam,
            operation,
            inner.clock.now(),
        );
        let result = f(inner, &mut call);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code().as_str(),
        };
        let audited = inner.audit.record(&call.event(outcome));
        match (result, audited) {
            (Ok(value), Ok(())) => Ok(value),
            (Err(e), _) => Err(e.with_request_id(call.request_id())),
            (Ok(_), Err(e)) => Err(KmsError::internal(format!(
                "{} was done but could not be recorded in the audit log, so its result is \
                 withheld: {}",
                operation,
                e.message()
            ))
            .with_request_id(call.request_id())),
        }
    }
}

impl KmsData for KmsHandle {
    fn describe_key(&self, request: &DescribeKeyRequest) -> Result<DescribeKeyResponse, KmsError> {
        self.run("DescribeKey", |s, c| s.describe_key(c, request))
    }

    fn encrypt(&self, request: &EncryptRequest) -> Result<EncryptResponse, KmsError> {
        self.run("Encrypt", |s, c| s.encrypt(c, request))
    }

    fn decrypt(&self, request: &DecryptRequest) -> Result<DecryptResponse, KmsError> {
        self.run("Decrypt", |s, c| s.decrypt(c, request))
    }

    fn generate_data_key(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.run("GenerateDataKey", |s, c| s.generate_data_key(c, request))
    }

    fn generate_data_key_without_plaintext(
        &self,
        request: &GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyWithoutPlaintextResponse, KmsError> {
        self.run("GenerateDataKeyWithoutPlaintext", |s, c| {
            s.generate_data_key_without_plaintext(c, request)
        })
    }

    fn re_encrypt(&self, request: &ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        self.run("ReEncrypt", |s, c| s.re_encrypt(c, request))
    }
}

impl Kms for KmsHandle {
    fn create_key(&self, request: &CreateKeyRequest) -> Result<CreateKeyResponse, KmsError> {
        self.run("CreateKey", |s, c| s.create_key(c, request))
    }

    fn list_keys(&self, request: &ListKeysRequest) -> Result<ListKeysResponse, KmsError> {
        self.run("ListKeys", |s, c| s.list_keys(c, request))
    }

    fn enable_key(&self, request: &EnableKeyRequest) -> Result<EmptyResponse, KmsError> {
        self.run("EnableKey", |s, c| s.enable_key(c, request))
    }

    fn disable_key(&self, request: &DisableKeyRequest) -> Result<EmptyResponse, KmsError> {
        self.run("DisableKey", |s, c| s.disable_key(c, request))
    }

    fn schedule_key_deletion(
        &self,
        request: &ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        self.run("ScheduleKeyDeletion", |s, c| {
            s.schedule_key_deletion(c, request)
        })
    }

    fn cancel_key_deletion(
        &self,
        request: &CancelKeyDeletionRequest,
    ) -> Result<CancelKeyDeletionResponse, KmsError> {
        self.run("CancelKeyDeletion", |s, c| {
            s.cancel_key_deletion(c, request)
        })
    }

    fn create_key_version(
        &self,
        request: &CreateKeyVersionRequest,
    ) -> Result<CreateKeyVersionResponse, KmsError> {
        self.run("CreateKeyVersion", |s, c| s.create_key_version(c, request))
    }

    fn list_key_versions(
        &self,
        request: &ListKeyVersionsRequest,
    ) -> Result<ListKeyVersionsResponse, KmsError> {
        self.run("ListKeyVersions", |s, c| s.list_key_versions(c, request))
    }

    fn update_rotation_policy(
        &self,
        request: &UpdateRotationPolicyRequest,
    ) -> Result<EmptyResponse, KmsError> {
        self.run("UpdateRotationPolicy", |s, c| {
            s.update_rotation_policy(c, request)
        })
    }

    fn create_alias(&self, request: &CreateAliasRequest) -> Result<EmptyResponse, KmsError> {
        self.run("CreateAlias", |s, c| s.create_alias(c, request))
    }

    fn list_aliases(&self, request: &ListAliasesRequest) -> Result<ListAliasesResponse, KmsError> {
        self.run("ListAliases", |s, c| s.list_aliases(c, request))
    }

    fn delete_alias(&self, request: &DeleteAliasRequest) -> Result<EmptyResponse, KmsError> {
        self.run("DeleteAlias", |s, c| s.delete_alias(c, request))
    }

    fn get_parameters_for_import(
        &self,
        request: &GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError> {
        self.run("GetParametersForImport", |s, c| {
            s.get_parameters_for_import(c, request)
        })
    }

    fn import_key_material(
        &self,
        request: &ImportKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError> {
        self.run("ImportKeyMaterial", |s, c| {
            s.import_key_material(c, request)
        })
    }

    fn delete_key_material(
        &self,
        request: &DeleteKeyMaterialRequest,
    ) -> Result<EmptyResponse, KmsError> {
        self.run("DeleteKeyMaterial", |s, c| {
            s.delete_key_material(c, request)
        })
    }

    fn list_audit_events(
        &self,
        request: &ListAuditEventsRequest,
    ) -> Result<ListAuditEventsResponse, KmsError> {
        self.run("ListAuditEvents", |s, c| s.list_audit_events(c, request))
    }
}
