//! Signing in: a PostgreSQL client names an access key id as its user and
//! gives the key's secret as its password (STS credentials: the secret and
//! the security token joined by `:`), and the connection then acts as the
//! principal the key belongs to.
//!
//! The password travels in clear text inside the connection (PostgreSQL's
//! `password` method), so the server listens on loopback unless told
//! otherwise and can wrap connections in TLS. SCRAM would keep the secret
//! off the wire but cannot carry an STS token, which the server only knows
//! by its hash.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{ClientInfo, METADATA_USER, PgWireConnectionState};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sealhouse_iam::{Iam, Principal};
use subtle::ConstantTimeEq;

use crate::connection::Connection;

/// Checks `password` for the access key `user`; the principal on success.
/// Every failure is the same to the client (no oracle for which part was
/// wrong); the reason goes to the server log, without the secret.
pub(crate) fn check_password(iam: &Iam, user: &str, password: &str) -> Result<Principal, String> {
    let credential = iam
        .secret_for_access_key(user)
        .map_err(|e| format!("access key not usable: {e}"))?;
    let (secret, token) = if credential.needs_security_token() {
        match password.split_once(':') {
            Some((secret, token)) => (secret, Some(token)),
            None => {
                return Err(
                    "STS credentials need '<secret>:<security token>' as the password".to_owned(),
                );
            }
        }
    } else {
        (password, None)
    };
    let same: bool = credential
        .secret
        .expose_bytes()
        .ct_eq(secret.as_bytes())
        .into();
    if !same {
        return Err("wrong secret".to_owned());
    }
    credential
        .check_security_token(token)
        .map_err(|e| e.to_string())?;
    Ok(credential.principal)
}

/// The startup handler of one connection: asks for the password, checks it,
/// and opens the connection's session as the key's principal.
pub(crate) struct PasswordStartup {
    pub(crate) connection: Arc<Connection>,
    pub(crate) parameters: ServerParameters,
}

#[async_trait]
impl StartupHandler for PasswordStartup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(message) => {
                let password = message.into_password()?;
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let database = client.metadata().get("database").cloned();
                let principal = match check_password(
                    self.connection.shared.iam(),
                    &user,
                    &password.password,
                ) {
                    Ok(principal) => principal,
                    Err(reason) => {
                        tracing::info!(user = %shown_user(&user), %reason, "sign-in refused");
                        return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                            "FATAL".to_owned(),
                            "28P01".to_owned(),
                            format!(
                                "password authentication failed for user \"{}\": give an access key \
                                 id as the user and its secret as the password (for STS \
                                 credentials, '<secret>:<security token>')",
                                shown_user(&user)
                            ),
                        ))));
                    }
                };
                let peer = client.socket_addr();
                tracing::info!(target: "sealhouse::connection", %peer, %principal, "signed in");
                self.connection
                    .open(principal, &user, database.as_deref())
                    .await
                    .map_err(|e| {
                        PgWireError::UserError(Box::new(ErrorInfo::new(
                            "FATAL".to_owned(),
                            e.code.to_owned(),
                            e.message,
                        )))
                    })?;
                finish_authentication(client, &self.parameters).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A user name as logs and errors may show it: an access key id as given,
/// anything else (a secret typed in the wrong field) by its length only.
fn shown_user(user: &str) -> String {
    let looks_like_an_id = user.len() <= 64
        && (user.starts_with("LTAI") || user.starts_with("STS."))
        && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if looks_like_an_id {
        user.to_owned()
    } else {
        format!("(a name of {} characters, not shown)", user.chars().count())
    }
}

/// The parameters a client learns at sign-in.
pub(crate) struct ServerParameters {
    pub(crate) server_version: String,
}

impl ServerParameterProvider for ServerParameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let mut params = HashMap::new();
        let mut set = |k: &str, v: &str| {
            params.insert(k.to_owned(), v.to_owned());
        };
        set("server_version", &self.server_version);
        set("server_encoding", "UTF8");
        set("client_encoding", "UTF8");
        set("DateStyle", "ISO, MDY");
        set("IntervalStyle", "postgres");
        set("TimeZone", "UTC");
        set("integer_datetimes", "on");
        set("standard_conforming_strings", "on");
        set("is_superuser", "off");
        set("default_transaction_read_only", "off");
        set("in_hot_standby", "off");
        if let Some(name) = client.metadata().get("application_name") {
            set("application_name", name);
        }
        if let Some(user) = client.metadata().get(METADATA_USER) {
            set("session_authorization", user);
        }
        Some(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_that_are_not_key_ids_are_not_shown() {
        assert_eq!(shown_user("LTAIabc123"), "LTAIabc123");
        assert_eq!(shown_user("STS.abc"), "STS.abc");
        assert_eq!(
            shown_user("s3cretvaluethatwasputinthewrongfield"),
            "(a name of 36 characters, not shown)"
        );
    }
}
