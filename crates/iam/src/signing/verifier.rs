//! The server side: decides whether a signed request is authentic, fresh and
//! not a replay, and who sent it.
//!
//! The checks, in order (cheap and secret-free ones first; the nonce is
//! recorded only once everything else passed, so a forged request cannot use
//! up a genuine request's nonce):
//!
//! 1. exactly one Authorization header, which parses;
//! 2. `host`, `x-acs-date`, `x-acs-signature-nonce` and
//!    `x-acs-content-sha256` are present and signed, and so is every other
//!    `x-acs-*` header present (the security token and the action included)
//!    and `content-type`; each of these appears once;
//! 3. `x-acs-date` is within the window of the server's clock (default ±15
//!    minutes, as the cloud documents);
//! 4. the nonce is 1 to 128 printable ASCII characters;
//! 5. `x-acs-content-sha256` is the SHA-256 of the body;
//! 6. the credential lookup knows the access key and it is usable;
//! 7. the signature matches, compared in constant time;
//! 8. the security token belongs to the key (STS keys need theirs,
//!    long-lived keys none);
//! 9. the signed `host` is one this endpoint answers to (when it was told
//!    which: [`Verifier::with_hosts`]), so a request captured on its way to
//!    another endpoint cannot be replayed here;
//! 10. the (access key id, nonce) pair was not seen within the window, by
//!     this verifier's [`NonceLedger`].

use std::fmt;
use std::sync::Arc;

use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::canonical::{
    CanonicalRequest, canonical_headers, canonical_query_string, canonical_uri, must_be_signed,
    sha256_hex,
};
use super::error::SignatureError;
use super::header::AuthorizationHeader;
use super::replay::{DEFAULT_REPLAY_CAPACITY, NonceLedger, Refusal, ReplayCache, digest};
use super::{MAX_NONCE_LEN, RequestParts, headers, parse_date};
use crate::authn::SigningCredential;
use crate::clock::{Clock, SystemClock};
use crate::error::Error;
use crate::principal::Principal;
use crate::service::Iam;

/// The default window around the server's time within which `x-acs-date`
/// must fall: 15 minutes either way.
pub const DEFAULT_WINDOW: Duration = Duration::minutes(15);

const MIN_WINDOW: Duration = Duration::seconds(1);

/// How much of a refused `host` header an error repeats.
const MAX_HOST_SHOWN: usize = 100;
const MAX_WINDOW: Duration = Duration::hours(24);

/// Finds the secret of an access key: [`Iam`] does it with
/// [`Iam::secret_for_access_key`]; [`LookupFn`] adapts a closure.
pub trait CredentialLookup: Send + Sync {
    /// The credential of a usable access key, or why there is none.
    fn signing_credential(&self, access_key_id: &str) -> Result<SigningCredential, Error>;
}

impl CredentialLookup for Iam {
    fn signing_credential(&self, access_key_id: &str) -> Result<SigningCredential, Error> {
        self.secret_for_access_key(access_key_id)
    }
}

impl<T: CredentialLookup + ?Sized> CredentialLookup for Arc<T> {
    fn signing_credential(&self, access_key_id: &str) -> Result<SigningCredential, Error> {
        (**self).signing_credential(access_key_id)
    }
}

impl<T: CredentialLookup + ?Sized> CredentialLookup for &T {
    fn signing_credential(&self, access_key_id: &str) -> Result<SigningCredential, Error> {
        (**self).signing_credential(access_key_id)
    }
}

/// A closure as a [`CredentialLookup`].
pub struct LookupFn<F>(pub F);

impl<F> CredentialLookup for LookupFn<F>
where
    F: Fn(&str) -> Result<SigningCredential, Error> + Send + Sync,
{
    fn signing_credential(&self, access_key_id: &str) -> Result<SigningCredential, Error> {
        (self.0)(access_key_id)
    }
}

impl<F> fmt::Debug for LookupFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LookupFn")
    }
}

