//! AWS's rules for SAML assertions (IAM federation), checked before anything is
//! sent, so a broken configuration is named precisely instead of AWS's
//! "Your request included an invalid SAML response".
//!
//! Sources: AWS IAM User Guide, "Configure SAML assertions for the
//! authentication response" and "Troubleshoot SAML federation with IAM"
//! (summarised in shared/AWS_SAML.md sections 2-3). Each violation carries a
//! stable rule id, the attribute it concerns, a message naming the rule, and
//! the error AWS itself would show: one [`Rule`] enum, used by the checks
//! of a response's content here and by the save-time checks of an app's
//! configuration (`application.rs`), one function per rule.

use serde::Serialize;

use crate::directory::Attributes;

pub const ATTR_PREFIX: &str = "https://aws.amazon.com/SAML/Attributes/";
pub const ROLE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
pub const ROLE_SESSION_NAME: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
pub const SESSION_DURATION: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
pub const SOURCE_IDENTITY: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";
pub const TRANSITIVE_TAG_KEYS: &str = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys";
pub const PRINCIPAL_TAG: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";

/// The audiences AWS accepts.
pub const AUDIENCES: [&str; 2] = [
    "https://signin.aws.amazon.com/saml",
    "urn:amazon:webservices",
];

macro_rules! rules {
    ($($(#[$doc:meta])* $name:ident = $id:literal, $aws:expr;)+) => {
        /// Every AWS rule Lanyard checks: at save time (the app's
        /// configuration) and before a response is sent (its content).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Rule {
            $($(#[$doc])* $name,)+
        }

        impl Rule {
            /// Every rule, in the order they are declared.
            pub const ALL: &'static [Rule] = &[$(Rule::$name,)+];

            /// The stable id messages carry, e.g. `aws.role.syntax`.
            pub fn id(self) -> &'static str {
                match self {
                    $(Rule::$name => $id,)+
                }
            }

            /// What AWS itself answers when the rule is broken.
            pub fn aws_error(self) -> &'static str {
                match self {
                    $(Rule::$name => $aws,)+
                }
            }
        }
    };
}

const INVALID_RESPONSE: &str = "Your request included an invalid SAML response.";

rules! {
    /// The Subject carries a non-empty NameID.
    NameIdRequired = "aws.nameid.required", "AccessDenied";
    /// The NameID format is one AWS accepts (configuration).
    NameIdFormat = "aws.nameid.format", INVALID_RESPONSE;
    /// The Audience is one of [`AUDIENCES`].
    Audience = "aws.audience", "Response does not contain the required audience.";
    /// The Recipient (ACS URL) is an AWS sign-in endpoint.
    Recipient = "aws.recipient", INVALID_RESPONSE;
    /// The Assertion is signed (AWS's metadata wants it; configuration).
    AssertionSigned = "aws.assertion.signed", INVALID_RESPONSE;
    /// An attribute AWS takes one value of has one row (configuration).
    SingleValue = "aws.single_value", INVALID_RESPONSE;
    /// At least one Role value.
    RoleRequired = "aws.role.required", INVALID_RESPONSE;
    /// Each Role value is `<role ARN>,<provider ARN>`.
    RoleSyntax = "aws.role.syntax", INVALID_RESPONSE;
    /// A RoleSessionName is present.
    RoleSessionNameRequired = "aws.role_session_name.required", "RoleSessionName is required in AuthnResponse";
    /// The RoleSessionName matches AWS's pattern.
    RoleSessionNamePattern = "aws.role_session_name.pattern", "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}";
    /// RoleSessionName has exactly one value.
    RoleSessionNameSingle = "aws.role_session_name.single", INVALID_RESPONSE;
    /// SessionDuration is one integer in 900..=43200.
    SessionDurationRange = "aws.session_duration.range", INVALID_RESPONSE;
    /// SourceIdentity is one value matching AWS's pattern, not `aws:...`.
    SourceIdentityPattern = "aws.source_identity.pattern", INVALID_RESPONSE;
    /// At most 50 PrincipalTag attributes.
    PrincipalTagCount = "aws.principal_tag.count", INVALID_RESPONSE;
    /// Tag keys are 1-128 characters.
    PrincipalTagKey = "aws.principal_tag.key", INVALID_RESPONSE;
    /// A tag has exactly one value of at most 256 characters.
    PrincipalTagValue = "aws.principal_tag.value", INVALID_RESPONSE;
    /// TransitiveTagKeys names only tags of this assertion.
    TransitiveTagKeysUnknown = "aws.transitive_tag_keys.unknown", INVALID_RESPONSE;
}

impl Rule {
    /// A rule about a value that is simply missing (it comes from mappings
    /// and entitlements at sign-in, so a configuration alone cannot break it).
    pub fn is_required(self) -> bool {
        matches!(
            self,
            Rule::NameIdRequired | Rule::RoleRequired | Rule::RoleSessionNameRequired
        )
    }

    /// `[aws.role.syntax] message`: how save-time errors name their rule.
    pub fn tagged(self, message: impl std::fmt::Display) -> String {
        format!("[{}] {message}", self.id())
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Rule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Serialized as its stable id, e.g. `aws.role.syntax`.
    pub rule: Rule,
    /// The attribute (or `Audience`, `Recipient`, `NameID`) concerned.
    pub subject: String,
    /// What is wrong, naming the rule.
    pub message: String,
    /// What AWS would answer ([`Rule::aws_error`]).
    pub aws_error: &'static str,
}

impl Violation {
    fn new(rule: Rule, subject: &str, message: String) -> Violation {
        Violation {
            rule,
            subject: subject.to_owned(),
            message,
            aws_error: rule.aws_error(),
        }
    }
}

/// What an assertion for AWS says, as the checker needs it.
#[derive(Debug, Clone)]
pub struct AssertionFacts<'a> {
    pub name_id: &'a str,
    pub audience: &'a str,
    pub recipient: &'a str,
    pub attributes: &'a Attributes,
}

/// Checks every rule of a response's content; an empty result means AWS
/// would accept it. One function per rule, in this order.
pub fn check(f: &AssertionFacts<'_>) -> Vec<Violation> {
    let rules: [fn(&AssertionFacts<'_>, &mut Vec<Violation>); 14] = [
        name_id_required,
        audience,
        recipient,
        role_required,
        role_syntax,
        role_session_name_required,
        role_session_name_pattern,
        role_session_name_single,
        session_duration_range,
        source_identity_pattern,
        principal_tag_count,
        principal_tag_key,
        principal_tag_value,
        transitive_tag_keys_unknown,
    ];
    let mut v = Vec::new();
    for rule in rules {
        rule(f, &mut v);
    }
    v
}

/// [`Rule::NameIdRequired`].
fn name_id_required(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if f.name_id.trim().is_empty() {
        v.push(Violation::new(
            Rule::NameIdRequired,
            "NameID",
            "the Subject must carry a non-empty NameID".into(),
        ));
    }
}

/// [`Rule::Audience`].
fn audience(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if !AUDIENCES.contains(&f.audience) {
        v.push(Violation::new(
            Rule::Audience,
            "Audience",
            format!(
                "Audience {:?} must be https://signin.aws.amazon.com/saml or urn:amazon:webservices",
                f.audience
            ),
        ));
    }
}

/// [`Rule::Recipient`].
fn recipient(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if !is_aws_acs(f.recipient) && !is_local_stand_in(f.recipient) {
        v.push(Violation::new(
            Rule::Recipient,
            "Recipient",
            format!(
                "Recipient/ACS {:?} is not an AWS sign-in endpoint (https://signin.aws.amazon.com/saml, https://<region>.signin.aws.amazon.com/saml[/acs/<id>], https://signin.amazonaws.cn/saml)",
                f.recipient
            ),
        ));
    }
}

/// The values of attribute `name` (none when it is absent).
fn values<'a>(f: &AssertionFacts<'a>, name: &str) -> &'a [String] {
    f.attributes.get(name).map_or(&[], Vec::as_slice)
}

