//! The JSON bodies of the requests, one [`Wire`] implementation per request
//! type, with the API's PascalCase parameter names.

use sealhouse_kms::KmsError;
use sealhouse_kms::api::{
    CreateAliasRequest, CreateKeyRequest, DataKeySpec, DecryptRequest, DeleteAliasRequest,
    EncryptRequest, GenerateDataKeyRequest, GetParametersForImportRequest,
    ImportKeyMaterialRequest, KeyRequest, KeySpec, KeyUsage, ListAliasesRequest,
    ListAuditEventsRequest, ListKeyVersionsRequest, ListKeysRequest, Origin, OutcomeFilter,
    ReEncryptRequest, RotationInterval, ScheduleKeyDeletionRequest, UpdateRotationPolicyRequest,
    WrappingAlgorithm, WrappingKeySpec,
};

use super::Wire;
use super::params::{Obj, Params};

impl Wire for CreateKeyRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeySpec", self.key_spec.as_str())
            .s("KeyUsage", self.key_usage.as_str())
            .s("Origin", self.origin.as_str())
            .s("Description", self.description.as_str())
            .b("EnableAutomaticRotation", self.enable_automatic_rotation)
            .opt_s(
                "RotationInterval",
                self.rotation_interval.map(|r| r.to_string()),
            )
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let d = Self::default();
        Ok(Self {
            key_spec: p
                .opt_parsed("KeySpec", KeySpec::parse)?
                .unwrap_or(d.key_spec),
            key_usage: p
                .opt_parsed("KeyUsage", KeyUsage::parse)?
                .unwrap_or(d.key_usage),
            origin: p.opt_parsed("Origin", Origin::parse)?.unwrap_or(d.origin),
            description: p.opt_string("Description")?.unwrap_or_default(),
            enable_automatic_rotation: p.opt_bool("EnableAutomaticRotation")?.unwrap_or(false),
            rotation_interval: p.opt_parsed("RotationInterval", RotationInterval::parse)?,
            // Not a parameter of the API: only the warehouse sets it, in process.
            viewer_account: None,
        })
    }
}

impl Wire for KeyRequest {
    fn to_wire(&self) -> Obj {
        Obj::new().s("KeyId", self.key_id.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self::new(p.string("KeyId")?))
    }
}

/// `PageNumber` and `PageSize`, with the request type's defaults.
fn page(p: &Params, default: (u32, u32)) -> Result<(u32, u32), KmsError> {
    Ok((
        p.opt_u32("PageNumber")?.unwrap_or(default.0),
        p.opt_u32("PageSize")?.unwrap_or(default.1),
    ))
}

impl Wire for ListKeysRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let d = Self::default();
        let (page_number, page_size) = page(p, (d.page_number, d.page_size))?;
        Ok(Self {
            page_number,
            page_size,
        })
    }
}

impl Wire for ScheduleKeyDeletionRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .n("PendingWindowInDays", self.pending_window_in_days)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            pending_window_in_days: p.u32("PendingWindowInDays")?,
        })
    }
}

impl Wire for ListKeyVersionsRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let d = Self::new(p.string("KeyId")?);
        let (page_number, page_size) = page(p, (d.page_number, d.page_size))?;
        Ok(Self {
            page_number,
            page_size,
            ..d
        })
    }
}

impl Wire for UpdateRotationPolicyRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .b("EnableAutomaticRotation", self.enable_automatic_rotation)
            .opt_s(
                "RotationInterval",
                self.rotation_interval.map(|r| r.to_string()),
            )
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            enable_automatic_rotation: p.bool("EnableAutomaticRotation")?,
            rotation_interval: p.opt_parsed("RotationInterval", RotationInterval::parse)?,
        })
    }
}

impl Wire for CreateAliasRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("AliasName", self.alias_name.as_str())
            .s("KeyId", self.key_id.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            alias_name: p.string("AliasName")?,
            key_id: p.string("KeyId")?,
        })
    }
}

impl Wire for DeleteAliasRequest {
    fn to_wire(&self) -> Obj {
        Obj::new().s("AliasName", self.alias_name.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            alias_name: p.string("AliasName")?,
        })
    }
}

impl Wire for ListAliasesRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let d = Self::default();
        let (page_number, page_size) = page(p, (d.page_number, d.page_size))?;
        Ok(Self {
            page_number,
            page_size,
        })
    }
}

impl Wire for EncryptRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .b64("Plaintext", self.plaintext.expose())
            .context("EncryptionContext", &self.encryption_context)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            plaintext: p.secret("Plaintext")?,
            encryption_context: p.context("EncryptionContext")?,
        })
    }
}

