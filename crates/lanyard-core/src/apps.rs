//! Applications (SAML service providers) and their SSO settings, the rules the
//! settings follow, and template placeholders that block activation.
//!
//! An application is created from a catalog template ([`crate::catalog`]),
//! keeps an immutable slug (its IdP URL is `<base-url>/saml2/<slug>`) and is
//! only ever sent a response while SSO is active and no placeholder remains.

use serde::{Deserialize, Serialize};

use crate::error::FieldErrors;

/// Template values an admin must replace before SSO can be activated.
pub const PLACEHOLDERS: [&str; 3] = ["YOUR_AWS_REGION", "YOUR_SUBDOMAIN", "YOUR_SSO_ID"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureAlgorithm {
    RsaSha256,
    RsaSha1,
}

/// Where the NameID value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum NameIdSource {
    Email,
    Username,
    /// A custom (or group-inherited) user attribute.
    Attribute(String),
}

/// A value for an SP attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum AttributeSource {
    /// A constant; several rows with one name make a multi-valued attribute.
    Constant(String),
    /// `email`, `username`, `first_name`, `last_name` or `id`.
    UserField(String),
    /// A custom user attribute, including group-inherited ones.
    UserAttribute(String),
}

pub const USER_FIELDS: [&str; 5] = ["email", "username", "first_name", "last_name", "id"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeRule {
    /// SP attribute name (case-sensitive).
    pub name: String,
    pub source: AttributeSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsUrl {
    pub url: String,
    pub is_default: bool,
    /// The SP metadata's `index` of this endpoint, when it came from
    /// imported metadata: what an AuthnRequest's
    /// `AssertionConsumerServiceIndex` names. Without one, the position in
    /// the list is its index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u16>,
}

/// The SSO tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSettings {
    pub idp_entity_id: String,
    pub sp_entity_id: String,
    pub acs_urls: Vec<AcsUrl>,
    pub default_relay_state: Option<String>,
    pub name_id: NameIdSource,
    pub name_id_format: String,
    pub sign_assertion: bool,
    pub sign_response: bool,
    pub algorithm: SignatureAlgorithm,
    pub require_signed_requests: bool,
    /// Whether the SP may send AuthnRequests. Off for Amazon AWS IAM (AWS
    /// never sends one: sign-in there is IdP-initiated), so an
    /// AuthnRequest made up by anyone gets no response; on for SPs that
    /// send requests (custom SAML, IAM Identity Center).
    #[serde(default)]
    pub accept_authn_requests: bool,
    /// The RelayState values an AuthnRequest may carry (empty: any). An
    /// entry is an exact value, or an `http(s)` URL ending in `*`: a prefix
    /// that matches the same scheme and host at a path-segment boundary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relay_state_allowlist: Vec<String>,
    /// The IAM SAML provider name an entitlement row takes when it names
    /// none (None: the app's slug, see [`default_provider_name`]). Applied
    /// when rows are saved: a row keeps the provider it was saved with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_provider_name: Option<String>,
    /// When a user may assume several roles (entitlements), Lanyard asks
    /// which one and sends exactly that role (on by default).
    #[serde(default = "yes")]
    pub role_chooser: bool,
}

fn yes() -> bool {
    true
}

/// The IAM SAML provider name entitlement rows of the app `slug` take when
/// they name none: the app's own setting, else its slug (which is what the
/// provider is usually called in IAM).
pub fn default_provider_name<'a>(sso: &'a SsoSettings, slug: &'a str) -> &'a str {
    sso.aws_provider_name.as_deref().unwrap_or(slug)
}

/// An IAM SAML provider name: 1-128 of letters, digits and `._-`.
pub fn check_provider_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err("must be an IAM SAML provider name (1-128 of letters, digits, ._-)".into())
    }
}

/// Longest RelayState allowlist.
pub const MAX_RELAY_STATE_RULES: usize = 50;