/// [`Rule::RoleRequired`].
fn role_required(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if values(f, ROLE).is_empty() {
        v.push(Violation::new(
            Rule::RoleRequired,
            ROLE,
            "the Role attribute is required and has no value (no role is mapped to this user)"
                .into(),
        ));
    }
}

/// [`Rule::RoleSyntax`].
fn role_syntax(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    for (i, value) in values(f, ROLE).iter().enumerate() {
        if let Err(m) = check_role_value(value) {
            v.push(Violation::new(
                Rule::RoleSyntax,
                ROLE,
                format!("Role value {} {value:?}: {m}", i + 1),
            ));
        }
    }
}

/// [`Rule::RoleSessionNameRequired`].
fn role_session_name_required(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if values(f, ROLE_SESSION_NAME).is_empty() {
        v.push(Violation::new(
            Rule::RoleSessionNameRequired,
            ROLE_SESSION_NAME,
            "RoleSessionName is required (exactly one value)".into(),
        ));
    }
}

/// [`Rule::RoleSessionNamePattern`] (for a single value; several are
/// [`Rule::RoleSessionNameSingle`]).
fn role_session_name_pattern(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if let [one] = values(f, ROLE_SESSION_NAME) {
        if !is_session_name(one) {
            v.push(Violation::new(
                Rule::RoleSessionNamePattern,
                ROLE_SESSION_NAME,
                format!("RoleSessionName {one:?} must match [a-zA-Z_0-9+=,.@-]{{2,64}}"),
            ));
        }
    }
}