impl Wire for DecryptRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .b64("CiphertextBlob", &self.ciphertext_blob)
            .context("EncryptionContext", &self.encryption_context)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            ciphertext_blob: p.bytes("CiphertextBlob")?,
            encryption_context: p.context("EncryptionContext")?,
        })
    }
}

impl Wire for GenerateDataKeyRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .opt_s("KeySpec", self.key_spec.map(DataKeySpec::as_str))
            .opt_n("NumberOfBytes", self.number_of_bytes)
            .context("EncryptionContext", &self.encryption_context)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            key_spec: p.opt_parsed("KeySpec", DataKeySpec::parse)?,
            number_of_bytes: p.opt_u32("NumberOfBytes")?,
            encryption_context: p.context("EncryptionContext")?,
        })
    }
}

impl Wire for ReEncryptRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .b64("CiphertextBlob", &self.ciphertext_blob)
            .context("SourceEncryptionContext", &self.source_encryption_context)
            .s("DestinationKeyId", self.destination_key_id.as_str())
            .context(
                "DestinationEncryptionContext",
                &self.destination_encryption_context,
            )
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            ciphertext_blob: p.bytes("CiphertextBlob")?,
            source_encryption_context: p.context("SourceEncryptionContext")?,
            destination_key_id: p.string("DestinationKeyId")?,
            destination_encryption_context: p.context("DestinationEncryptionContext")?,
        })
    }
}

impl Wire for GetParametersForImportRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .s("WrappingAlgorithm", self.wrapping_algorithm.as_str())
            .s("WrappingKeySpec", self.wrapping_key_spec.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let d = Self::new(p.string("KeyId")?);
        Ok(Self {
            wrapping_algorithm: p
                .opt_parsed("WrappingAlgorithm", WrappingAlgorithm::parse)?
                .unwrap_or(d.wrapping_algorithm),
            wrapping_key_spec: p
                .opt_parsed("WrappingKeySpec", WrappingKeySpec::parse)?
                .unwrap_or(d.wrapping_key_spec),
            ..d
        })
    }
}

impl Wire for ImportKeyMaterialRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .b64("EncryptedKeyMaterial", &self.encrypted_key_material)
            .s("ImportToken", self.import_token.as_str())
            .opt_n("KeyMaterialExpireUnix", self.key_material_expire_unix)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            encrypted_key_material: p.bytes("EncryptedKeyMaterial")?,
            import_token: p.string("ImportToken")?,
            key_material_expire_unix: p.opt_i64("KeyMaterialExpireUnix")?,
        })
    }
}

/// `Outcome` of ListAuditEvents: `ok`, `error`, or an error code.
fn outcome_to_wire(o: OutcomeFilter) -> String {
    match o {
        OutcomeFilter::Ok => "ok".to_owned(),
        OutcomeFilter::AnyError => "error".to_owned(),
        OutcomeFilter::Code(code) => code.as_str().to_owned(),
    }
}

fn outcome_from_wire(s: &str) -> Result<OutcomeFilter, KmsError> {
    match s {
        "ok" => Ok(OutcomeFilter::Ok),
        "error" => Ok(OutcomeFilter::AnyError),
        code => sealhouse_kms::ErrorCode::from_code(code)
            .map(OutcomeFilter::Code)
            .ok_or_else(|| {
                KmsError::new(
                    sealhouse_kms::ErrorCode::InvalidParameter,
                    "the parameter Outcome must be ok, error, or an error code such as \
                     Forbidden.NoPermission",
                )
            }),
    }
}

impl Wire for ListAuditEventsRequest {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .opt_date("StartTime", self.start_time)
            .opt_date("EndTime", self.end_time)
            .opt_s("Principal", self.principal.as_deref())
            .opt_s("KeyId", self.key_id.as_deref())
            .opt_s("Action", self.action.as_deref())
            .opt_s("Outcome", self.outcome.map(outcome_to_wire))
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let d = Self::default();
        let (page_number, page_size) = page(p, (d.page_number, d.page_size))?;
        Ok(Self {
            start_time: p.opt_date("StartTime")?,
            end_time: p.opt_date("EndTime")?,
            principal: p.opt_string("Principal")?,
            key_id: p.opt_string("KeyId")?,
            action: p.opt_string("Action")?,
            outcome: p.opt_parsed("Outcome", outcome_from_wire)?,
            page_number,
            page_size,
        })
    }
}
