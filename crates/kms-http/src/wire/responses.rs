//! The JSON bodies of the responses, one [`Wire`] implementation per
//! response type. Every response carries `RequestId`; lists use the cloud's
//! wrapping (`"Keys": {"Key": [...]}`).

use sealhouse_kms::KmsError;
use sealhouse_kms::api::{
    Alias, AuditEvent, AuditOutcome, AutomaticRotation, CancelKeyDeletionResponse,
    CreateKeyResponse, CreateKeyVersionResponse, DecryptResponse, DescribeKeyResponse,
    EmptyResponse, EncryptResponse, GenerateDataKeyResponse,
    GenerateDataKeyWithoutPlaintextResponse, GetParametersForImportResponse, KeyListEntry,
    KeyMetadata, KeySpec, KeyState, KeyUsage, KeyVersion, ListAliasesResponse,
    ListAuditEventsResponse, ListKeyVersionsResponse, ListKeysResponse, Origin, ProtectionLevel,
    ReEncryptResponse, RotationInterval, ScheduleKeyDeletionResponse,
};

use super::Wire;
use super::params::{Obj, Params};

const REQUEST_ID: &str = "RequestId";

impl Wire for KeyMetadata {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .s("Arn", self.arn.as_str())
            .s("KeyState", self.key_state.as_str())
            .s("KeySpec", self.key_spec.as_str())
            .s("KeyUsage", self.key_usage.as_str())
            .s("Origin", self.origin.as_str())
            .s("Description", self.description.as_str())
            .s("Creator", self.creator.as_str())
            .date("CreationDate", self.creation_date)
            .opt_date("DeleteDate", self.delete_date)
            .opt_s("PrimaryKeyVersion", self.primary_key_version.as_deref())
            .opt_date("LastRotationDate", self.last_rotation_date)
            .s("AutomaticRotation", self.automatic_rotation.as_str())
            .opt_s(
                "RotationInterval",
                self.rotation_interval.map(|r| r.to_string()),
            )
            .opt_date("NextRotationDate", self.next_rotation_date)
            .opt_date("MaterialExpireTime", self.material_expire_time)
            .s("ProtectionLevel", self.protection_level.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            arn: p.string("Arn")?,
            key_state: p.parsed("KeyState", KeyState::parse)?,
            key_spec: p.parsed("KeySpec", KeySpec::parse)?,
            key_usage: p.parsed("KeyUsage", KeyUsage::parse)?,
            origin: p.parsed("Origin", Origin::parse)?,
            description: p.opt_string("Description")?.unwrap_or_default(),
            creator: p.string("Creator")?,
            creation_date: p.date("CreationDate")?,
            delete_date: p.opt_date("DeleteDate")?,
            primary_key_version: p.opt_string("PrimaryKeyVersion")?,
            last_rotation_date: p.opt_date("LastRotationDate")?,
            automatic_rotation: p.parsed("AutomaticRotation", AutomaticRotation::parse)?,
            rotation_interval: p.opt_parsed("RotationInterval", RotationInterval::parse)?,
            next_rotation_date: p.opt_date("NextRotationDate")?,
            material_expire_time: p.opt_date("MaterialExpireTime")?,
            protection_level: p.parsed("ProtectionLevel", ProtectionLevel::parse)?,
        })
    }
}

impl Wire for CreateKeyResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .obj("KeyMetadata", self.key_metadata.to_wire())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_metadata: KeyMetadata::from_wire(&p.object("KeyMetadata")?)?,
        })
    }
}

impl Wire for DescribeKeyResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .obj("KeyMetadata", self.key_metadata.to_wire())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_metadata: KeyMetadata::from_wire(&p.object("KeyMetadata")?)?,
        })
    }
}

impl Wire for EmptyResponse {
    fn to_wire(&self) -> Obj {
        Obj::new().s(REQUEST_ID, self.request_id.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
        })
    }
}

