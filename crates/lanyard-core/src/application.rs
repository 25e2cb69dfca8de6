//! The application aggregate: a configured SAML service provider with its
//! General and SSO tabs, its attribute rules, its signing keys, the groups
//! bound to it, its AWS entitlements and its portal image.
//!
//! [`AppConfig`] is everything an admin edits; create and update both write a
//! whole, validated config (the use-cases merge a partial update onto the
//! current one first), so the rules live in one place: [`AppConfig::validate`].
//! For apps with AWS rules on, validation also runs the AWS checker
//! ([`crate::aws_rules`]) over what the configuration fixes by itself
//! (audience, ACS URLs, constant attributes), so a broken constant is refused
//! at save time with the rule's id in the message.
//!
//! Private keys travel only inside [`PrivateKeyPem`], which has no `Serialize`
//! and a redacted `Debug`: it cannot end up in a JSON body or a log line by
//! accident.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::apps::{
    has_placeholder, validate_attribute_rules, AttributeRule, AttributeSource, Entitlement,
    SsoSettings,
};
use crate::aws_rules::{self, AssertionFacts, Rule};
use crate::directory::finish;
use crate::error::{Error, FieldErrors, Result};
use crate::ids::{AppId, AppKeyId, GroupId};

/// Longest display label.
pub const MAX_LABEL: usize = 100;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 1000;
/// Most entitlement rows per application.
pub const MAX_ENTITLEMENTS: usize = 500;
/// Most SP request-signing certificates kept.
pub const MAX_SP_CERTIFICATES: usize = 4;

/// A configured application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    pub id: AppId,
    /// Immutable; the IdP URL is `<base-url>/saml2/<slug>`.
    pub slug: String,
    /// The catalog template it was created from.
    pub template: String,
    /// Whether AWS's assertion rules apply (from the template).
    pub aws_rules: bool,
    pub sso_active: bool,
    pub config: AppConfig,
    pub image: Option<ImageInfo>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What an admin edits: the General tab, the SSO tab and the attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    pub label: String,
    pub description: String,
    pub show_in_portal: bool,
    pub sso: SsoSettings,
    pub attributes: Vec<AttributeRule>,
    /// Name of an attribute listing the user's groups bound to this app.
    pub groups_attribute: Option<String>,
    /// The SP's request-signing certificates, base64 DER (from its metadata
    /// or pasted), used to verify signed AuthnRequests.
    pub sp_certificates: Vec<String>,
}

/// When an app's active signing certificate expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExpiry {
    pub app_id: AppId,
    pub slug: String,
    pub label: String,
    pub not_after: OffsetDateTime,
}

/// A new application: its config plus what is fixed at creation.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub slug: String,
    pub template: String,
    pub aws_rules: bool,
    /// SSO state at creation: apps start active unless a placeholder remains
    /// (like JumpCloud, where saving a new app activates it; nobody can use it
    /// before a group is bound anyway).
    pub sso_active: bool,
    pub config: AppConfig,
}

/// The portal image's facts (the bytes are fetched on their own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    /// `image/png`, `image/jpeg` or `image/webp`.
    pub content_type: String,
    /// Hex SHA-256 of the bytes: the ETag and the cache-busting version.
    pub sha256: String,
    pub size: i64,
}

/// A portal image with its bytes.
#[derive(Debug, Clone)]
pub struct AppImage {
    pub info: ImageInfo,
    pub bytes: Vec<u8>,
}

/// A PEM private key. No `Serialize`, and `Debug` prints nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    pub fn new(pem: String) -> Self {
        PrivateKeyPem(pem)
    }

    /// The PEM text, for the signer and the key store only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKeyPem(<redacted>)")
    }
}

/// One signing key of an app. Every key of an app is published in its
/// metadata; exactly one (`active`) signs. Adding the next key without
/// activating it lets SPs learn it before it signs: rotation without downtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppKey {
    pub id: AppKeyId,
    pub app_id: AppId,
    pub active: bool,
    pub certificate_pem: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A key to store: the certificate, its private key and the expiry.
#[derive(Debug, Clone)]
pub struct NewAppKey {
    pub certificate_pem: String,
    pub private_key: PrivateKeyPem,
    pub not_after: OffsetDateTime,
}

/// An entitlement granted to a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub group_id: GroupId,
    #[serde(flatten)]
    pub entitlement: Entitlement,
}

