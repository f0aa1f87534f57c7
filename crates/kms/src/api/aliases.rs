//! Requests and responses of aliases: CreateAlias, ListAliases, DeleteAlias.
//!
//! An alias is a name `alias/<name>` for one key, unique in its account and
//! region; crypto operations accept it wherever they take a `KeyId`.

use serde::{Deserialize, Serialize};

/// CreateAlias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateAliasRequest {
    /// `AliasName`: `alias/` and 1 to 249 letters, digits, `_`, `-` or `/`;
    /// not beginning `alias/acs`.
    pub alias_name: String,
    /// `KeyId`: a key id or key ARN.
    pub key_id: String,
}

/// DeleteAlias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAliasRequest {
    /// `AliasName`.
    pub alias_name: String,
}

/// ListAliases: the caller's aliases in this region, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListAliasesRequest {
    /// `PageNumber`, from 1.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`, 1 to 100.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_size: u32,
}

impl Default for ListAliasesRequest {
    fn default() -> Self {
        Self {
            page_number: 1,
            page_size: 10,
        }
    }
}

/// One alias (`Alias`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alias {
    /// `KeyId` it names.
    pub key_id: String,
    /// `AliasName`.
    pub alias_name: String,
    /// `AliasArn`: `acs:kms:<region>:<uid>:alias/<name>`.
    pub alias_arn: String,
}

/// ListAliases' answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `Aliases`.
    #[serde(default, with = "super::json_form::aliases")]
    pub aliases: Vec<Alias>,
    /// `TotalCount`.
    #[serde(deserialize_with = "super::json_form::u64")]
    pub total_count: u64,
    /// `PageNumber`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_number: u32,
    /// `PageSize`.
    #[serde(deserialize_with = "super::json_form::u32")]
    pub page_size: u32,
}
