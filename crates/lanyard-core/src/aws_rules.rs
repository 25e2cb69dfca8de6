//! AWS's rules for SAML assertions (IAM federation), checked before anything is
//! sent, so a broken configuration is named precisely instead of AWS's
//! "Your request included an invalid SAML response".
//!
//! Sources: AWS IAM User Guide, "Configure SAML assertions for the
//! authentication response" and "Troubleshoot SAML federation with IAM"
//! (summarised in shared/AWS_SAML.md sections 2-3). Each violation carries a
//! stable rule id, the attribute it concerns, a message naming the rule, and
//! the error AWS itself would show.

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

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Stable id, e.g. `aws.role.syntax`.
    pub rule: &'static str,
    /// The attribute (or `Audience`, `Recipient`, `NameID`) concerned.
    pub subject: String,
    /// What is wrong, naming the rule.
    pub message: String,
    /// What AWS would answer.
    pub aws_error: &'static str,
}

/// What an assertion for AWS says, as the checker needs it.
#[derive(Debug, Clone)]
pub struct AssertionFacts<'a> {
    pub name_id: &'a str,
    pub audience: &'a str,
    pub recipient: &'a str,
    pub attributes: &'a Attributes,
}

const INVALID_RESPONSE: &str = "Your request included an invalid SAML response.";