/// Whether `relay_state` is allowed by `rule` (see
/// [`SsoSettings::relay_state_allowlist`]).
fn relay_state_matches(rule: &str, relay_state: &str) -> bool {
    let Some(prefix) = rule.strip_suffix('*') else {
        return rule == relay_state;
    };
    let (Ok(want), Ok(got)) = (url::Url::parse(prefix), url::Url::parse(relay_state)) else {
        return false;
    };
    if want.scheme() != got.scheme()
        || want.host_str() != got.host_str()
        || want.port_or_known_default() != got.port_or_known_default()
        || !got.username().is_empty()
        || got.password().is_some()
    {
        return false;
    }
    let (want_path, got_path) = (want.path(), got.path());
    match got_path.strip_prefix(want_path) {
        Some(rest) => want_path.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// An AWS role granted through the app (the first-class role mapping): the
/// Role value is built from it, so nobody types ARNs by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub account_id: String,
    pub role_name: String,
    /// Empty when saved: the app's default (see [`default_provider_name`]).
    #[serde(default)]
    pub provider_name: String,
    pub account_label: Option<String>,
    pub max_session_duration: Option<u32>,
    /// Where AWS opens after a sign-in with this role, sent as the
    /// RelayState: an https console URL, or a region (`eu-west-1`: that
    /// region's console home). None: the app's default RelayState.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_link: Option<String>,
}

/// Longest deep link (AWS accepts RelayState up to 80 KiB; a console URL is
/// far shorter).
pub const MAX_DEEP_LINK: usize = 2048;

/// Whether `text` is an AWS region code (`eu-west-1`, `us-gov-west-1`).
fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

impl Entitlement {
    /// The RelayState this role's deep link sends: the URL itself, or for a
    /// region its console home.
    pub fn relay_state(&self) -> Option<String> {
        let link = self.deep_link.as_deref()?.trim();
        if is_region(link) {
            Some(format!(
                "https://{link}.console.aws.amazon.com/console/home?region={link}"
            ))
        } else {
            Some(link.to_owned())
        }
    }

    /// `arn:aws:iam::<acct>:role/<name>,arn:aws:iam::<acct>:saml-provider/<provider>`.
    pub fn role_value(&self) -> String {
        format!(
            "arn:aws:iam::{0}:role/{1},arn:aws:iam::{0}:saml-provider/{2}",
            self.account_id, self.role_name, self.provider_name
        )
    }

    pub fn validate(&self, field: &str, errors: &mut FieldErrors) {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            errors.insert(
                format!("{field}.account_id"),
                "must be a 12-digit AWS account id".into(),
            );
        }
        // IAM: a role name is 1-64 of [\w+=,.@-], optionally after a path
        // of such segments separated by single slashes (512 in all).
        let role_ok = !self.role_name.is_empty()
            && self.role_name.len() <= 512
            && self.role_name.split('/').all(|seg| {
                !seg.is_empty()
                    && seg.len() <= 64
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
            });
        if !role_ok {
            errors.insert(
                format!("{field}.role_name"),
                "must be an IAM role name: 1-64 of letters, digits and +=,.@_- (with an optional path/ before it)".into(),
            );
        }
        if let Err(m) = check_provider_name(&self.provider_name) {
            errors.insert(format!("{field}.provider_name"), m);
        }
        if let Some(link) = &self.deep_link {
            let link = link.trim();
            let url_ok = link.len() <= MAX_DEEP_LINK
                && !link.chars().any(|c| c.is_control() || c.is_whitespace())
                && url::Url::parse(link).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
            if !(is_region(link) || url_ok) {
                errors.insert(
                    format!("{field}.deep_link"),
                    "must be an https URL (e.g. a console page) or an AWS region such as eu-west-1"
                        .into(),
                );
            }
        }
        if let Some(d) = self.max_session_duration {
            if !(3600..=43200).contains(&d) {
                errors.insert(
                    format!("{field}.max_session_duration"),
                    "must be between 3600 and 43200 seconds (IAM MaxSessionDuration)".into(),
                );
            }
        }
    }
}