impl AppConfig {
    /// Checks every field and returns every broken rule at once. `aws_rules`
    /// adds the AWS checks (see the module docs).
    pub fn validate(self, aws_rules: bool) -> Result<Self> {
        let mut errors = FieldErrors::new();
        let label = self.label.trim();
        if label.is_empty()
            || label.chars().count() > MAX_LABEL
            || label.chars().any(char::is_control)
        {
            errors.insert(
                "label".into(),
                format!("is required: 1-{MAX_LABEL} characters without control characters"),
            );
        }
        if self.description.chars().count() > MAX_DESCRIPTION
            || self
                .description
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            errors.insert(
                "description".into(),
                format!("must be at most {MAX_DESCRIPTION} characters without control characters"),
            );
        }
        self.sso.validate(&mut errors);
        validate_attribute_rules(&self.attributes, &mut errors);
        if let Some(name) = &self.groups_attribute {
            if name.trim().is_empty()
                || name.chars().count() > 256
                || name.chars().any(char::is_control)
            {
                errors.insert(
                    "groups_attribute".into(),
                    "must be 1-256 characters without control characters (or absent)".into(),
                );
            }
        }
        if self.sp_certificates.len() > MAX_SP_CERTIFICATES {
            errors.insert(
                "sp_certificates".into(),
                format!("at most {MAX_SP_CERTIFICATES} certificates"),
            );
        }
        for (i, c) in self.sp_certificates.iter().enumerate() {
            if let Err(e) = lanyard_saml::keys::Certificate::from_base64(c) {
                errors.insert(
                    format!("sp_certificates[{i}]"),
                    format!("is not a usable certificate: {e}"),
                );
            }
        }
        if self.sso.require_signed_requests && self.sp_certificates.is_empty() {
            errors.insert(
                "sso.require_signed_requests".into(),
                "needs the SP's signing certificate (import its metadata or add sp_certificates)"
                    .into(),
            );
        }
        if aws_rules {
            aws_config_errors(&self, &mut errors);
        }
        let label = label.to_owned();
        finish(AppConfig { label, ..self }, errors)
    }
}

