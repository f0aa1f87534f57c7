//! Aliases: CreateAlias, ListAliases, DeleteAlias, and the alias name rule.
//!
//! An alias `alias/<name>` names one key of its account in its region; the
//! crypto operations accept it wherever they take a `KeyId`. CreateAlias and
//! DeleteAlias are authorised on both the alias ARN
//! (`acs:kms:<region>:<uid>:alias/<name>`) and the key's ARN, as in the cloud,
//! so a principal allowed to manage aliases cannot point one at a key it has
//! no rights on. Aliases of a key are deleted with it.

use crate::api::{
    Alias, CreateAliasRequest, DeleteAliasRequest, EmptyResponse, KeyState, ListAliasesRequest,
    ListAliasesResponse, page_offset,
};
use crate::call::Call;
use crate::error::{ErrorCode, KmsError, printable};
use crate::resolve::live_key;
use crate::service::ServiceState;
use crate::store::{AliasRecord, alias_arn};

/// Checks an alias name: `alias/` then 1 to 249 letters, digits, `_`, `-` or
/// `/` (255 characters in all), not beginning with the reserved `alias/acs`.
pub(crate) fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let rest = name.strip_prefix("alias/").unwrap_or_default();
    let ok = !rest.is_empty()
        && name.len() <= 255
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'/');
    if !ok {
        return Err(KmsError::invalid(format!(
            "AliasName {} is not valid; use alias/ followed by 1 to 249 letters, digits, _, - \
             or /, such as alias/warehouse-key",
            printable(name)
        )));
    }
    if rest.starts_with("acs") {
        return Err(KmsError::invalid(format!(
            "AliasName {} begins with the reserved prefix alias/acs; choose another name",
            printable(name)
        )));
    }
    Ok(())
}

impl ServiceState {
    /// CreateAlias.
    pub(crate) fn create_alias(
        &self,
        call: &mut Call<'_>,
        request: &CreateAliasRequest,
    ) -> Result<EmptyResponse, KmsError> {
        check_alias_name(&request.alias_name)?;
        if request.key_id.starts_with("alias/") || request.key_id.contains(":alias/") {
            return Err(KmsError::invalid(
                "KeyId of CreateAlias must be a key id or key ARN, not another alias",
            ));
        }
        let account = call.caller_account()?;
        let alias_arn = alias_arn(&self.region, &account, &request.alias_name);
        call.authorize_text(&call.action(), &alias_arn)?;
        let key = self.resolve_key(call, &request.key_id)?;
        if key.account != account {
            return Err(KmsError::new(
                ErrorCode::NoPermission,
                format!("an alias of account {account} cannot name a key of another account"),
            ));
        }
        let now = call.now_unix();
        self.store.write(|tx| {
            let key = live_key(tx, &key)?;
            if key.state == KeyState::PendingDeletion {
                return Err(KmsError::state_conflict(
                    &key.arn_text(),
                    key.state,
                    "create an alias for",
                    "cancel its deletion first",
                ));
            }
            let alias = AliasRecord {
                account: account.clone(),
                region: self.region.clone(),
                alias_name: request.alias_name.clone(),
                key_id: key.key_id.clone(),
            };
            if tx.insert_alias(&alias, now)? {
                Ok(())
            } else {
                Err(KmsError::new(
                    ErrorCode::AliasAlreadyExists,
                    format!(
                        "alias {alias_arn} already exists; delete it first (DeleteAlias) or \
                         choose another name"
                    ),
                ))
            }
        })?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }

    /// DeleteAlias.
    pub(crate) fn delete_alias(
        &self,
        call: &mut Call<'_>,
        request: &DeleteAliasRequest,
    ) -> Result<EmptyResponse, KmsError> {
        check_alias_name(&request.alias_name)?;
        let account = call.caller_account()?;
        let alias_arn = alias_arn(&self.region, &account, &request.alias_name);
        call.authorize_text(&call.action(), &alias_arn)?;
        let found = self
            .store
            .read(|tx| tx.alias(&account, &self.region, &request.alias_name))?;
        let Some(alias) = found else {
            return Err(KmsError::new(
                ErrorCode::AliasNotFound,
                format!("alias {alias_arn} does not exist; list the aliases with ListAliases"),
            ));
        };
        // The key's ARN must allow it too (the key may be gone: then the
        // alias alone decides, as it does in the cloud).
        if let Some(key) = self.store.read(|tx| tx.key(&alias.key_id))? {
            call.note_key(&key);
            call.authorize(&call.action(), &key.arn())?;
        }
        self.store.write(|tx| tx.delete_alias(&alias))?;
        Ok(EmptyResponse {
            request_id: call.request_id(),
        })
    }

    /// ListAliases: authorised as `kms:ListAliases` on
    /// `acs:kms:<region>:<account>:alias`.
    pub(crate) fn list_aliases(
        &self,
        call: &mut Call<'_>,
        request: &ListAliasesRequest,
    ) -> Result<ListAliasesResponse, KmsError> {
        let account = call.caller_account()?;
        call.authorize_text(
            &call.action(),
            &format!("acs:kms:{}:{account}:alias", self.region),
        )?;
        let offset = page_offset(request.page_number, request.page_size, 100)?;
        let (aliases, total_count) = self
            .store
            .read(|tx| tx.aliases_page(&account, &self.region, offset, request.page_size))?;
        Ok(ListAliasesResponse {
            request_id: call.request_id(),
            aliases: aliases
                .into_iter()
                .map(|a| Alias {
                    alias_arn: a.arn_text(),
                    key_id: a.key_id,
                    alias_name: a.alias_name,
                })
                .collect(),
            total_count,
            page_number: request.page_number,
            page_size: request.page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_the_clouds_rule() {
        for ok in ["alias/a", "alias/warehouse-key_1", "alias/team/x"] {
            check_alias_name(ok).unwrap();
        }
        for bad in [
            "a",
            "alias/",
            "alias/a b",
            "Alias/a",
            "alias/acs-x",
            "alias/é",
        ] {
            assert!(check_alias_name(bad).is_err(), "{bad}");
        }
        check_alias_name(&format!("alias/{}", "a".repeat(249))).unwrap();
        assert!(check_alias_name(&format!("alias/{}", "a".repeat(250))).is_err());
    }
}