/// Checks an IdP URL slug: 1-63 lowercase letters, digits and single hyphens,
/// not starting or ending with a hyphen.
pub fn check_slug(slug: &str) -> Result<(), String> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err("must be 1-63 lowercase letters, digits and single hyphens, not starting or ending with a hyphen".into())
    }
}

/// A slug derived from a display label: "Amazon AWS (Prod)" -> "amazon-aws-prod".
pub fn slug_from_label(label: &str) -> String {
    let mut s = String::new();
    for c in label.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s: String = s.trim_end_matches('-').chars().take(63).collect();
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() {
        "app".into()
    } else {
        s
    }
}

/// An absolute https URL (http only for loopback, for local tests and the demo).
pub fn check_service_url(url: &str) -> Result<(), String> {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        let host = r.split(['/', ':', '?']).next().unwrap_or("");
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err("must be an https URL (http is allowed only for localhost)".into());
        }
        r
    } else {
        return Err("must be an absolute https URL".into());
    };
    if rest.is_empty()
        || rest.starts_with('/')
        || url.contains(char::is_whitespace)
        || url.contains('#')
    {
        return Err("must be an absolute https URL with a host, no spaces and no fragment".into());
    }
    // `http://localhost:1@evil.example/` has the host evil.example: refuse
    // user info outright, so the host is always what precedes the port.
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("must not contain a user name or password (an @ before the host)".into());
    }
    Ok(())
}

impl SsoSettings {
    /// Checks every field; messages name the field and the rule.
    pub fn validate(&self, errors: &mut FieldErrors) {
        let mut text = |field: &str, v: &str, max: usize| {
            if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                errors.insert(
                    field.to_owned(),
                    format!("must be 1-{max} characters without control characters"),
                );
            }
        };
        text("sso.idp_entity_id", &self.idp_entity_id, 1024);
        text("sso.sp_entity_id", &self.sp_entity_id, 1024);
        text("sso.name_id_format", &self.name_id_format, 256);
        if self.acs_urls.is_empty() {
            errors.insert(
                "sso.acs_urls".into(),
                "at least one ACS URL is required".into(),
            );
        }
        for (i, acs) in self.acs_urls.iter().enumerate() {
            if let Err(m) = check_service_url(&acs.url) {
                if !has_placeholder(&acs.url) {
                    errors.insert(format!("sso.acs_urls[{i}]"), m);
                }
            }
        }
        if self.acs_urls.iter().filter(|a| a.is_default).count() != 1 && !self.acs_urls.is_empty() {
            errors.insert(
                "sso.acs_urls".into(),
                "exactly one ACS URL must be the default".into(),
            );
        }
        if !self.sign_assertion && !self.sign_response {
            errors.insert(
                "sso.sign_assertion".into(),
                "sign the Assertion, the Response, or both".into(),
            );
        }
        if let NameIdSource::Attribute(a) = &self.name_id {
            if a.trim().is_empty() {
                errors.insert(
                    "sso.name_id".into(),
                    "name the user attribute that holds the NameID".into(),
                );
            }
        }
        if let Some(rs) = &self.default_relay_state {
            if rs.len() > 80 * 1024 || rs.chars().any(char::is_control) {
                errors.insert(
                    "sso.default_relay_state".into(),
                    "must be at most 80 KiB without control characters".into(),
                );
            }
        }
        if let Some(name) = &self.aws_provider_name {
            if let Err(m) = check_provider_name(name) {
                errors.insert("sso.aws_provider_name".into(), m);
            }
        }
        if self.relay_state_allowlist.len() > MAX_RELAY_STATE_RULES {
            errors.insert(
                "sso.relay_state_allowlist".into(),
                format!("at most {MAX_RELAY_STATE_RULES} entries"),
            );
        }
        for (i, rule) in self.relay_state_allowlist.iter().enumerate() {
            let field = format!("sso.relay_state_allowlist[{i}]");
            if rule.trim().is_empty() || rule.len() > 1024 || rule.chars().any(char::is_control) {
                errors.insert(
                    field,
                    "must be 1-1024 characters without control characters".into(),
                );
            } else if let Some(prefix) = rule.strip_suffix('*') {
                if let Err(m) = check_service_url(prefix) {
                    errors.insert(field, format!("a prefix (ending in *) {m}"));
                }
            }
        }
    }

    /// Whether an AuthnRequest may carry `relay_state` (the allowlist;
    /// empty allows any).
    pub fn relay_state_allowed(&self, relay_state: &str) -> bool {
        self.relay_state_allowlist.is_empty()
            || self
                .relay_state_allowlist
                .iter()
                .any(|rule| relay_state_matches(rule, relay_state))
    }

    /// The ACS endpoints as an AuthnRequest addresses them: each URL with
    /// its metadata index, or its position when it has none.
    pub fn acs_indexed(&self) -> impl Iterator<Item = (u16, &AcsUrl)> {
        self.acs_urls.iter().enumerate().map(|(i, a)| {
            let position = u16::try_from(i).unwrap_or(u16::MAX);
            (a.index.unwrap_or(position), a)
        })
    }

    /// Fields still holding a template placeholder, e.g. `sso.acs_urls[0]`.
    pub fn placeholder_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        if has_placeholder(&self.idp_entity_id) {
            out.push("sso.idp_entity_id".into());
        }
        if has_placeholder(&self.sp_entity_id) {
            out.push("sso.sp_entity_id".into());
        }
        for (i, a) in self.acs_urls.iter().enumerate() {
            if has_placeholder(&a.url) {
                out.push(format!("sso.acs_urls[{i}]"));
            }
        }
        if self
            .default_relay_state
            .as_deref()
            .is_some_and(has_placeholder)
        {
            out.push("sso.default_relay_state".into());
        }
        out
    }

    pub fn default_acs(&self) -> Option<&str> {
        self.acs_urls
            .iter()
            .find(|a| a.is_default)
            .or(self.acs_urls.first())
            .map(|a| a.url.as_str())
    }
}

