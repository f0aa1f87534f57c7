//! How a `KeyId` finds its key: a key id, a key ARN, an alias name
//! (`alias/...`, in the caller's account and this region) or an alias ARN.
//!
//! Resolution applies any maintenance that is due on the key (deletion,
//! rotation, expiry of imported material), notes the key on the call for the
//! audit log, and authorises the action on its ARN. A key id that does not
//! exist is authorised as if the key were in the caller's account first, so a
//! caller without permission learns nothing; one with permission gets
//! `Forbidden.KeyNotFound`. A deleted key answers that it was deleted.

use sealhouse_iam::{AccountId, Arn};

use crate::api::KeyState;
use crate::call::Call;
use crate::error::{ErrorCode, KmsError, printable};
use crate::ids;
use crate::service::ServiceState;
use crate::store::{KeyRecord, Tx, alias_arn, to_time};

/// What a `KeyId` names.
enum KeyTarget {
    /// A key by id; from an ARN, also the region and account it named.
    Id {
        key_id: String,
        named: Option<(String, AccountId)>,
    },
    /// An alias; of the caller's account and this region unless an alias
    /// ARN named others.
    Alias {
        named: Option<(String, AccountId)>,
        name: String,
    },
}

impl ServiceState {
    /// The key `key_ref` names for the caller, with due maintenance applied,
    /// noted on the call, and `kms:<Operation>` authorised on it.
    pub(crate) fn resolve_key(
        &self,
        call: &mut Call<'_>,
        key_ref: &str,
    ) -> Result<KeyRecord, KmsError> {
        let action = call.action();
        self.resolve_key_for(call, key_ref, &action)
    }

    /// [`ServiceState::resolve_key`] authorising `action`.
    pub(crate) fn resolve_key_for(
        &self,
        call: &mut Call<'_>,
        key_ref: &str,
        action: &str,
    ) -> Result<KeyRecord, KmsError> {
        let account = call.caller_account()?;
        let target = parse_key_ref(key_ref)?;
        if let KeyTarget::Id {
            named: Some((region, _)),
            ..
        }
        | KeyTarget::Alias {
            named: Some((region, _)),
            ..
        } = &target
            && *region != self.region
        {
            return Err(KmsError::new(
                ErrorCode::KeyNotFound,
                format!(
                    "{} names region {}, but this KMS serves region {}: a key is used in its \
                     own region; name a key of {}, or run Sealhouse for region {} (--region, \
                     $SEALHOUSE_REGION)",
                    printable(key_ref),
                    printable(region),
                    self.region,
                    self.region,
                    printable(region)
                ),
            ));
        }
        let (key_id, named) = match target {
            KeyTarget::Id { key_id, named } => (key_id, named),
            KeyTarget::Alias { named, name } => {
                let (region, alias_account) =
                    named.unwrap_or_else(|| (self.region.clone(), account.clone()));
                let found = self
                    .store
                    .read(|tx| tx.alias(&alias_account, &region, &name))?;
                let Some(alias) = found else {
                    let arn = alias_arn(&region, &alias_account, &name);
                    call.authorize_text(action, &arn)?;
                    return Err(KmsError::new(
                        ErrorCode::AliasNotFound,
                        format!(
                            "alias {arn} does not exist; list the aliases with ListAliases, or \
                             create it with CreateAlias"
                        ),
                    ));
                };
                (alias.key_id, None)
            }
        };
        let found = self.maintain_key(&key_id, call.now_unix())?;
        let named_matches = |k: &KeyRecord| {
            named
                .as_ref()
                .is_none_or(|(region, acct)| *region == k.region && *acct == k.account)
        };
        let Some(key) = found.filter(named_matches) else {
            let (region, acct) = named.unwrap_or_else(|| (self.region.clone(), account));
            let arn = Arn::kms_key(&region, &acct, &key_id);
            call.note_missing_key(arn.to_string(), key_id);
            call.authorize(action, &arn)?;
            return Err(KmsError::key_not_found(&arn.to_string()));
        };
        call.note_key(&key);
        self.authorize_on_key(call, action, &key)?;
        if key.deleted_at.is_some() {
            return Err(KmsError::key_deleted(
                &key.arn_text(),
                key.deleted_at.map(to_time),
            ));
        }
        Ok(key)
    }
}

