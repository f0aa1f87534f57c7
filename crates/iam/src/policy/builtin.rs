//! System policies: built in, the same in every account, never stored.
//!
//! Named as in the original cloud so that instructions written for it (the
//! spec attaches `AliyunKMSCryptoUserAccess` to a role) work unchanged.
//! `Resource: "*"` still means only resources the principal may reach at all:
//! KMS keys of its own account (see `authorize.rs`).

/// Cryptographic use of KMS keys, without managing them: what the warehouse's
/// role needs to wrap and unwrap keysets.
pub const KMS_CRYPTO_USER: &str = "AliyunKMSCryptoUserAccess";
/// Everything in KMS, key management included.
pub const KMS_FULL_ACCESS: &str = "AliyunKMSFullAccess";
/// Everything in RAM: users, roles, policies, PassRole.
pub const RAM_FULL_ACCESS: &str = "AliyunRAMFullAccess";
/// `sts:AssumeRole` on any role (the role's trust policy still decides).
pub const STS_ASSUME_ROLE: &str = "AliyunSTSAssumeRoleAccess";
/// Everything.
pub const ADMINISTRATOR: &str = "AdministratorAccess";

const DOCUMENTS: [(&str, &str, &str); 5] = [
    (
        KMS_CRYPTO_USER,
        "Use KMS keys for cryptographic operations; list and describe them.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[
            "kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:ReEncrypt*",
            "kms:DescribeKey","kms:ListKeys","kms:ListAliases","kms:ListKeyVersions",
            "kms:DescribeKeyVersion","kms:GetPublicKey"],"Resource":"*"}]}"#,
    ),
    (
        KMS_FULL_ACCESS,
        "Manage and use KMS keys.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    ),
    (
        RAM_FULL_ACCESS,
        "Manage users, roles and policies, and pass roles to services.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"ram:*","Resource":"*"}]}"#,
    ),
    (
        STS_ASSUME_ROLE,
        "Call sts:AssumeRole on any role whose trust policy allows it.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
    ),
    (
        ADMINISTRATOR,
        "Every action on every resource of the account.",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
];

/// A system policy's description and document text, by exact name.
pub fn system_policy(name: &str) -> Option<(&'static str, &'static str)> {
    DOCUMENTS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, description, document)| (*description, *document))
}

/// The names of all system policies.
pub fn system_policy_names() -> impl Iterator<Item = &'static str> {
    DOCUMENTS.iter().map(|(n, _, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyRef;
    use crate::policy::context::RequestContext;
    use crate::policy::document::PolicyDocument;
    use crate::policy::evaluate::{Request, evaluate};

    fn allows(policy: &str, action: &str) -> bool {
        let (_, text) = system_policy(policy).unwrap();
        let doc = PolicyDocument::parse(text).unwrap();
        let name = PolicyRef::System(policy.into());
        let ctx = RequestContext::new();
        let req = Request {
            action,
            resource: "acs:kms:cn-beijing:1:key/k",
            context: &ctx,
        };
        evaluate([(&name, &doc)], &req).is_allowed()
    }

    #[test]
    fn every_system_policy_parses() {
        for name in system_policy_names() {
            PolicyDocument::parse(system_policy(name).unwrap().1).unwrap();
        }
        assert!(system_policy("aliyunkmsfullaccess").is_none());
    }

    #[test]
    fn crypto_user_uses_keys_but_does_not_manage_them() {
        for action in [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncrypt",
            "kms:DescribeKey",
            "kms:ListKeys",
        ] {
            assert!(allows(KMS_CRYPTO_USER, action), "{action}");
        }
        for action in [
            "kms:ScheduleKeyDeletion",
            "kms:DisableKey",
            "kms:CreateKey",
            "ram:PassRole",
        ] {
            assert!(!allows(KMS_CRYPTO_USER, action), "{action}");
        }
        assert!(allows(KMS_FULL_ACCESS, "kms:ScheduleKeyDeletion"));
        assert!(!allows(KMS_FULL_ACCESS, "ram:PassRole"));
        assert!(allows(ADMINISTRATOR, "ram:PassRole"));
        assert!(allows(RAM_FULL_ACCESS, "ram:PassRole"));
        assert!(allows(STS_ASSUME_ROLE, "sts:AssumeRole"));
    }
}