impl Wire for ListKeysResponse {
    fn to_wire(&self) -> Obj {
        let keys = self
            .keys
            .iter()
            .map(|k| {
                Obj::new()
                    .s("KeyId", k.key_id.as_str())
                    .s("KeyArn", k.key_arn.as_str())
            })
            .collect();
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .list("Keys", "Key", keys)
            .u("TotalCount", self.total_count)
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            keys: p
                .list("Keys", "Key")?
                .iter()
                .map(|k| {
                    Ok(KeyListEntry {
                        key_id: k.string("KeyId")?,
                        key_arn: k.string("KeyArn")?,
                    })
                })
                .collect::<Result<_, KmsError>>()?,
            total_count: p.u64("TotalCount")?,
            page_number: p.u32("PageNumber")?,
            page_size: p.u32("PageSize")?,
        })
    }
}

impl Wire for ScheduleKeyDeletionResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .date("DeleteDate", self.delete_date)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            delete_date: p.date("DeleteDate")?,
        })
    }
}

impl Wire for CancelKeyDeletionResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyState", self.key_state.as_str())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_state: p.parsed("KeyState", KeyState::parse)?,
        })
    }
}

impl Wire for KeyVersion {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s("KeyId", self.key_id.as_str())
            .s("KeyVersionId", self.key_version_id.as_str())
            .date("CreationDate", self.creation_date)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            key_id: p.string("KeyId")?,
            key_version_id: p.string("KeyVersionId")?,
            creation_date: p.date("CreationDate")?,
        })
    }
}

impl Wire for CreateKeyVersionResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .obj("KeyVersion", self.key_version.to_wire())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_version: KeyVersion::from_wire(&p.object("KeyVersion")?)?,
        })
    }
}

impl Wire for ListKeyVersionsResponse {
    fn to_wire(&self) -> Obj {
        let versions = self.key_versions.iter().map(Wire::to_wire).collect();
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .list("KeyVersions", "KeyVersion", versions)
            .u("TotalCount", self.total_count)
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_versions: p
                .list("KeyVersions", "KeyVersion")?
                .iter()
                .map(KeyVersion::from_wire)
                .collect::<Result<_, _>>()?,
            total_count: p.u64("TotalCount")?,
            page_number: p.u32("PageNumber")?,
            page_size: p.u32("PageSize")?,
        })
    }
}

impl Wire for ListAliasesResponse {
    fn to_wire(&self) -> Obj {
        let aliases = self
            .aliases
            .iter()
            .map(|a| {
                Obj::new()
                    .s("KeyId", a.key_id.as_str())
                    .s("AliasName", a.alias_name.as_str())
                    .s("AliasArn", a.alias_arn.as_str())
            })
            .collect();
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .list("Aliases", "Alias", aliases)
            .u("TotalCount", self.total_count)
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            aliases: p
                .list("Aliases", "Alias")?
                .iter()
                .map(|a| {
                    Ok(Alias {
                        key_id: a.string("KeyId")?,
                        alias_name: a.string("AliasName")?,
                        alias_arn: a.string("AliasArn")?,
                    })
                })
                .collect::<Result<_, KmsError>>()?,
            total_count: p.u64("TotalCount")?,
            page_number: p.u32("PageNumber")?,
            page_size: p.u32("PageSize")?,
        })
    }
}

impl Wire for EncryptResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .s("KeyVersionId", self.key_version_id.as_str())
            .b64("CiphertextBlob", &self.ciphertext_blob)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            key_version_id: p.string("KeyVersionId")?,
            ciphertext_blob: p.bytes("CiphertextBlob")?,
        })
    }
}

impl Wire for DecryptResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .s("KeyVersionId", self.key_version_id.as_str())
            .b64("Plaintext", self.plaintext.expose())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            key_version_id: p.string("KeyVersionId")?,
            plaintext: p.secret("Plaintext")?,
        })
    }
}