impl ServiceState {
    /// Authorises `action` on `key`. A key's own account may do what its
    /// policies allow; another account only DescribeKey, and only when the
    /// key names it a viewer (a project's default key, seen by the project's
    /// owner) and its own policies allow it.
    fn authorize_on_key(
        &self,
        call: &Call<'_>,
        action: &str,
        key: &KeyRecord,
    ) -> Result<(), KmsError> {
        let denied = match call.authorize(action, &key.arn()) {
            Ok(()) => return Ok(()),
            Err(denied) => denied,
        };
        let viewer = match call.caller_account() {
            Ok(account) if account != key.account && action == "kms:DescribeKey" => {
                self.store.read(|tx| tx.is_viewer(&key.key_id, &account))?
            }
            _ => false,
        };
        if viewer {
            call.authorize_consented(action, &key.arn())
        } else {
            Err(denied)
        }
    }
}

/// The key as it is now in the store, inside a transaction: a key deleted
/// since it was resolved is reported as deleted.
pub(crate) fn live_key(tx: &Tx<'_>, key: &KeyRecord) -> Result<KeyRecord, KmsError> {
    match tx.key(&key.key_id)? {
        Some(k) if k.deleted_at.is_none() => Ok(k),
        Some(k) => Err(KmsError::key_deleted(
            &k.arn_text(),
            k.deleted_at.map(to_time),
        )),
        None => Err(KmsError::key_not_found(&key.arn_text())),
    }
}

/// Refuses cryptographic `operation` unless the key is Enabled.
pub(crate) fn require_enabled(key: &KeyRecord, operation: &str) -> Result<(), KmsError> {
    if key.state == KeyState::Enabled {
        Ok(())
    } else {
        Err(KmsError::unusable(
            &key.arn_text(),
            key.state,
            operation,
            key.delete_date.map(to_time),
        ))
    }
}

/// Reads a `KeyId`: key id, key ARN, alias name, or alias ARN. An alias name
/// belongs to the caller's account ([`KeyTarget::Alias`] gets it filled in).
fn parse_key_ref(key_ref: &str) -> Result<KeyTarget, KmsError> {
    if key_ref.starts_with("alias/") {
        return alias_target(None, key_ref);
    }
    if key_ref.starts_with("acs:") {
        let bad = || {
            KmsError::invalid(format!(
                "KeyId {} is not a KMS key ARN (acs:kms:<region>:<uid>:key/<key-id>) or alias \
                 ARN (acs:kms:<region>:<uid>:alias/<name>)",
                printable(key_ref)
            ))
        };
        return match Arn::parse(key_ref).map_err(|_| bad())? {
            Arn::KmsKey {
                region,
                account,
                key_id,
            } => {
                ids::check_key_id(&key_id)?;
                Ok(KeyTarget::Id {
                    key_id,
                    named: Some((region, account)),
                })
            }
            Arn::Other {
                service,
                region,
                account: Some(account),
                resource,
            } if service == "kms" && resource.starts_with("alias/") => {
                alias_target(Some((region, account)), &resource)
            }
            _ => Err(bad()),
        };
    }
    ids::check_key_id(key_ref)?;
    Ok(KeyTarget::Id {
        key_id: key_ref.to_owned(),
        named: None,
    })
}

fn alias_target(named: Option<(String, AccountId)>, name: &str) -> Result<KeyTarget, KmsError> {
    crate::aliases::check_alias_name(name)?;
    Ok(KeyTarget::Alias {
        named,
        name: name.to_owned(),
    })
}
