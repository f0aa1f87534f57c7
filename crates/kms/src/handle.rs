//! [`KmsHandle`]: the service seen by one principal, and its implementation
//! of [`Kms`]: every operation is run as one [`Call`] and then audited.

use std::sync::Arc;

use sealhouse_iam::{Principal, RequestContext};

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

/// Runs each operation of `operations.rs` as the service's method of the
/// same name, in one audited [`Call`].
macro_rules! handle_calls {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        impl KmsData for KmsHandle {
            $(
                fn $data_method(&self, request: &$data_req) -> Result<$data_resp, KmsError> {
                    self.run(stringify!($data_action), |s, c| s.$data_method(c, request))
                }
            )*
        }

        impl Kms for KmsHandle {
            $(
                fn $admin_method(&self, request: &$admin_req) -> Result<$admin_resp, KmsError> {
                    self.run(stringify!($admin_action), |s, c| s.$admin_method(c, request))
                }
            )*
        }
    };
}

crate::kms_operations!(handle_calls);
