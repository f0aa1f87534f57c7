//! The KMS as traits: [`KmsData`], the data plane the warehouse uses, and
//! [`Kms`], which adds the administration of keys; synchronous and
//! object-safe (as tink separates a remote KMS client from key management).
//!
//! An implementation is bound to one caller: the embedded service's
//! [`crate::KmsHandle`] (a principal chosen in-process) and the HTTP client
//! (its credentials). Everything above the KMS that only uses keys
//! (storage, SQL) takes a `&dyn KmsData` or `Arc<dyn KmsData>` and is
//! indifferent to which one it has; [`crate::CachingKms`] wraps either.
//!
//! Every method authorises the call (`kms:<Operation>` on the key's ARN) and
//! records it in the audit log, allowed or not. Errors carry the cloud's codes
//! ([`crate::ErrorCode`]).

use crate::error::KmsError;

/// Writes the two traits and their `Box` forwarding from the list of
/// operations in `operations.rs`.
macro_rules! kms_traits {
    (
        data { $( $(#[$data_doc:meta])* $data_action:ident $data_method:ident($data_req:ty) -> $data_resp:ty; )* }
        admin { $( $(#[$admin_doc:meta])* $admin_action:ident $admin_method:ident($admin_req:ty) -> $admin_resp:ty; )* }
    ) => {
        /// The KMS's data plane, as seen by one caller: what the warehouse does
        /// with keys (wrap and unwrap keysets, make and open data keys, describe a
        /// key it is about to use). What [`crate::CachingKms`] wraps and storage and
        /// SQL hold.
        pub trait KmsData: Send + Sync {
            $(
                $(#[$data_doc])*
                fn $data_method(&self, request: &$data_req) -> Result<$data_resp, KmsError>;
            )*
        }

        /// The whole key management service, as seen by one caller: the data
        /// plane and the administration of keys, aliases, rotation, BYOK and the
        /// audit log.
        pub trait Kms: KmsData {
            $(
                $(#[$admin_doc])*
                fn $admin_method(&self, request: &$admin_req) -> Result<$admin_resp, KmsError>;
            )*
        }

        /// A boxed KMS is a KMS: lets wrappers such as [`crate::CachingKms`] take a
        /// `Box<dyn Kms>` chosen at run time.
        impl<K: KmsData + ?Sized> KmsData for Box<K> {
            $(
                fn $data_method(&self, request: &$data_req) -> Result<$data_resp, KmsError> {
                    (**self).$data_method(request)
                }
            )*
        }

        impl<K: Kms + ?Sized> Kms for Box<K> {
            $(
                fn $admin_method(&self, request: &$admin_req) -> Result<$admin_resp, KmsError> {
                    (**self).$admin_method(request)
                }
            )*
        }
    };
}

crate::kms_operations!(kms_traits);