/// [`Rule::RoleSessionNameSingle`].
fn role_session_name_single(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    let n = values(f, ROLE_SESSION_NAME).len();
    if n > 1 {
        v.push(Violation::new(
            Rule::RoleSessionNameSingle,
            ROLE_SESSION_NAME,
            format!("RoleSessionName must have exactly one value, has {n}"),
        ));
    }
}

/// [`Rule::SessionDurationRange`].
fn session_duration_range(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if let Some(values) = f.attributes.get(SESSION_DURATION) {
        let ok = matches!(values.as_slice(), [one] if one.parse::<u32>().is_ok_and(|s| (900..=43200).contains(&s)));
        if !ok {
            v.push(Violation::new(
                Rule::SessionDurationRange,
                SESSION_DURATION,
                format!(
                    "SessionDuration {values:?} must be one integer between 900 and 43200 seconds"
                ),
            ));
        }
    }
}

/// [`Rule::SourceIdentityPattern`].
fn source_identity_pattern(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    if let Some(values) = f.attributes.get(SOURCE_IDENTITY) {
        let ok =
            matches!(values.as_slice(), [one] if is_session_name(one) && !one.starts_with("aws:"));
        if !ok {
            v.push(Violation::new(
                Rule::SourceIdentityPattern,
                SOURCE_IDENTITY,
                format!("SourceIdentity {values:?} must be one value matching [a-zA-Z_0-9+=,.@-]{{2,64}} not starting with aws:"),
            ));
        }
    }
}

/// The session tags: (key, values) of each PrincipalTag attribute.
fn tags<'a>(f: &AssertionFacts<'a>) -> Vec<(&'a str, &'a Vec<String>)> {
    f.attributes
        .iter()
        .filter_map(|(k, vals)| k.strip_prefix(PRINCIPAL_TAG).map(|key| (key, vals)))
        .collect()
}

/// [`Rule::PrincipalTagCount`].
fn principal_tag_count(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    let n = tags(f).len();
    if n > 50 {
        v.push(Violation::new(
            Rule::PrincipalTagCount,
            PRINCIPAL_TAG,
            format!("at most 50 PrincipalTag attributes are allowed, found {n}"),
        ));
    }
}

/// [`Rule::PrincipalTagKey`].
fn principal_tag_key(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    for (key, _) in tags(f) {
        if key.is_empty() || key.chars().count() > 128 {
            v.push(Violation::new(
                Rule::PrincipalTagKey,
                &format!("{PRINCIPAL_TAG}{key}"),
                "tag keys must be 1-128 characters".into(),
            ));
        }
    }
}

/// [`Rule::PrincipalTagValue`].
fn principal_tag_value(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    for (key, vals) in tags(f) {
        if vals.len() != 1 || vals.iter().any(|x| x.chars().count() > 256) {
            v.push(Violation::new(
                Rule::PrincipalTagValue,
                &format!("{PRINCIPAL_TAG}{key}"),
                "a session tag has exactly one value of at most 256 characters".into(),
            ));
        }
    }
}