/// Checks every rule; an empty result means AWS would accept the content.
pub fn check(f: &AssertionFacts<'_>) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut add = |rule, subject: &str, message: String, aws_error| {
        v.push(Violation {
            rule,
            subject: subject.to_owned(),
            message,
            aws_error,
        })
    };
    if f.name_id.trim().is_empty() {
        add(
            "aws.nameid.required",
            "NameID",
            "the Subject must carry a non-empty NameID".into(),
            "AccessDenied",
        );
    }
    if !AUDIENCES.contains(&f.audience) {
        add(
            "aws.audience",
            "Audience",
            format!("Audience {:?} must be https://signin.aws.amazon.com/saml or urn:amazon:webservices", f.audience),
            "Response does not contain the required audience.",
        );
    }
    if !is_aws_acs(f.recipient) && !is_local_stand_in(f.recipient) {
        add(
            "aws.recipient",
            "Recipient",
            format!(
                "Recipient/ACS {:?} is not an AWS sign-in endpoint (https://signin.aws.amazon.com/saml, https://<region>.signin.aws.amazon.com/saml[/acs/<id>], https://signin.amazonaws.cn/saml)",
                f.recipient
            ),
            INVALID_RESPONSE,
        );
    }

    match f.attributes.get(ROLE).map(Vec::as_slice) {
        None | Some([]) => add(
            "aws.role.required",
            ROLE,
            "the Role attribute is required and has no value (no role is mapped to this user)"
                .into(),
            INVALID_RESPONSE,
        ),
        Some(values) => {
            for (i, value) in values.iter().enumerate() {
                if let Err(m) = check_role_value(value) {
                    add(
                        "aws.role.syntax",
                        ROLE,
                        format!("Role value {} {value:?}: {m}", i + 1),
                        INVALID_RESPONSE,
                    );
                }
            }
        }
    }

    match f.attributes.get(ROLE_SESSION_NAME).map(Vec::as_slice) {
        None | Some([]) => add(
            "aws.role_session_name.required",
            ROLE_SESSION_NAME,
            "RoleSessionName is required (exactly one value)".into(),
            "RoleSessionName is required in AuthnResponse",
        ),
        Some([one]) => {
            if !is_session_name(one) {
                add(
                    "aws.role_session_name.pattern",
                    ROLE_SESSION_NAME,
                    format!("RoleSessionName {one:?} must match [a-zA-Z_0-9+=,.@-]{{2,64}}"),
                    "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
                );
            }
        }
        Some(many) => add(
            "aws.role_session_name.single",
            ROLE_SESSION_NAME,
            format!(
                "RoleSessionName must have exactly one value, has {}",
                many.len()
            ),
            INVALID_RESPONSE,
        ),
    }

    if let Some(values) = f.attributes.get(SESSION_DURATION) {
        let ok = matches!(values.as_slice(), [one] if one.parse::<u32>().is_ok_and(|s| (900..=43200).contains(&s)));
        if !ok {
            add(
                "aws.session_duration.range",
                SESSION_DURATION,
                format!(
                    "SessionDuration {values:?} must be one integer between 900 and 43200 seconds"
                ),
                INVALID_RESPONSE,
            );
        }
    }

    if let Some(values) = f.attributes.get(SOURCE_IDENTITY) {
        let ok =
            matches!(values.as_slice(), [one] if is_session_name(one) && !one.starts_with("aws:"));
        if !ok {
            add(
                "aws.source_identity.pattern",
                SOURCE_IDENTITY,
                format!("SourceIdentity {values:?} must be one value matching [a-zA-Z_0-9+=,.@-]{{2,64}} not starting with aws:"),
                INVALID_RESPONSE,
            );
        }
    }

    let tags: Vec<(&str, &Vec<String>)> = f
        .attributes
        .iter()
        .filter_map(|(k, vals)| k.strip_prefix(PRINCIPAL_TAG).map(|key| (key, vals)))
        .collect();
    if tags.len() > 50 {
        add(
            "aws.principal_tag.count",
            PRINCIPAL_TAG,
            format!(
                "at most 50 PrincipalTag attributes are allowed, found {}",
                tags.len()
            ),
            INVALID_RESPONSE,
        );
    }
    for (key, vals) in &tags {
        let subject = format!("{PRINCIPAL_TAG}{key}");
        if key.is_empty() || key.chars().count() > 128 {
            add(
                "aws.principal_tag.key",
                &subject,
                "tag keys must be 1-128 characters".into(),
                INVALID_RESPONSE,
            );
        }
        if vals.len() != 1 || vals.iter().any(|x| x.chars().count() > 256) {
            add(
                "aws.principal_tag.value",
                &subject,
                "a session tag has exactly one value of at most 256 characters".into(),
                INVALID_RESPONSE,
            );
        }
    }
    if let Some(keys) = f.attributes.get(TRANSITIVE_TAG_KEYS) {
        for k in keys {
            if !tags.iter().any(|(t, _)| t == k) {
                add(
                    "aws.transitive_tag_keys.unknown",
                    TRANSITIVE_TAG_KEYS,
                    format!("TransitiveTagKeys names {k:?}, which is not a PrincipalTag of this assertion"),
                    INVALID_RESPONSE,
                );
            }
        }
    }
    v
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

    fn attrs(pairs: &[(&str, &[&str])]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    fn rules(a: &Attributes, audience: &str, recipient: &str) -> Vec<&'static str> {
        check(&AssertionFacts {
            name_id: "alice@example.com",
            audience,
            recipient,
            attributes: a,
        })
        .into_iter()
        .map(|v| v.rule)
        .collect()
    }

    const ACS: &str = "https://signin.aws.amazon.com/saml";
    const AUD: &str = "urn:amazon:webservices";

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
        assert_eq!(rules(&a, AUD, ACS), Vec::<&str>::new());
        assert_eq!(
            rules(
                &a,
                "https://signin.aws.amazon.com/saml",
                "https://us-east-1.signin.aws.amazon.com/saml"
            ),
            Vec::<&str>::new()
        );
        assert_eq!(
            rules(
                &a,
                AUD,
                "https://eu-west-1.signin.aws.amazon.com/saml/acs/SAMLSP1234-abcd"
            ),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn each_bad_assertion_names_its_rule() {
        let base = |extra: &[(&str, &[&str])]| {
            let mut a = attrs(&[(ROLE, &[GOOD_ROLE]), (ROLE_SESSION_NAME, &["alice"])]);
            for (k, v) in extra {
                a.insert(k.to_string(), v.iter().map(|s| s.to_string()).collect());
            }
            a
        };
        let table: Vec<(Attributes, &str, &str, &str)> = vec![
            (attrs(&[(ROLE_SESSION_NAME, &["alice"])]), AUD, ACS, "aws.role.required"),
            (base(&[(ROLE, &["arn:aws:iam::12345:role/A,arn:aws:iam::123456789012:saml-provider/P"])]), AUD, ACS, "aws.role.syntax"),
            (base(&[(ROLE, &["arn:aws:iam::123456789012:saml-provider/P,arn:aws:iam::123456789012:role/A"])]), AUD, ACS, "aws.role.syntax"),
            (base(&[(ROLE, &["arn:aws:iam::123456789012:role/A, arn:aws:iam::123456789012:saml-provider/P"])]), AUD, ACS, "aws.role.syntax"),
            (base(&[(ROLE, &["arn:aws:iam::123456789012:role/A"])]), AUD, ACS, "aws.role.syntax"),
            (base(&[(ROLE, &["arn:aws:s3::123456789012:role/A,arn:aws:iam::123456789012:saml-provider/P"])]), AUD, ACS, "aws.role.syntax"),
            (attrs(&[(ROLE, &[GOOD_ROLE])]), AUD, ACS, "aws.role_session_name.required"),
            (base(&[(ROLE_SESSION_NAME, &["alice smith"])]), AUD, ACS, "aws.role_session_name.pattern"),
            (base(&[(ROLE_SESSION_NAME, &["a"])]), AUD, ACS, "aws.role_session_name.pattern"),
            (base(&[(ROLE_SESSION_NAME, &["a1", "b2"])]), AUD, ACS, "aws.role_session_name.single"),
            (base(&[(SESSION_DURATION, &["899"])]), AUD, ACS, "aws.session_duration.range"),
            (base(&[(SESSION_DURATION, &["43201"])]), AUD, ACS, "aws.session_duration.range"),
            (base(&[(SESSION_DURATION, &["1h"])]), AUD, ACS, "aws.session_duration.range"),
            (base(&[(SOURCE_IDENTITY, &["aws:me"])]), AUD, ACS, "aws.source_identity.pattern"),
            (base(&[("https://aws.amazon.com/SAML/Attributes/PrincipalTag:k", &["a", "b"])]), AUD, ACS, "aws.principal_tag.value"),
            (base(&[(TRANSITIVE_TAG_KEYS, &["nope"])]), AUD, ACS, "aws.transitive_tag_keys.unknown"),
            (base(&[]), "https://example.com/sp", ACS, "aws.audience"),
            (base(&[]), AUD, "https://evil.example.com/saml", "aws.recipient"),
            (base(&[]), AUD, "https://signin.aws.amazon.com.evil.com/saml", "aws.recipient"),
            (base(&[]), AUD, "http://127.0.0.1.evil.com/saml", "aws.recipient"),
            (base(&[]), AUD, "http://localhost@evil.com/saml", "aws.recipient"),
        ];
        for (a, aud, acs, expected) in table {
            assert_eq!(rules(&a, aud, acs), vec![expected], "{a:?} {aud} {acs}");
        }
    }

    #[test]
    fn too_many_tags_and_messages_are_specific() {
        let mut a = attrs(&[(ROLE, &[GOOD_ROLE]), (ROLE_SESSION_NAME, &["alice"])]);
        for i in 0..51 {
            a.insert(format!("{PRINCIPAL_TAG}k{i}"), vec!["v".into()]);
        }
        assert_eq!(rules(&a, AUD, ACS), vec!["aws.principal_tag.count"]);
        let v = check(&AssertionFacts {
            name_id: "",
            audience: AUD,
            recipient: ACS,
            attributes: &attrs(&[]),
        });
        assert_eq!(v[0].rule, "aws.nameid.required");
        assert_eq!(
            v[1].message,
            "the Role attribute is required and has no value (no role is mapped to this user)"
        );
        assert_eq!(
            v[2].aws_error,
            "RoleSessionName is required in AuthnResponse"
        );
        assert_eq!(
            check_role_value(
                "arn:aws:iam::123456789012:saml-provider/P,arn:aws:iam::123456789012:role/A"
            )
            .unwrap_err(),
            "lists the SAML provider first; put the role ARN first"
        );
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