impl Wire for GenerateDataKeyResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .s("KeyVersionId", self.key_version_id.as_str())
            .b64("Plaintext", self.plaintext.expose())
            .b64("CiphertextBlob", &self.ciphertext_blob)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            key_version_id: p.string("KeyVersionId")?,
            plaintext: p.secret("Plaintext")?,
            ciphertext_blob: p.bytes("CiphertextBlob")?,
        })
    }
}

impl Wire for GenerateDataKeyWithoutPlaintextResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .s("KeyVersionId", self.key_version_id.as_str())
            .b64("CiphertextBlob", &self.ciphertext_blob)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            key_version_id: p.string("KeyVersionId")?,
            ciphertext_blob: p.bytes("CiphertextBlob")?,
        })
    }
}

impl Wire for ReEncryptResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .s("KeyVersionId", self.key_version_id.as_str())
            .s("SourceKeyId", self.source_key_id.as_str())
            .s("SourceKeyVersionId", self.source_key_version_id.as_str())
            .b64("CiphertextBlob", &self.ciphertext_blob)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            key_version_id: p.string("KeyVersionId")?,
            source_key_id: p.string("SourceKeyId")?,
            source_key_version_id: p.string("SourceKeyVersionId")?,
            ciphertext_blob: p.bytes("CiphertextBlob")?,
        })
    }
}

impl Wire for GetParametersForImportResponse {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .s("KeyId", self.key_id.as_str())
            .s("ImportToken", self.import_token.as_str())
            .b64("PublicKey", &self.public_key)
            .date("TokenExpireTime", self.token_expire_time)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            key_id: p.string("KeyId")?,
            import_token: p.string("ImportToken")?,
            public_key: p.bytes("PublicKey")?,
            token_expire_time: p.date("TokenExpireTime")?,
        })
    }
}

impl Wire for AuditEvent {
    fn to_wire(&self) -> Obj {
        Obj::new()
            .n("Sequence", self.sequence)
            .date("Time", self.time)
            .s(REQUEST_ID, self.request_id.as_str())
            .s("Principal", self.principal.as_str())
            .s("Action", self.action.as_str())
            .opt_s("KeyArn", self.key_arn.as_deref())
            .opt_s("OtherKeyArn", self.other_key_arn.as_deref())
            .s("Outcome", self.outcome.as_str())
            .opt_s("SourceIp", self.source_ip.as_deref())
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        let outcome = p.string("Outcome")?;
        Ok(Self {
            sequence: p.opt_i64("Sequence")?.ok_or_else(missing_sequence)?,
            time: p.date("Time")?,
            request_id: p.string(REQUEST_ID)?,
            principal: p.string("Principal")?,
            action: p.string("Action")?,
            key_arn: p.opt_string("KeyArn")?,
            other_key_arn: p.opt_string("OtherKeyArn")?,
            outcome: if outcome == "ok" {
                AuditOutcome::Ok
            } else {
                AuditOutcome::Error(outcome)
            },
            source_ip: p.opt_string("SourceIp")?,
        })
    }
}

fn missing_sequence() -> KmsError {
    KmsError::new(
        sealhouse_kms::ErrorCode::InvalidParameter,
        "the parameter Sequence is required",
    )
}

impl Wire for ListAuditEventsResponse {
    fn to_wire(&self) -> Obj {
        let events = self.events.iter().map(Wire::to_wire).collect();
        Obj::new()
            .s(REQUEST_ID, self.request_id.as_str())
            .list("Events", "Event", events)
            .u("TotalCount", self.total_count)
            .n("PageNumber", self.page_number)
            .n("PageSize", self.page_size)
    }

    fn from_wire(p: &Params) -> Result<Self, KmsError> {
        Ok(Self {
            request_id: p.string(REQUEST_ID)?,
            events: p
                .list("Events", "Event")?
                .iter()
                .map(AuditEvent::from_wire)
                .collect::<Result<_, _>>()?,
            total_count: p.u64("TotalCount")?,
            page_number: p.u32("PageNumber")?,
            page_size: p.u32("PageSize")?,
        })
    }
}