/// [`Rule::TransitiveTagKeysUnknown`].
fn transitive_tag_keys_unknown(f: &AssertionFacts<'_>, v: &mut Vec<Violation>) {
    let tags = tags(f);
    for k in values(f, TRANSITIVE_TAG_KEYS) {
        if !tags.iter().any(|(t, _)| t == k) {
            v.push(Violation::new(
                Rule::TransitiveTagKeysUnknown,
                TRANSITIVE_TAG_KEYS,
                format!(
                    "TransitiveTagKeys names {k:?}, which is not a PrincipalTag of this assertion"
                ),
            ));
        }
    }
}

/// `arn:<partition>:iam::<12 digits>:role/<path/>name,arn:<partition>:iam::<12 digits>:saml-provider/<name>`,
/// role first, no spaces.
pub fn check_role_value(value: &str) -> Result<(), String> {
    if value.contains(char::is_whitespace) {
        return Err("must not contain spaces".into());
    }
    let Some((first, second)) = value.split_once(',') else {
        return Err(
            "must be '<role ARN>,<SAML provider ARN>' (two ARNs separated by a comma)".into(),
        );
    };
    if second.contains(',') {
        return Err("must hold exactly two ARNs".into());
    }
    if parse_arn(first, "saml-provider/").is_ok() && parse_arn(second, "role/").is_ok() {
        return Err("lists the SAML provider first; put the role ARN first".into());
    }
    parse_arn(first, "role/").map_err(|m| format!("role ARN {m}"))?;
    parse_arn(second, "saml-provider/").map_err(|m| format!("provider ARN {m}"))?;
    Ok(())
}

