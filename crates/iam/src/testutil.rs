//! Helpers for the unit tests.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::{AccountId, Iam, ManualClock, NoSealing, SqliteStore};

pub(crate) const A: &str = "1892732288741234";
pub(crate) const B: &str = "1885386054511234";

pub(crate) fn acct(uid: &str) -> AccountId {
    AccountId::new(uid).unwrap()
}

/// A service over an in-memory store on a manual clock, with accounts A and B.
pub(crate) fn iam() -> (Iam, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap(),
    ));
    let iam = Iam::new(SqliteStore::open_in_memory().unwrap(), NoSealing).with_clock(clock.clone());
    iam.create_account(&acct(A)).unwrap();
    iam.create_account(&acct(B)).unwrap();
    (iam, clock)
}

pub(crate) fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}