pub fn has_placeholder(v: &str) -> bool {
    PLACEHOLDERS.iter().any(|p| v.contains(p))
}

/// Checks attribute rules: names 1-256 characters, user fields known.
pub fn validate_attribute_rules(rules: &[AttributeRule], errors: &mut FieldErrors) {
    for (i, r) in rules.iter().enumerate() {
        if r.name.trim().is_empty()
            || r.name.chars().count() > 256
            || r.name.chars().any(char::is_control)
        {
            errors.insert(
                format!("attributes[{i}].name"),
                "must be 1-256 characters without control characters".into(),
            );
        }
        match &r.source {
            AttributeSource::UserField(f) if !USER_FIELDS.contains(&f.as_str()) => {
                errors.insert(
                    format!("attributes[{i}].source"),
                    format!(
                        "unknown user field {f:?} (one of {})",
                        USER_FIELDS.join(", ")
                    ),
                );
            }
            AttributeSource::UserAttribute(a) if a.trim().is_empty() => {
                errors.insert(
                    format!("attributes[{i}].source"),
                    "name the user attribute".into(),
                );
            }
            AttributeSource::Constant(v)
                if v.chars().count() > 2048
                    || v.chars()
                        .any(|c| crate::directory::is_unfit_char(c) && c != '\t') =>
            {
                errors.insert(
                    format!("attributes[{i}].source"),
                    "constants are at most 2048 characters without control characters".into(),
                );
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(check_slug("amazon-aws").is_ok());
        for bad in ["", "-a", "a-", "a--b", "Amazon", "a_b", &"a".repeat(64)] {
            assert!(check_slug(bad).is_err(), "{bad:?}");
        }
        assert_eq!(slug_from_label("Amazon AWS (Prod)"), "amazon-aws-prod");
        assert_eq!(slug_from_label("  ***  "), "app");
        assert_eq!(slug_from_label("Ünïcode Äpp"), "n-code-pp");
        assert!(check_slug(&slug_from_label(&"Long Label ".repeat(20))).is_ok());
    }

    #[test]
    fn entitlement_builds_role_value_and_checks_fields() {
        let e = Entitlement {
            account_id: "123456789012".into(),
            role_name: "path/Admin".into(),
            provider_name: "Lanyard".into(),
            account_label: Some("prod".into()),
            max_session_duration: Some(3600),
            deep_link: None,
        };
        assert_eq!(
            e.role_value(),
            "arn:aws:iam::123456789012:role/path/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard"
        );
        assert!(crate::aws_rules::check_role_value(&e.role_value()).is_ok());
        let mut errors = FieldErrors::new();
        Entitlement {
            account_id: "1234".into(),
            role_name: "a b".into(),
            provider_name: "p/q".into(),
            account_label: None,
            max_session_duration: Some(60),
            deep_link: None,
        }
        .validate("entitlements[0]", &mut errors);
        assert_eq!(
            errors["entitlements[0].account_id"],
            "must be a 12-digit AWS account id"
        );
        assert_eq!(
            errors["entitlements[0].role_name"],
            "must be an IAM role name: 1-64 of letters, digits and +=,.@_- (with an optional path/ before it)"
        );
        assert_eq!(
            errors["entitlements[0].provider_name"],
            "must be an IAM SAML provider name (1-128 of letters, digits, ._-)"
        );
        assert_eq!(
            errors["entitlements[0].max_session_duration"],
            "must be between 3600 and 43200 seconds (IAM MaxSessionDuration)"
        );
        let long = "r".repeat(65);
        for (role, provider) in [
            ("a//b", "Lanyard"),
            ("/Admin", "Lanyard"),
            (long.as_str(), "Lanyard"),
            ("Admin", "Lanyard+Prod"),
        ] {
            let mut errors = FieldErrors::new();
            Entitlement {
                account_id: "123456789012".into(),
                role_name: role.into(),
                provider_name: provider.into(),
                account_label: None,
                max_session_duration: None,
                deep_link: None,
            }
            .validate("e", &mut errors);
            assert_eq!(errors.len(), 1, "{role} {provider}: {errors:?}");
        }
    }

    #[test]
    fn service_urls() {
        assert!(check_service_url("https://signin.aws.amazon.com/saml").is_ok());
        assert!(check_service_url("http://127.0.0.1:8080/aws/saml").is_ok());
        assert_eq!(
            check_service_url("http://example.com/acs").unwrap_err(),
            "must be an https URL (http is allowed only for localhost)"
        );
        assert_eq!(
            check_service_url("javascript:alert(1)").unwrap_err(),
            "must be an absolute https URL"
        );
        assert_eq!(
            check_service_url("https:///x").unwrap_err(),
            "must be an absolute https URL with a host, no spaces and no fragment"
        );
        assert_eq!(
            check_service_url("https://sp.example.com/a b").unwrap_err(),
            "must be an absolute https URL with a host, no spaces and no fragment"
        );
        for sneaky in [
            "http://localhost:1@evil.com/saml",
            "http://127.0.0.1:80@evil.com/",
            "https://signin.aws.amazon.com@evil.com/saml",
        ] {
            let e = check_service_url(sneaky).unwrap_err();
            assert!(
                e.starts_with("must not contain a user name")
                    || e.starts_with("must be an https URL"),
                "{sneaky}: {e}"
            );
        }
    }
}

#[cfg(test)]
mod relay_state_tests {
    use super::*;

    fn settings(rules: &[&str]) -> SsoSettings {
        SsoSettings {
            idp_entity_id: "https://idp.example.com/saml2/app".into(),
            sp_entity_id: "https://sp.example.com".into(),
            acs_urls: vec![AcsUrl {
                url: "https://sp.example.com/acs".into(),
                is_default: true,
                index: None,
            }],
            default_relay_state: None,
            name_id: NameIdSource::Email,
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
            sign_assertion: true,
            sign_response: false,
            algorithm: SignatureAlgorithm::RsaSha256,
            require_signed_requests: false,
            accept_authn_requests: true,
            relay_state_allowlist: rules.iter().map(|r| r.to_string()).collect(),
            aws_provider_name: None,
            role_chooser: true,
        }
    }

    #[test]
    fn exact_values_and_prefixes_at_a_segment_boundary() {
        let s = settings(&[
            "opaque-token-1",
            "https://app.example.com/start*",
            "https://a.example.com/x/*",
        ]);
        for ok in [
            "opaque-token-1",
            "https://app.example.com/start",
            "https://app.example.com/start/deep?q=1",
            "https://app.example.com:443/start/",
            "https://a.example.com/x/y",
        ] {
            assert!(s.relay_state_allowed(ok), "{ok}");
        }
        for bad in [
            "opaque-token-2",
            "https://app.example.com/starter",
            "http://app.example.com/start",
            "https://app.example.com.evil.com/start",
            "https://evil.example.com/start",
            "https://app.example.com:8443/start",
            "https://user@app.example.com/start",
            "https://a.example.com/x",
            "https://a.example.com/xy",
            "/start",
        ] {
            assert!(!s.relay_state_allowed(bad), "{bad}");
        }
        assert!(settings(&[]).relay_state_allowed("anything at all"));
    }

    #[test]
    fn bad_rules_are_refused_with_the_field() {
        let mut errors = FieldErrors::new();
        settings(&["ftp://x.example.com/*", "", "ok"]).validate(&mut errors);
        assert!(errors["sso.relay_state_allowlist[0]"].starts_with("a prefix (ending in *)"));
        assert_eq!(
            errors["sso.relay_state_allowlist[1]"],
            "must be 1-1024 characters without control characters"
        );
        assert!(!errors.contains_key("sso.relay_state_allowlist[2]"));
    }

    #[test]
    fn acs_indexes_come_from_metadata_or_the_position() {
        let mut s = settings(&[]);
        s.acs_urls.push(AcsUrl {
            url: "https://sp.example.com/acs2".into(),
            is_default: false,
            index: Some(7),
        });
        let indexed: Vec<(u16, &str)> = s.acs_indexed().map(|(i, a)| (i, a.url.as_str())).collect();
        assert_eq!(
            indexed,
            [
                (0, "https://sp.example.com/acs"),
                (7, "https://sp.example.com/acs2")
            ]
        );
    }

    #[test]
    fn deep_links_are_console_urls_or_regions() {
        let with = |link: &str| Entitlement {
            account_id: "123456789012".into(),
            role_name: "Admin".into(),
            provider_name: "Lanyard".into(),
            account_label: None,
            max_session_duration: None,
            deep_link: Some(link.into()),
        };
        assert_eq!(
            with("eu-west-1").relay_state().as_deref(),
            Some("https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1")
        );
        let url = "https://console.aws.amazon.com/s3/home?region=us-east-1";
        assert_eq!(with(url).relay_state().as_deref(), Some(url));
        for ok in ["eu-west-1", "us-gov-west-1", url] {
            let mut errors = FieldErrors::new();
            with(ok).validate("e", &mut errors);
            assert!(errors.is_empty(), "{ok}: {errors:?}");
        }
        for bad in [
            "http://console.aws.amazon.com/",
            "javascript:alert(1)",
            "west",
            "eu-west",
            "https://a b",
        ] {
            let mut errors = FieldErrors::new();
            with(bad).validate("e", &mut errors);
            assert_eq!(
                errors.get("e.deep_link").map(String::as_str),
                Some(
                    "must be an https URL (e.g. a console page) or an AWS region such as eu-west-1"
                ),
                "{bad}"
            );
        }
    }
}