fn parse_arn(arn: &str, kind: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [a, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(format!("{arn:?} is not an ARN"));
    };
    if *a != "arn"
        || !matches!(*partition, "aws" | "aws-cn" | "aws-us-gov")
        || *service != "iam"
        || !region.is_empty()
    {
        return Err(format!(
            "{arn:?} must start with arn:aws:iam:: (or aws-cn, aws-us-gov)"
        ));
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{arn:?} must name a 12-digit account id"));
    }
    let Some(name) = resource.strip_prefix(kind) else {
        return Err(format!("{arn:?} must be a {}", kind.trim_end_matches('/')));
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
    if name.is_empty()
        || name.ends_with('/')
        || !name.chars().all(valid)
        || (kind == "saml-provider/" && name.contains('/'))
    {
        return Err(format!(
            "{arn:?} has an invalid {} name",
            kind.trim_end_matches('/')
        ));
    }
    Ok(())
}

fn is_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `http://127.0.0.1…`, `http://localhost…`, `http://[::1]…`: a stand-in
/// for AWS's sign-in page on this machine (the demo's, the tests'). Decision:
/// the recipient rule lets these through, because a loopback address can only
/// ever reach a local stand-in, never AWS; every other rule still applies.
pub fn is_local_stand_in(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host_end = if rest.starts_with('[') {
        rest.find(']').map(|i| i + 1)
    } else {
        rest.find([':', '/', '?'])
    }
    .unwrap_or(rest.len());
    let (host, after) = rest.split_at(host_end);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    !authority.contains('@')
        && matches!(host, "127.0.0.1" | "localhost" | "[::1]")
        && (after.is_empty() || after.starts_with([':', '/', '?']))
}

/// AWS sign-in endpoints that accept SAML responses.
pub fn is_aws_acs(url: &str) -> bool {
    if matches!(
        url,
        "https://signin.aws.amazon.com/saml" | "https://signin.amazonaws.cn/saml"
    ) {
        return true;
    }
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((region, path)) = rest.split_once(".signin.aws.amazon.com/saml") else {
        return false;
    };
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let path_ok = path.is_empty()
        || path.strip_prefix("/acs/").is_some_and(|id| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    region_ok && path_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_ROLE: &str =
        "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard";
    const ACS: &str = "https://signin.aws.amazon.com/saml";
    const AUD: &str = "urn:amazon:webservices";

    fn attrs(pairs: &[(&str, &[&str])]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    /// A good assertion with `extra` attributes set (an empty value list
    /// removes the attribute).
    fn with(extra: &[(&str, &[&str])]) -> Attributes {
        let mut a = attrs(&[(ROLE, &[GOOD_ROLE]), (ROLE_SESSION_NAME, &["alice"])]);
        for (k, v) in extra {
            if v.is_empty() {
                a.remove(*k);
            } else {
                a.insert(k.to_string(), v.iter().map(|s| s.to_string()).collect());
            }
        }
        a
    }

    fn rules_at(a: &Attributes, name_id: &str, audience: &str, recipient: &str) -> Vec<Rule> {
        check(&AssertionFacts {
            name_id,
            audience,
            recipient,
            attributes: a,
        })
        .into_iter()
        .map(|v| v.rule)
        .collect()
    }

    fn rules(a: &Attributes) -> Vec<Rule> {
        rules_at(a, "alice@example.com", AUD, ACS)
    }

    #[test]
    fn a_good_assertion_passes() {
        let a = attrs(&[
            (ROLE, &[GOOD_ROLE, "arn:aws:iam::210987654321:role/path/to/ReadOnly,arn:aws:iam::123456789012:saml-provider/Lanyard"]),
            (ROLE_SESSION_NAME, &["alice@example.com"]),
            (SESSION_DURATION, &["3600"]),
            ("https://aws.amazon.com/SAML/Attributes/PrincipalTag:team", &["blue"]),
            (TRANSITIVE_TAG_KEYS, &["team"]),
            (SOURCE_IDENTITY, &["alice"]),
        ]);
        assert_eq!(rules(&a), []);
        let regional = "https://us-east-1.signin.aws.amazon.com/saml";
        assert_eq!(
            rules_at(&a, "alice", "https://signin.aws.amazon.com/saml", regional),
            []
        );
        let center = "https://eu-west-1.signin.aws.amazon.com/saml/acs/SAMLSP1234-abcd";
        assert_eq!(rules_at(&a, "alice", AUD, center), []);
    }

    #[test]
    fn rule_ids_are_unique_and_say_aws() {
        let ids: std::collections::BTreeSet<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        assert_eq!(ids.len(), Rule::ALL.len());
        assert!(ids.iter().all(|id| id.starts_with("aws.")), "{ids:?}");
        assert_eq!(Rule::RoleSyntax.tagged("x"), "[aws.role.syntax] x");
        let v = check(&AssertionFacts {
            name_id: "",
            audience: AUD,
            recipient: ACS,
            attributes: &with(&[]),
        });
        assert_eq!(
            serde_json::to_value(&v[0]).unwrap(),
            serde_json::json!({
                "rule": "aws.nameid.required",
                "subject": "NameID",
                "message": "the Subject must carry a non-empty NameID",
                "aws_error": "AccessDenied",
            })
        );
    }

    #[test]
    fn nameid_required() {
        assert_eq!(rules_at(&with(&[]), " ", AUD, ACS), [Rule::NameIdRequired]);
    }

    #[test]
    fn audience() {
        assert_eq!(
            rules_at(&with(&[]), "a", "https://example.com/sp", ACS),
            [Rule::Audience]
        );
    }

    #[test]
    fn recipient() {
        for bad in [
            "https://evil.example.com/saml",
            "https://signin.aws.amazon.com.evil.com/saml",
            "http://127.0.0.1.evil.com/saml",
            "http://localhost@evil.com/saml",
        ] {
            assert_eq!(
                rules_at(&with(&[]), "a", AUD, bad),
                [Rule::Recipient],
                "{bad}"
            );
        }
    }

    #[test]
    fn role_required() {
        let v = check(&AssertionFacts {
            name_id: "a",
            audience: AUD,
            recipient: ACS,
            attributes: &with(&[(ROLE, &[])]),
        });
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, Rule::RoleRequired);
        assert_eq!(
            v[0].message,
            "the Role attribute is required and has no value (no role is mapped to this user)"
        );
    }

    #[test]
    fn role_syntax() {
        for bad in [
            "arn:aws:iam::12345:role/A,arn:aws:iam::123456789012:saml-provider/P",
            "arn:aws:iam::123456789012:saml-provider/P,arn:aws:iam::123456789012:role/A",
            "arn:aws:iam::123456789012:role/A, arn:aws:iam::123456789012:saml-provider/P",
            "arn:aws:iam::123456789012:role/A",
            "arn:aws:s3::123456789012:role/A,arn:aws:iam::123456789012:saml-provider/P",
        ] {
            assert_eq!(rules(&with(&[(ROLE, &[bad])])), [Rule::RoleSyntax], "{bad}");
        }
        assert_eq!(
            check_role_value(
                "arn:aws:iam::123456789012:saml-provider/P,arn:aws:iam::123456789012:role/A"
            )
            .unwrap_err(),
            "lists the SAML provider first; put the role ARN first"
        );
    }

    #[test]
    fn role_session_name_required() {
        let v = check(&AssertionFacts {
            name_id: "a",
            audience: AUD,
            recipient: ACS,
            attributes: &with(&[(ROLE_SESSION_NAME, &[])]),
        });
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, Rule::RoleSessionNameRequired);
        assert_eq!(
            v[0].aws_error,
            "RoleSessionName is required in AuthnResponse"
        );
    }

    #[test]
    fn role_session_name_pattern() {
        for bad in ["alice smith", "a"] {
            let a = with(&[(ROLE_SESSION_NAME, &[bad])]);
            assert_eq!(rules(&a), [Rule::RoleSessionNamePattern], "{bad}");
        }
    }

    #[test]
    fn role_session_name_single() {
        let a = with(&[(ROLE_SESSION_NAME, &["a1", "b2"])]);
        assert_eq!(rules(&a), [Rule::RoleSessionNameSingle]);
    }

    #[test]
    fn session_duration_range() {
        for bad in ["899", "43201", "1h"] {
            let a = with(&[(SESSION_DURATION, &[bad])]);
            assert_eq!(rules(&a), [Rule::SessionDurationRange], "{bad}");
        }
        assert_eq!(rules(&with(&[(SESSION_DURATION, &["900"])])), []);
        assert_eq!(rules(&with(&[(SESSION_DURATION, &["43200"])])), []);
    }

    #[test]
    fn source_identity_pattern() {
        let a = with(&[(SOURCE_IDENTITY, &["aws:me"])]);
        assert_eq!(rules(&a), [Rule::SourceIdentityPattern]);
    }

    #[test]
    fn principal_tag_count() {
        let mut a = with(&[]);
        for i in 0..51 {
            a.insert(format!("{PRINCIPAL_TAG}k{i}"), vec!["v".into()]);
        }
        assert_eq!(rules(&a), [Rule::PrincipalTagCount]);
    }

    #[test]
    fn principal_tag_key() {
        let long = format!("{PRINCIPAL_TAG}{}", "k".repeat(129));
        let a = with(&[(&long, &["v"])]);
        assert_eq!(rules(&a), [Rule::PrincipalTagKey]);
    }

    #[test]
    fn principal_tag_value() {
        let a = with(&[(
            "https://aws.amazon.com/SAML/Attributes/PrincipalTag:k",
            &["a", "b"],
        )]);
        assert_eq!(rules(&a), [Rule::PrincipalTagValue]);
    }

    #[test]
    fn transitive_tag_keys_unknown() {
        let a = with(&[(TRANSITIVE_TAG_KEYS, &["nope"])]);
        assert_eq!(rules(&a), [Rule::TransitiveTagKeysUnknown]);
    }

    #[test]
    fn local_stand_ins_are_loopback_http_only() {
        for ok in [
            "http://127.0.0.1:9000/aws/saml",
            "http://localhost/saml",
            "http://[::1]:80/x",
        ] {
            assert!(is_local_stand_in(ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1/saml",
            "http://127.0.0.1.evil.com/saml",
            "http://localhost@evil.com/",
            "http://localhost:1@evil.com/saml",
            "http://127.0.0.1:80@evil.com/",
            "http://10.0.0.1/saml",
        ] {
            assert!(!is_local_stand_in(bad), "{bad}");
        }
    }
}
