//! Requests and responses of aliases: CreateAlias, ListAliases, DeleteAlias.
//!
//! An alias is a name `alias/<name>` for one key, unique in its account and
//! region; crypto operations accept it wherever they take a `KeyId`.

/// CreateAlias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAliasRequest {
    /// `AliasName`: `alias/` and 1 to 249 letters, digits, `_`, `-` or `/`;
    /// not beginning `alias/acs`.
    pub alias_name: String,
    /// `KeyId`: a key id or key ARN.
    pub key_id: String,
}

/// DeleteAlias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAliasRequest {
    /// `AliasName`.
    pub alias_name: String,
}

/// ListAliases: the caller's aliases in this region, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAliasesRequest {
    /// `PageNumber`, from 1.
    pub page_number: u32,
    /// `PageSize`, 1 to 100.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// `KeyId` it names.
    pub key_id: String,
    /// `AliasName`.
    pub alias_name: String,
    /// `AliasArn`: `acs:kms:<region>:<uid>:alias/<name>`.
    pub alias_arn: String,
}

/// ListAliases' answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListAliasesResponse {
    /// `RequestId`.
    pub request_id: String,
    /// `Aliases`.
    pub aliases: Vec<Alias>,
    /// `TotalCount`.
    pub total_count: u64,
    /// `PageNumber`.
    pub page_number: u32,
    /// `PageSize`.
    pub page_size: u32,
}