/// What a verified request established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The access key id that signed.
    pub access_key_id: String,
    /// Whom the key acts as.
    pub principal: Principal,
    /// For STS credentials, when they expire.
    pub expiration: Option<OffsetDateTime>,
    /// The signed `x-acs-action`, if the request had one.
    pub action: Option<String>,
    /// The signed `x-acs-version`, if the request had one.
    pub version: Option<String>,
    /// The signed `x-acs-date`.
    pub date: OffsetDateTime,
    /// The signed nonce.
    pub nonce: String,
}

/// Verifies signed requests against a credential lookup, a clock and a
/// nonce ledger. Share one per process (it is `Sync`); give it a ledger
/// shared by every process ([`Verifier::with_nonce_ledger`]) so that a
/// replay to another process or after a restart is caught too.
pub struct Verifier<L, C = SystemClock> {
    lookup: L,
    clock: C,
    window: Duration,
    replay: Arc<dyn NonceLedger>,
    hosts: Option<Vec<String>>,
}

impl<L, C> fmt::Debug for Verifier<L, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("window", &self.window)
            .field("replay", &self.replay)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl<L: CredentialLookup> Verifier<L> {
    /// A verifier on the system clock with the default window and replay
    /// capacity.
    pub fn new(lookup: L) -> Self {
        Self {
            lookup,
            clock: SystemClock,
            window: DEFAULT_WINDOW,
            replay: Arc::new(ReplayCache::new(DEFAULT_REPLAY_CAPACITY)),
            hosts: None,
        }
    }
}

fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches(|c| c == ' ' || c == '\t'))
        .collect()
}

fn at_most_one<'a>(
    headers: &'a [(String, String)],
    name: &'static str,
) -> Result<Option<&'a str>, SignatureError> {
    match values(headers, name).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(SignatureError::InvalidHeader {
            name: name.to_owned(),
            reason: "it appears more than once",
        }),
    }
}

fn exactly_one<'a>(
    headers: &'a [(String, String)],
    name: &'static str,
) -> Result<&'a str, SignatureError> {
    at_most_one(headers, name)?.ok_or_else(|| SignatureError::MissingHeader(name.to_owned()))
}

impl<L: CredentialLookup, C: Clock> Verifier<L, C> {
    /// Uses another clock.
    pub fn with_clock<C2: Clock>(self, clock: C2) -> Verifier<L, C2> {
        Verifier {
            lookup: self.lookup,
            clock,
            window: self.window,
            replay: self.replay,
            hosts: self.hosts,
        }
    }