/// The AWS rules a configuration breaks by itself, keyed by the field. A
/// field that already broke a general rule keeps that message.
fn aws_config_errors(config: &AppConfig, errors: &mut FieldErrors) {
    let sso = &config.sso;
    if !has_placeholder(&sso.sp_entity_id) && !aws_rules::AUDIENCES.contains(&&*sso.sp_entity_id) {
        errors
            .entry("sso.sp_entity_id".into())
            .or_insert(Rule::Audience.tagged(format!(
                "AWS accepts only the audience {} (AWS answers {:?})",
                aws_rules::AUDIENCES.join(" or "),
                Rule::Audience.aws_error()
            )));
    }
    for (i, acs) in sso.acs_urls.iter().enumerate() {
        if !has_placeholder(&acs.url)
            && !aws_rules::is_aws_acs(&acs.url)
            && !aws_rules::is_local_stand_in(&acs.url)
        {
            errors
                .entry(format!("sso.acs_urls[{i}]"))
                .or_insert(Rule::Recipient.tagged("must be an AWS sign-in endpoint: https://signin.aws.amazon.com/saml, https://<region>.signin.aws.amazon.com/saml[/acs/<id>] or https://signin.amazonaws.cn/saml"));
        }
    }
    if !AWS_NAME_ID_FORMATS.contains(&sso.name_id_format.as_str()) {
        errors
            .entry("sso.name_id_format".into())
            .or_insert(Rule::NameIdFormat.tagged(format!(
                "AWS accepts only these NameID formats: {}",
                AWS_NAME_ID_FORMATS.join(", ")
            )));
    }
    if !sso.sign_assertion {
        errors
            .entry("sso.sign_assertion".into())
            .or_insert(Rule::AssertionSigned.tagged("AWS's metadata says WantAssertionsSigned=\"true\": sign the Assertion (alone or with the Response)"));
    }
    // Attributes AWS wants exactly one value of: one row each.
    for name in [
        aws_rules::ROLE_SESSION_NAME,
        aws_rules::SESSION_DURATION,
        aws_rules::SOURCE_IDENTITY,
    ] {
        let rows: Vec<usize> = config
            .attributes
            .iter()
            .enumerate()
            .filter(|(_, r)| r.name == name)
            .map(|(i, _)| i)
            .collect();
        if let [_, second, ..] = rows.as_slice() {
            let short = name.trim_start_matches(aws_rules::ATTR_PREFIX);
            errors
                .entry(format!("attributes[{second}]"))
                .or_insert(Rule::SingleValue.tagged(format!(
                    "{short} takes exactly one value: keep one row for it (rows {})",
                    rows.iter()
                        .map(usize::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
        }
    }
    // Run the assertion checker over the constants alone, and keep the
    // violations that concern a constant attribute: those break for every
    // user, so they are configuration errors.
    let mut constants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut row_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, rule) in config.attributes.iter().enumerate() {
        if let AttributeSource::Constant(v) = &rule.source {
            constants
                .entry(rule.name.clone())
                .or_default()
                .push(v.clone());
            row_of.entry(rule.name.as_str()).or_insert(i);
        }
    }
    let violations = aws_rules::check(&AssertionFacts {
        name_id: "x",
        audience: aws_rules::AUDIENCES[0],
        recipient: aws_rules::AUDIENCES[0],
        attributes: &constants,
    });
    for v in violations {
        // Required values come from mappings and entitlements at sign-in;
        // a transitive key may name a tag that a mapping provides.
        if v.rule.is_required() || v.rule == Rule::TransitiveTagKeysUnknown {
            continue;
        }
        let row = row_of.get(v.subject.as_str()).copied().or_else(|| {
            // PrincipalTag rules name the tag key; TransitiveTagKeys its own.
            row_of
                .iter()
                .find(|(name, _)| name.starts_with(aws_rules::PRINCIPAL_TAG))
                .map(|(_, i)| *i)
        });
        let field = row.map_or_else(|| "attributes".to_owned(), |i| format!("attributes[{i}]"));
        errors
            .entry(field)
            .or_insert_with(|| v.rule.tagged(&v.message));
    }
}

/// The NameID formats AWS accepts (AWS_SAML.md section 2).
pub const AWS_NAME_ID_FORMATS: [&str; 8] = [
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
];

/// Checks a whole entitlement table: every row's fields, and no row twice.
pub fn validate_grants(grants: &[Grant]) -> Result<()> {
    let mut errors = FieldErrors::new();
    if grants.len() > MAX_ENTITLEMENTS {
        errors.insert(
            "entitlements".into(),
            format!("at most {MAX_ENTITLEMENTS} rows"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, g) in grants.iter().enumerate() {
        let field = format!("entitlements[{i}]");
        g.entitlement.validate(&field, &mut errors);
        if let Some(label) = &g.entitlement.account_label {
            if label.chars().count() > 100 || label.chars().any(char::is_control) {
                errors.insert(
                    format!("{field}.account_label"),
                    "must be at most 100 characters without control characters".into(),
                );
            }
        }
        if !seen.insert((g.group_id, g.entitlement.role_value())) {
            errors.insert(
                field,
                "the same role is granted to the same group twice".into(),
            );
        }
    }
    finish((), errors)
}

/// The fields that keep SSO from being activated (template placeholders), as
/// an error naming each of them.
pub fn check_activation(app: &Application) -> Result<()> {
    let fields = app.config.sso.placeholder_fields();
    if fields.is_empty() {
        return Ok(());
    }
    Err(Error::Invalid(
        fields
            .into_iter()
            .map(|f| {
                (
                    f,
                    "still holds a template placeholder (YOUR_AWS_REGION, YOUR_SUBDOMAIN or YOUR_SSO_ID): replace it with your AWS value before activating SSO".to_owned(),
                )
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn aws_config() -> AppConfig {
        let c = Catalog::embedded().unwrap();
        let t = c.get("aws-iam").unwrap();
        AppConfig {
            label: "  Amazon AWS  ".into(),
            description: String::new(),
            show_in_portal: true,
            sso: t.sso_settings("https://idp.example.com", "aws"),
            attributes: t.attribute_rules(),
            groups_attribute: None,
            sp_certificates: vec![],
        }
    }

    fn errors_of(config: AppConfig, aws: bool) -> FieldErrors {
        match config.validate(aws) {
            Err(Error::Invalid(e)) => e,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn aws_template_is_valid_and_label_trimmed() {
        let c = aws_config().validate(true).unwrap();
        assert_eq!(c.label, "Amazon AWS");
    }

    #[test]
    fn general_fields_are_checked() {
        let mut c = aws_config();
        c.label = " ".into();
        c.description = "a\u{0}".into();
        c.groups_attribute = Some(String::new());
        c.sp_certificates = vec!["bm90IGEgY2VydA==".into()];
        let e = errors_of(c, true);
        assert_eq!(
            e["label"],
            "is required: 1-100 characters without control characters"
        );
        assert!(e["description"].starts_with("must be at most 1000"));
        assert!(e["groups_attribute"].starts_with("must be 1-256"));
        assert!(
            e["sp_certificates[0]"].starts_with("is not a usable certificate"),
            "{e:?}"
        );
    }

    #[test]
    fn aws_rules_at_save_time_name_the_rule() {
        let mut c = aws_config();
        c.sso.sp_entity_id = "https://example.com/sp".into();
        c.sso.acs_urls[0].url = "https://evil.example.com/saml".into();
        c.attributes[0].source = AttributeSource::Constant("60".into());
        c.attributes.push(AttributeRule {
            name: aws_rules::ROLE.into(),
            source: AttributeSource::Constant("arn:aws:iam::123:role/X".into()),
        });
        let e = errors_of(c, true);
        assert!(e["sso.sp_entity_id"].starts_with("[aws.audience]"), "{e:?}");
        assert!(e["sso.acs_urls[0]"].starts_with("[aws.recipient]"));
        assert!(
            e["attributes[0]"].starts_with("[aws.session_duration.range]"),
            "{e:?}"
        );
        assert!(e["attributes[2]"].starts_with("[aws.role.syntax]"), "{e:?}");
    }

    #[test]
    fn aws_format_signing_and_single_values() {
        let mut c = aws_config();
        c.sso.name_id_format = "urn:foo".into();
        c.sso.sign_assertion = false;
        c.sso.sign_response = true;
        c.attributes.push(AttributeRule {
            name: aws_rules::ROLE_SESSION_NAME.into(),
            source: AttributeSource::Constant("SSO-User".into()),
        });
        let e = errors_of(c, true);
        assert!(
            e["sso.name_id_format"].starts_with("[aws.nameid.format]"),
            "{e:?}"
        );
        assert!(e["sso.sign_assertion"].starts_with("[aws.assertion.signed]"));
        assert_eq!(
            e["attributes[2]"],
            "[aws.single_value] RoleSessionName takes exactly one value: keep one row for it (rows 1, 2)"
        );
    }

    #[test]
    fn transitive_keys_may_name_mapped_tags() {
        let mut c = aws_config();
        c.attributes.push(AttributeRule {
            name: format!("{}Dept", aws_rules::PRINCIPAL_TAG),
            source: AttributeSource::UserAttribute("department".into()),
        });
        c.attributes.push(AttributeRule {
            name: aws_rules::TRANSITIVE_TAG_KEYS.into(),
            source: AttributeSource::Constant("Dept".into()),
        });
        assert!(c.validate(true).is_ok());
    }

    #[test]
    fn aws_rules_off_for_other_templates() {
        let mut c = aws_config();
        c.sso.sp_entity_id = "https://example.com/sp".into();
        c.sso.acs_urls[0].url = "https://sp.example.com/acs".into();
        assert!(c.validate(false).is_ok());
    }

    #[test]
    fn loopback_acs_allowed_for_local_stand_ins() {
        let mut c = aws_config();
        c.sso.acs_urls[0].url = "http://127.0.0.1:9000/aws/saml".into();
        assert!(c.validate(true).is_ok());
    }

    #[test]
    fn signed_requests_need_a_certificate() {
        let mut c = aws_config();
        c.sso.require_signed_requests = true;
        let e = errors_of(c, true);
        assert!(e["sso.require_signed_requests"].starts_with("needs the SP's signing"));
    }

    #[test]
    fn grants_are_checked_and_unique() {
        let ent = Entitlement {
            account_id: "123456789012".into(),
            role_name: "Admin".into(),
            provider_name: "Lanyard".into(),
            account_label: None,
            max_session_duration: None,
            deep_link: None,
        };
        let g = Grant {
            group_id: GroupId(1),
            entitlement: ent.clone(),
        };
        assert!(validate_grants(std::slice::from_ref(&g)).is_ok());
        let Err(Error::Invalid(e)) = validate_grants(&[g.clone(), g]) else {
            panic!("duplicate accepted")
        };
        assert_eq!(
            e["entitlements[1]"],
            "the same role is granted to the same group twice"
        );
    }

    #[test]
    fn private_key_debug_is_redacted() {
        let k = PrivateKeyPem::new("-----BEGIN PRIVATE KEY-----\nsecret".into());
        assert_eq!(format!("{k:?}"), "PrivateKeyPem(<redacted>)");
    }
}
