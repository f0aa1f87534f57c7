//! Authentication: from an access key id to the principal it acts as, and the
//! secret that the HTTP layer needs to verify a request's signature.
//!
//! [`crate::signing::Verifier`] verifies request signatures with it: it
//! canonicalises the request, computes the HMAC with
//! [`SigningCredential::secret`], compares in constant time, and calls
//! [`SigningCredential::check_security_token`] with the token the request
//! carried.

use ring::digest::{SHA256, digest};
use sealhouse_crypto::SecretBytes;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::error::{AuthError, Error};
use crate::principal::Principal;
use crate::secret::{SealError, SecretText};
use crate::service::Iam;

/// Prefix of temporary (STS) access key ids.
pub const STS_KEY_PREFIX: &str = "STS.";

/// What the HTTP layer needs to verify a signed request.
#[derive(Debug)]
pub struct SigningCredential {
    /// The access key id.
    pub access_key_id: String,
    /// Whom the key acts as.
    pub principal: Principal,
    /// The HMAC key.
    pub secret: SecretText,
    /// For STS credentials, when they expire.
    pub expiration: Option<OffsetDateTime>,
    token_sha256: Option<[u8; 32]>,
}

impl SigningCredential {
    /// A credential from outside the identity service: for a
    /// [`crate::signing::CredentialLookup`] over another source, and for
    /// tests. The secret must be printable ASCII, as the service's are; with
    /// a `security_token` the credential is a temporary one, and requests
    /// must present that token.
    pub fn new(
        access_key_id: impl Into<String>,
        principal: Principal,
        secret: SecretBytes,
        expiration: Option<OffsetDateTime>,
        security_token: Option<&[u8]>,
    ) -> Result<Self, SealError> {
        let token_sha256 = security_token.map(|t| {
            let mut out = [0u8; 32];
            out.copy_from_slice(digest(&SHA256, t).as_ref());
            out
        });
        Ok(Self {
            access_key_id: access_key_id.into(),
            principal,
            secret: SecretText::from_secret(secret)?,
            expiration,
            token_sha256,
        })
    }

    /// Whether requests must present a security token (STS credentials).
    pub fn needs_security_token(&self) -> bool {
        self.token_sha256.is_some()
    }

    /// Checks the security token a request presented: STS credentials need
    /// their own token, long-lived keys need none.
    pub fn check_security_token(&self, presented: Option<&str>) -> Result<(), AuthError> {
        let ok = match (&self.token_sha256, presented) {
            (None, None) => true,
            (Some(expected), Some(token)) => {
                bool::from(digest(&SHA256, token.as_bytes()).as_ref().ct_eq(expected))
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(AuthError::BadSecurityToken {
                id: self.access_key_id.clone(),
            })
        }
    }
}

/// How an unknown access key id appears in errors: quoted when it looks like
/// one, otherwise only its length, so that a secret passed in its place (the
/// two swapped by mistake) is not written to a log.
fn shown_id(id: &str) -> String {
    let looks_like_an_id = (id.starts_with("LTAI") || id.starts_with(STS_KEY_PREFIX))
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if looks_like_an_id {
        format!("'{id}'")
    } else {
        format!(
            "(a value of {} bytes that is not an access key id, not shown)",
            id.len()
        )
    }
}

/// SHA-256 of a security token, as stored.
pub(crate) fn token_hash(token: &SecretText) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.expose_bytes()).as_ref());
    out
}

impl Iam {
    /// The principal an access key acts as, if the key is usable: it exists,
    /// is active (or, for STS keys, unexpired), and its owner still exists.
    pub fn authenticate(&self, access_key_id: &str) -> Result<Principal, Error> {
        Ok(self.secret_for_access_key(access_key_id)?.principal)
    }

    /// The principal and secret of a usable access key (see
    /// [`Iam::authenticate`]), for signature verification.
    pub fn secret_for_access_key(&self, access_key_id: &str) -> Result<SigningCredential, Error> {
        let id = access_key_id.to_owned();
        let unknown = || AuthError::UnknownAccessKey {
            id: shown_id(access_key_id),
        };
        if access_key_id.starts_with(STS_KEY_PREFIX) {
            let s = self
                .store()
                .sts_session(access_key_id)?
                .ok_or_else(unknown)?;
            if s.expires_at <= self.now() {
                return Err(AuthError::Expired {
                    id,
                    expired_at: s.expires_at,
                }
                .into());
            }
            self.require_principal(&s.principal, &id)?;
            let secret = self.sealer().unseal(&s.sealed_secret, id.as_bytes())?;
            return Ok(SigningCredential {
                access_key_id: id,
                principal: s.principal,
                secret: SecretText::from_secret(secret)?,
                expiration: Some(s.expires_at),
                token_sha256: Some(s.token_sha256),
            });
        }
        let key = self
            .store()
            .access_key(access_key_id)?
            .ok_or_else(unknown)?;
        if key.status != crate::model::AccessKeyStatus::Active {
            return Err(AuthError::AccessKeyInactive { id }.into());
        }
        self.require_principal(&key.owner, &id)?;
        let secret = self.sealer().unseal(&key.sealed_secret, id.as_bytes())?;
        Ok(SigningCredential {
            access_key_id: id,
            principal: key.owner,
            secret: SecretText::from_secret(secret)?,
            expiration: None,
            token_sha256: None,
        })
    }

    fn require_principal(&self, principal: &Principal, id: &str) -> Result<(), Error> {
        let exists = match principal {
            Principal::Root { account } => self.store().account(account)?.is_some(),
            Principal::User { account, name } => self.store().user(account, name)?.is_some(),
            Principal::AssumedRole { account, role, .. } => {
                self.store().role(account, role)?.is_some()
            }
            Principal::Service(_) => false,
        };
        if exists {
            Ok(())
        } else {
            Err(AuthError::OwnerGone { id: id.to_owned() }.into())
        }
    }
}