    /// Sets the window around the server's time in which `x-acs-date` must
    /// fall (clamped to 1 second ..= 24 hours). Nonces are remembered for as
    /// long, so a wider window costs memory.
    #[must_use]
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window.clamp(MIN_WINDOW, MAX_WINDOW);
        self
    }

    /// Remembers nonces in `ledger` in place of this verifier's own
    /// in-memory [`ReplayCache`].
    #[must_use]
    pub fn with_nonce_ledger(mut self, ledger: Arc<dyn NonceLedger>) -> Self {
        self.replay = ledger;
        self
    }

    /// Accepts only requests signed for one of `hosts` (the `host` header,
    /// `name:port` as clients send it; compared without regard to case).
    #[must_use]
    pub fn with_hosts(mut self, hosts: Vec<String>) -> Self {
        self.hosts = Some(hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect());
        self
    }

    /// The window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Verifies a request (see the module documentation for the checks).
    pub fn verify(&self, req: &RequestParts<'_>) -> Result<Verified, SignatureError> {
        let auth = match values(req.headers, headers::AUTHORIZATION).as_slice() {
            [] => return Err(SignatureError::MissingAuthorization),
            [one] => AuthorizationHeader::parse(one)?,
            _ => {
                return Err(SignatureError::MalformedAuthorization(
                    "the request has more than one Authorization header",
                ));
            }
        };
        let signed: Vec<&str> = auth.signed_headers().iter().map(String::as_str).collect();
        let is_signed = |name: &str| signed.binary_search(&name).is_ok();

        for name in [
            headers::HOST,
            headers::DATE,
            headers::NONCE,
            headers::CONTENT_SHA256,
        ] {
            if values(req.headers, name).is_empty() {
                return Err(SignatureError::MissingHeader(name.to_owned()));
            }
        }
        for (name, _) in req.headers {
            let name = name.to_ascii_lowercase();
            if must_be_signed(&name) && !is_signed(&name) {
                return Err(SignatureError::UnsignedHeader(name));
            }
        }
        let host = exactly_one(req.headers, headers::HOST)?;
        let date = exactly_one(req.headers, headers::DATE)?;
        let nonce = exactly_one(req.headers, headers::NONCE)?;
        let content_sha256 = exactly_one(req.headers, headers::CONTENT_SHA256)?;
        let action = at_most_one(req.headers, headers::ACTION)?;
        let version = at_most_one(req.headers, headers::VERSION)?;
        let token = at_most_one(req.headers, headers::SECURITY_TOKEN)?;

        let date = parse_date(date).ok_or_else(|| SignatureError::InvalidHeader {
            name: headers::DATE.to_owned(),
            reason: "it is not a UTC time of the form yyyy-MM-ddTHH:mm:ssZ",
        })?;
        let now = self.clock.now();
        let window_seconds = self.window.whole_seconds();
        if now
            .checked_sub(self.window)
            .is_some_and(|earliest| date < earliest)
        {
            return Err(SignatureError::Expired {
                date,
                now,
                window_seconds,
            });
        }
        if now
            .checked_add(self.window)
            .is_some_and(|latest| date > latest)
        {
            return Err(SignatureError::NotYetValid {
                date,
                now,
                window_seconds,
            });
        }

        if nonce.is_empty()
            || nonce.len() > MAX_NONCE_LEN
            || !nonce.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(SignatureError::InvalidHeader {
                name: headers::NONCE.to_owned(),
                reason: "it is not 1 to 128 printable ASCII characters",
            });
        }

        let hex_ok = content_sha256.len() == 64
            && content_sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex_ok {
            return Err(SignatureError::InvalidHeader {
                name: headers::CONTENT_SHA256.to_owned(),
                reason: "it is not 64 lower-case hex digits",
            });
        }
        if content_sha256 != sha256_hex(req.body) {
            return Err(SignatureError::BodyHashMismatch);
        }

        let canonical = CanonicalRequest::from_parts(
            req.method,
            &canonical_uri(req.path),
            &canonical_query_string(req.query),
            &canonical_headers(req.headers, &signed)?,
            &signed.join(";"),
            content_sha256,
        );

        let credential = self
            .lookup
            .signing_credential(auth.access_key_id())
            .map_err(SignatureError::from_lookup)?;
        let expected = canonical.signature(credential.secret.expose_bytes());
        if !bool::from(expected.ct_eq(auth.signature())) {
            return Err(SignatureError::SignatureMismatch);
        }
        credential
            .check_security_token(token)
            .map_err(SignatureError::BadSecurityToken)?;

        if let Some(hosts) = &self.hosts
            && !hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
        {
            return Err(SignatureError::WrongHost {
                signed: host.chars().take(MAX_HOST_SHOWN).collect(),
                expected: hosts.clone(),
            });
        }

        let forget_at = date.checked_add(self.window).unwrap_or(date);
        self.replay
            .record(
                &digest(auth.access_key_id(), nonce),
                forget_at.unix_timestamp(),
                now.unix_timestamp(),
            )
            .map_err(|r| match r {
                Refusal::Replayed => SignatureError::ReplayedNonce {
                    access_key_id: credential.access_key_id.clone(),
                },
                Refusal::Full => SignatureError::ReplayCacheFull,
                Refusal::Unavailable(why) => SignatureError::NonceLedgerUnavailable(why),
            })?;

        Ok(Verified {
            access_key_id: credential.access_key_id.clone(),
            principal: credential.principal.clone(),
            expiration: credential.expiration,
            action: action.map(str::to_owned),
            version: version.map(str::to_owned),
            date,
            nonce: nonce.to_owned(),
        })
    }
}
