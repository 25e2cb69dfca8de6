//! OpenAPI schemas for the application types the API carries as they are
//! (`lanyard_core::apps::SsoSettings` and friends serialize themselves; the
//! core has no OpenAPI dependency). Each struct here only describes a JSON
//! shape; lanyard-web's `openapi` test keeps the document in step with the
//! handlers.

#![allow(dead_code)] // schemas only

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// Where a value comes from.
#[derive(ToSchema)]
#[schema(as = AttributeSource)]
pub struct AttributeSourceSchema {
    /// `constant` (value is the text), `user_field` (value is one of `email`,
    /// `username`, `first_name`, `last_name`, `id`) or `user_attribute`
    /// (value names a custom user attribute, group-inherited ones included).
    #[schema(example = "constant")]
    kind: String,
    value: String,
}

/// One attribute row; several rows with one name make a multi-valued attribute.
#[derive(ToSchema)]
#[schema(as = AttributeRule, example = json!({"name": "https://aws.amazon.com/SAML/Attributes/SessionDuration", "source": {"kind": "constant", "value": "3600"}}))]
pub struct AttributeRuleSchema {
    /// The SP's attribute name (case-sensitive).
    name: String,
    source: AttributeSourceSchema,
}

/// An assertion consumer service URL.
#[derive(ToSchema)]
#[schema(as = AcsUrl)]
pub struct AcsUrlSchema {
    /// Absolute https URL (http only for localhost).
    url: String,
    /// Exactly one URL is the default (where IdP-initiated responses go).
    is_default: bool,
    /// The SP metadata's index of this endpoint (kept from imported
    /// metadata); absent: its position in the list.
    index: Option<u16>,
}

/// Where the NameID comes from.
#[derive(ToSchema)]
#[schema(as = NameIdSource, example = json!({"kind": "email"}))]
pub struct NameIdSourceSchema {
    /// `email`, `username` or `attribute`.
    kind: String,
    /// The custom attribute's name when `kind` is `attribute`.
    name: Option<String>,
}

/// The SSO tab.
#[derive(ToSchema)]
#[schema(as = SsoSettings)]
pub struct SsoSettingsSchema {
    idp_entity_id: String,
    /// The SP's entity ID: the Audience of every assertion.
    sp_entity_id: String,
    acs_urls: Vec<AcsUrlSchema>,
    default_relay_state: Option<String>,
    name_id: NameIdSourceSchema,
    name_id_format: String,
    sign_assertion: bool,
    sign_response: bool,
    /// `rsa_sha256` (default) or `rsa_sha1` (legacy SPs only).
    algorithm: String,
    /// Refuse AuthnRequests that are not signed with the SP's certificate.
    require_signed_requests: bool,
    /// Whether the SP may send AuthnRequests at all (off for Amazon AWS
    /// IAM, which never sends one).
    accept_authn_requests: bool,
    /// Allowed RelayState values of AuthnRequests: exact values, or
    /// http(s) URL prefixes ending in `*` (same scheme and host, a
    /// path-segment boundary). Absent or empty: any.
    relay_state_allowlist: Option<Vec<String>>,
    /// The IAM SAML provider name entitlement rows take when they name none.
    /// Absent: the app's slug.
    aws_provider_name: Option<String>,
    /// Lanyard's role chooser: a user who may assume several roles picks
    /// one, and the response carries exactly that role (default true).
    role_chooser: bool,
}

/// An AWS role granted to a group: the Role attribute value
/// `arn:aws:iam::<account_id>:role/<role_name>,arn:aws:iam::<account_id>:saml-provider/<provider_name>`
/// is built from it.
#[derive(ToSchema)]
#[schema(as = Entitlement, example = json!({"group_id": 1, "account_id": "123456789012", "role_name": "Admin", "provider_name": "Lanyard", "account_label": "production", "max_session_duration": null}))]
pub struct GrantSchema {
    group_id: i64,
    /// 12 digits.
    account_id: String,
    /// IAM role name, optionally with a path.
    role_name: String,
    /// The IAM SAML provider's name. Absent or empty when saved: the app's
    /// `sso.aws_provider_name`, else its slug.
    #[schema(required = false)]
    provider_name: String,
    account_label: Option<String>,
    /// 3600-43200: the role's IAM MaxSessionDuration. SessionDuration is
    /// capped by it when the user chooses this role.
    max_session_duration: Option<u32>,
    /// Where AWS opens after signing in with this role, sent as the
    /// RelayState: an https console URL, or a region (`eu-west-1`: its
    /// console home).
    deep_link: Option<String>,
}

/// What an assertion for one user would say.
#[derive(ToSchema)]
#[schema(as = AssertionContent)]
pub struct AssertionContentSchema {
    name_id: String,
    name_id_format: String,
    audience: String,
    acs_url: String,
    /// Attribute name -> values.
    attributes: BTreeMap<String, Vec<String>>,
}

/// One broken AWS rule.
#[derive(ToSchema)]
#[schema(as = Violation)]
pub struct ViolationSchema {
    /// Stable id, e.g. `aws.role_session_name.pattern`.
    rule: String,
    /// The attribute (or `Audience`, `Recipient`, `NameID`).
    subject: String,
    message: String,
    /// What AWS itself would answer.
    aws_error: String,
}
