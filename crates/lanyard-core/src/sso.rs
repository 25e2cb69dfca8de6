//! The SSO decision: may this user get a response for this application, and if
//! so, exactly what does the assertion say? Pure logic; the use-case loads the
//! facts, calls [`decide`], then signs (or shows the denial page).
//!
//! Implicit deny: a user gets nothing unless one of their groups is bound to the
//! app. For AWS apps the content is checked against AWS's rules
//! ([`crate::aws_rules`]) so that no response AWS would reject is ever sent.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::application::Application;
use crate::apps::{AttributeRule, AttributeSource, Entitlement, NameIdSource, SsoSettings};
use crate::aws_rules::{self, AssertionFacts, Violation};
use crate::directory::{effective_attributes, Group, User, UserState};
use crate::ids::GroupId;

/// What the decision needs to know about the application.
#[derive(Debug, Clone)]
pub struct AppFacts<'a> {
    pub sso_active: bool,
    pub sso: &'a SsoSettings,
    pub attributes: &'a [AttributeRule],
    /// Name of the attribute listing the user's groups bound to this app.
    pub groups_attribute: Option<&'a str>,
    pub bound_groups: &'a [GroupId],
    /// Entitlements and the groups they are granted to.
    pub entitlements: &'a [(GroupId, Entitlement)],
    pub aws_rules: bool,
}

/// Who may use an application, as stored: the groups bound to it and the
/// entitlements granted to groups. Loaded together (the use-cases'
/// `app_grants`) and turned into [`AppFacts`] by [`AppFacts::new`], so the
/// SSO endpoint and the admin's Preview decide from the same inputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppGrants {
    pub bound_groups: Vec<GroupId>,
    pub entitlements: Vec<(GroupId, Entitlement)>,
}

impl<'a> AppFacts<'a> {
    /// The facts of a stored application and its grants.
    pub fn new(app: &'a Application, grants: &'a AppGrants) -> Self {
        AppFacts {
            sso_active: app.sso_active,
            sso: &app.config.sso,
            attributes: &app.config.attributes,
            groups_attribute: app.config.groups_attribute.as_deref(),
            bound_groups: &grants.bound_groups,
            entitlements: &grants.entitlements,
            aws_rules: app.aws_rules,
        }
    }
}

/// A role as a user picks it: `<account id>:<role name>`, the role name as
/// in IAM with its path (`123456789012:ops/Admin`). From the role chooser's
/// form or `?role=` on the IdP URL; honoured only when the user is granted
/// it ([`Denial::RoleNotGranted`] otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleChoice {
    pub account_id: String,
    pub role_name: String,
}

impl RoleChoice {
    /// Reads `<account id>:<role name>`; `None` when it is not that shape
    /// (12 digits, a colon, a non-empty role name of at most 576 characters
    /// without control characters).
    pub fn parse(text: &str) -> Option<RoleChoice> {
        let (account, role) = text.trim().split_once(':')?;
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let role_ok = !role.is_empty() && role.len() <= 576 && !role.chars().any(char::is_control);
        (account_ok && role_ok).then(|| RoleChoice {
            account_id: account.to_owned(),
            role_name: role.to_owned(),
        })
    }

    /// The choice that picks `e`.
    pub fn of(e: &Entitlement) -> RoleChoice {
        RoleChoice {
            account_id: e.account_id.clone(),
            role_name: e.role_name.clone(),
        }
    }

    pub fn picks(&self, e: &Entitlement) -> bool {
        self.account_id == e.account_id && self.role_name == e.role_name
    }
}

impl std::fmt::Display for RoleChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.account_id, self.role_name)
    }
}

/// The roles `user` (with all of their `groups`) may assume through the
/// app: the entitlements of their bound groups, one per Role value, ordered
/// by account (label, then id) and role name: what the chooser lists.
pub fn granted_roles(app: &AppFacts<'_>, groups: &[Group]) -> Vec<Entitlement> {
    let bound: Vec<GroupId> = groups
        .iter()
        .filter(|g| app.bound_groups.contains(&g.id))
        .map(|g| g.id)
        .collect();
    let mut roles: Vec<Entitlement> = Vec::new();
    for (g, e) in app.entitlements {
        if bound.contains(g) && !roles.iter().any(|r| r.role_value() == e.role_value()) {
            roles.push(e.clone());
        }
    }
    roles.sort_by(|a, b| {
        (&a.account_label, &a.account_id, &a.role_name).cmp(&(
            &b.account_label,
            &b.account_id,
            &b.role_name,
        ))
    });
    roles
}

/// The assertion content for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssertionContent {
    pub name_id: String,
    pub name_id_format: String,
    pub audience: String,
    pub acs_url: String,
    /// Attribute name -> values, in name order.
    pub attributes: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Denial {
    SsoInactive,
    /// Fields that still hold template placeholders.
    Placeholders {
        fields: Vec<String>,
    },
    UserSuspended,
    /// None of the user's groups is bound to the app.
    NotAuthorized,
    /// The NameID source yields nothing for this user.
    NoNameId {
        source: String,
    },
    /// The user chose (or named in `?role=`) a role they are not granted.
    RoleNotGranted {
        role: String,
    },
    /// The content would break AWS's rules.
    BreaksRules {
        violations: Vec<Violation>,
        content: Box<AssertionContent>,
    },
}

impl Denial {
    /// A stable code for audit events and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Denial::SsoInactive => "sso_inactive",
            Denial::Placeholders { .. } => "placeholders",
            Denial::UserSuspended => "user_suspended",
            Denial::NotAuthorized => "not_authorized",
            Denial::NoNameId { .. } => "no_name_id",
            Denial::RoleNotGranted { .. } => "role_not_granted",
            Denial::BreaksRules { .. } => "breaks_aws_rules",
        }
    }
}

/// Decides for `user` (with all of their `groups`), sending to `acs_url`,
/// with the role they `chose`, if any: then the Role attribute carries
/// exactly that role, and SessionDuration is capped by its own maximum.
pub fn decide(
    app: &AppFacts<'_>,
    user: &User,
    groups: &[Group],
    acs_url: &str,
    chose: Option<&RoleChoice>,
) -> Result<AssertionContent, Denial> {
    if !app.sso_active {
        return Err(Denial::SsoInactive);
    }
    let placeholders = app.sso.placeholder_fields();
    if !placeholders.is_empty() {
        return Err(Denial::Placeholders {
            fields: placeholders,
        });
    }
    if user.state == UserState::Suspended {
        return Err(Denial::UserSuspended);
    }
    let bound: Vec<&Group> = groups
        .iter()
        .filter(|g| app.bound_groups.contains(&g.id))
        .collect();
    if bound.is_empty() {
        return Err(Denial::NotAuthorized);
    }
    let chosen = match chose {
        Some(choice) => match granted_roles(app, groups)
            .into_iter()
            .find(|e| choice.picks(e))
        {
            Some(e) => Some(e),
            None => {
                return Err(Denial::RoleNotGranted {
                    role: choice.to_string(),
                })
            }
        },
        None => None,
    };
    let content = content(app, user, &bound, acs_url, chosen.as_ref())?;
    if app.aws_rules {
        let violations = aws_rules::check(&AssertionFacts {
            name_id: &content.name_id,
            audience: &content.audience,
            recipient: &content.acs_url,
            attributes: &content.attributes,
        });
        if !violations.is_empty() {
            return Err(Denial::BreaksRules {
                violations,
                content: Box::new(content),
            });
        }
    }
    Ok(content)
}

/// The content without the authorization and rules checks (for the Preview
/// tab). Only the user's groups that are `bound` to the app contribute:
/// their inherited attributes, their entitlements and the groups attribute.
/// So unbinding a group takes back everything it granted through this app,
/// even from a user who keeps access through another bound group. Group
/// attributes are merged in the order of the groups' names (see
/// [`effective_attributes`]). With a `chosen` role (one the user is
/// granted), the Role attribute is exactly that role and SessionDuration is
/// capped by its maximum; without one, every granted role is sent and the
/// cap is the smallest maximum among them.
pub fn content(
    app: &AppFacts<'_>,
    user: &User,
    bound: &[&Group],
    acs_url: &str,
    chosen: Option<&Entitlement>,
) -> Result<AssertionContent, Denial> {
    let mut bound = bound.to_vec();
    bound.sort_by_key(|a| (a.name.to_lowercase(), a.id.0));
    let group_attrs: Vec<&crate::directory::Attributes> =
        bound.iter().map(|g| &g.attributes).collect();
    let attrs = effective_attributes(&user.attributes, &group_attrs);
    let field = |f: &str| -> Option<String> {
        match f {
            "email" => Some(user.email.clone()),
            "username" => Some(user.username.clone()),
            "first_name" => Some(user.first_name.clone()).filter(|s| !s.is_empty()),
            "last_name" => Some(user.last_name.clone()).filter(|s| !s.is_empty()),
            "id" => Some(user.id.to_string()),
            _ => None,
        }
    };
    let name_id = match &app.sso.name_id {
        NameIdSource::Email => Some(user.email.clone()),
        NameIdSource::Username => Some(user.username.clone()),
        NameIdSource::Attribute(a) => attrs.get(a).and_then(|v| v.first().cloned()),
    }
    .filter(|v| !v.is_empty())
    .ok_or_else(|| Denial::NoNameId {
        source: format!("{:?}", app.sso.name_id),
    })?;

    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in app.attributes {
        let values: Vec<String> = match &rule.source {
            AttributeSource::Constant(v) => vec![v.clone()],
            AttributeSource::UserField(f) => field(f).into_iter().collect(),
            AttributeSource::UserAttribute(a) => attrs.get(a).cloned().unwrap_or_default(),
        };
        if !values.is_empty() {
            out.entry(rule.name.clone()).or_default().extend(values);
        }
    }
    if let Some(name) = app.groups_attribute {
        let mut names: Vec<String> = bound.iter().map(|g| g.name.clone()).collect();
        names.sort();
        // Extends rather than replaces: a groups attribute named like a
        // mapped one adds to it (JumpCloud's "group attribute" role style).
        out.entry(name.to_owned()).or_default().extend(names);
    }
    let bound_ids: Vec<GroupId> = bound.iter().map(|g| g.id).collect();
    let granted: Vec<&crate::apps::Entitlement> = match chosen {
        Some(e) => vec![e],
        None => app
            .entitlements
            .iter()
            .filter(|(g, _)| bound_ids.contains(g))
            .map(|(_, e)| e)
            .collect(),
    };
    let mut roles: Vec<String> = granted.iter().map(|e| e.role_value()).collect();
    if chosen.is_some() {
        // Exactly the chosen role, so AWS skips its own chooser.
        out.insert(aws_rules::ROLE.to_owned(), roles);
    } else if !roles.is_empty() {
        roles.sort();
        roles.dedup();
        out.entry(aws_rules::ROLE.to_owned())
            .or_default()
            .extend(roles);
    }
    // A SessionDuration above a role's MaxSessionDuration makes AWS refuse
    // the sign-in: cap it at the chosen role's maximum, or without a choice
    // at the smallest maximum of the roles sent (AWS_SAML.md section 6).
    if let Some(cap) = granted.iter().filter_map(|e| e.max_session_duration).min() {
        if let Some(values) = out.get_mut(aws_rules::SESSION_DURATION) {
            for v in values.iter_mut() {
                if v.parse::<u32>().is_ok_and(|d| d > cap) {
                    *v = cap.to_string();
                }
            }
        }
    }
    for values in out.values_mut() {
        let mut seen = std::collections::HashSet::new();
        values.retain(|v| seen.insert(v.clone()));
    }
    Ok(AssertionContent {
        name_id,
        name_id_format: app.sso.name_id_format.clone(),
        audience: app.sso.sp_entity_id.clone(),
        acs_url: acs_url.to_owned(),
        attributes: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::ids::UserId;
    use time::OffsetDateTime;

    fn user(state: UserState, attrs: &[(&str, &str)]) -> User {
        let t = OffsetDateTime::UNIX_EPOCH;
        User {
            id: UserId(7),
            email: "alice@example.com".into(),
            username: "alice".into(),
            first_name: "Alice".into(),
            last_name: String::new(),
            state,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect(),
            created_at: t,
            updated_at: t,
        }
    }

    fn group(id: i64, name: &str) -> Group {
        let t = OffsetDateTime::UNIX_EPOCH;
        Group {
            id: GroupId(id),
            name: name.into(),
            description: String::new(),
            attributes: Default::default(),
            created_at: t,
            updated_at: t,
        }
    }

    fn ent(account: &str, role: &str) -> Entitlement {
        Entitlement {
            account_id: account.into(),
            role_name: role.into(),
            provider_name: "Lanyard".into(),
            account_label: None,
            max_session_duration: None,
            deep_link: None,
        }
    }

    const ACS: &str = "https://signin.aws.amazon.com/saml";

    #[test]
    fn aws_app_builds_roles_from_entitlements_and_passes_rules() {
        let t = Catalog::embedded().unwrap();
        let t = t.get("aws-iam").unwrap();
        let sso = t.sso_settings("https://idp.example.com", "aws");
        let rules = t.attribute_rules();
        let ents = [
            (GroupId(1), ent("123456789012", "Admin")),
            (GroupId(2), ent("210987654321", "ReadOnly")),
            (GroupId(3), ent("111111111111", "Other")),
        ];
        let app = AppFacts {
            sso_active: true,
            sso: &sso,
            attributes: &rules,
            groups_attribute: Some("groups"),
            bound_groups: &[GroupId(1), GroupId(2)],
            entitlements: &ents,
            aws_rules: true,
        };
        let c = decide(
            &app,
            &user(UserState::Active, &[]),
            &[group(1, "admins"), group(2, "devs")],
            ACS,
            None,
        )
        .unwrap();
        assert_eq!(c.name_id, "alice@example.com");
        assert_eq!(c.audience, "urn:amazon:webservices");
        assert_eq!(
            c.attributes[aws_rules::ROLE],
            vec![
                "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard",
                "arn:aws:iam::210987654321:role/ReadOnly,arn:aws:iam::210987654321:saml-provider/Lanyard"
            ]
        );
        assert_eq!(
            c.attributes[aws_rules::ROLE_SESSION_NAME],
            vec!["alice@example.com"]
        );
        assert_eq!(c.attributes[aws_rules::SESSION_DURATION], vec!["3600"]);
        assert_eq!(c.attributes["groups"], vec!["admins", "devs"]);
    }

    #[test]
    fn denials_in_order_of_precedence() {
        let t = Catalog::embedded().unwrap();
        let t = t.get("aws-iam").unwrap();
        let sso = t.sso_settings("https://idp.example.com", "aws");
        let rules = t.attribute_rules();
        let ents = [(GroupId(1), ent("123456789012", "Admin"))];
        let base = AppFacts {
            sso_active: true,
            sso: &sso,
            attributes: &rules,
            groups_attribute: None,
            bound_groups: &[GroupId(1)],
            entitlements: &ents,
            aws_rules: true,
        };
        let alice = user(UserState::Active, &[]);
        let g1 = [group(1, "admins")];

        let off = AppFacts {
            sso_active: false,
            ..base.clone()
        };
        assert_eq!(
            decide(&off, &alice, &g1, ACS, None),
            Err(Denial::SsoInactive)
        );
        assert_eq!(
            decide(&base, &user(UserState::Suspended, &[]), &g1, ACS, None),
            Err(Denial::UserSuspended)
        );
        assert_eq!(
            decide(&base, &alice, &[group(9, "other")], ACS, None),
            Err(Denial::NotAuthorized)
        );
        assert_eq!(
            decide(&base, &alice, &[], ACS, None),
            Err(Denial::NotAuthorized)
        );

        // Bound but no role: a clear rule violation, never a response.
        let no_roles = AppFacts {
            entitlements: &[],
            ..base.clone()
        };
        match decide(&no_roles, &alice, &g1, ACS, None) {
            Err(Denial::BreaksRules { violations, .. }) => {
                assert_eq!(
                    violations.iter().map(|v| v.rule).collect::<Vec<_>>(),
                    vec![crate::aws_rules::Rule::RoleRequired]
                )
            }
            other => panic!("{other:?}"),
        }

        let mut placeholder = sso.clone();
        placeholder.acs_urls[0].url = "https://YOUR_AWS_REGION.signin.aws.amazon.com/saml".into();
        let ph = AppFacts {
            sso: &placeholder,
            ..base.clone()
        };
        assert_eq!(
            decide(&ph, &alice, &g1, ACS, None),
            Err(Denial::Placeholders {
                fields: vec!["sso.acs_urls[0]".into()]
            })
        );
    }

    #[test]
    fn role_from_custom_attribute_and_name_id_from_attribute() {
        let t = Catalog::embedded().unwrap();
        let t = t.get("aws-iam").unwrap();
        let mut sso = t.sso_settings("https://idp.example.com", "aws");
        sso.name_id = NameIdSource::Attribute("employee_id".into());
        let mut rules = t.attribute_rules();
        rules.push(AttributeRule {
            name: aws_rules::ROLE.into(),
            source: AttributeSource::UserAttribute("aws_role".into()),
        });
        let app = AppFacts {
            sso_active: true,
            sso: &sso,
            attributes: &rules,
            groups_attribute: None,
            bound_groups: &[GroupId(1)],
            entitlements: &[],
            aws_rules: true,
        };
        let role =
            "arn:aws:iam::123456789012:role/Dev,arn:aws:iam::123456789012:saml-provider/Lanyard";
        let u = user(
            UserState::Active,
            &[("employee_id", "E-42"), ("aws_role", role)],
        );
        let c = decide(&app, &u, &[group(1, "g")], ACS, None).unwrap();
        assert_eq!(c.name_id, "E-42");
        assert_eq!(c.attributes[aws_rules::ROLE], vec![role]);
        let no_id = user(UserState::Active, &[("aws_role", role)]);
        assert!(matches!(
            decide(&app, &no_id, &[group(1, "g")], ACS, None),
            Err(Denial::NoNameId { .. })
        ));
    }

    #[test]
    fn rows_with_one_name_make_a_multi_valued_attribute_and_groups_inherit() {
        let t = Catalog::embedded().unwrap();
        let t = t.get("custom-saml").unwrap();
        let mut sso = t.sso_settings("https://idp.example.com", "wiki");
        sso.sp_entity_id = "https://wiki.example.com".into();
        let constant = |n: &str, v: &str| AttributeRule {
            name: n.into(),
            source: AttributeSource::Constant(v.into()),
        };
        let rules = vec![
            constant("tier", "gold"),
            constant("tier", "silver"),
            AttributeRule {
                name: "dept".into(),
                source: AttributeSource::UserAttribute("department".into()),
            },
        ];
        let app = AppFacts {
            sso_active: true,
            sso: &sso,
            attributes: &rules,
            groups_attribute: Some("memberOf"),
            bound_groups: &[GroupId(1)],
            entitlements: &[],
            aws_rules: false,
        };
        let mut g = group(1, "engineering");
        g.attributes.insert("department".into(), vec!["R&D".into()]);
        let c = decide(
            &app,
            &user(UserState::Active, &[]),
            &[g, group(2, "unbound")],
            "https://wiki.example.com/acs",
            None,
        )
        .unwrap();
        assert_eq!(c.attributes["tier"], vec!["gold", "silver"]);
        assert_eq!(
            c.attributes["dept"],
            vec!["R&D"],
            "inherited from the group"
        );
        assert_eq!(
            c.attributes["memberOf"],
            vec!["engineering"],
            "bound groups only"
        );
    }

    /// JumpCloud's third role style: groups named by their role value, sent
    /// through a groups attribute named Role, alongside constant Role rows.
    #[test]
    fn groups_attribute_named_role_adds_to_the_role_values() {
        let t = Catalog::embedded().unwrap();
        let t = t.get("aws-iam").unwrap();
        let sso = t.sso_settings("https://idp.example.com", "aws");
        let role_a =
            "arn:aws:iam::123456789012:role/A,arn:aws:iam::123456789012:saml-provider/Lanyard";
        let role_b =
            "arn:aws:iam::123456789012:role/B,arn:aws:iam::123456789012:saml-provider/Lanyard";
        let mut rules = t.attribute_rules();
        rules.push(AttributeRule {
            name: aws_rules::ROLE.into(),
            source: AttributeSource::Constant(role_a.into()),
        });
        let app = AppFacts {
            sso_active: true,
            sso: &sso,
            attributes: &rules,
            groups_attribute: Some(aws_rules::ROLE),
            bound_groups: &[GroupId(1)],
            entitlements: &[],
            aws_rules: true,
        };
        let c = decide(
            &app,
            &user(UserState::Active, &[]),
            &[group(1, role_b)],
            ACS,
            None,
        )
        .unwrap();
        assert_eq!(c.attributes[aws_rules::ROLE], vec![role_a, role_b]);
    }

    #[test]
    fn role_choices_read_account_and_role_with_its_path() {
        assert_eq!(
            RoleChoice::parse("123456789012:ops/Admin"),
            Some(RoleChoice {
                account_id: "123456789012".into(),
                role_name: "ops/Admin".into()
            })
        );
        assert_eq!(
            RoleChoice::parse("123456789012:Admin").unwrap().to_string(),
            "123456789012:Admin"
        );
        for bad in [
            "Admin",
            "12345:Admin",
            "123456789012:",
            "12345678901x:A",
            "123456789012:a\nb",
        ] {
            assert_eq!(RoleChoice::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_chosen_role_is_sent_alone_with_its_own_session_cap() {
        let t = Catalog::embedded().unwrap();
        let t = t.get("aws-iam").unwrap();
        let sso = t.sso_settings("https://idp.example.com", "aws");
        let mut rules = t.attribute_rules();
        rules[0].source = AttributeSource::Constant("28800".into());
        let capped = |account: &str, role: &str, cap: Option<u32>| Entitlement {
            max_session_duration: cap,
            ..ent(account, role)
        };
        let ents = [
            (GroupId(1), capped("123456789012", "Admin", Some(3600))),
            (GroupId(1), capped("123456789012", "ReadOnly", None)),
            (GroupId(2), capped("210987654321", "ops/Dev", Some(7200))),
            (GroupId(3), capped("333333333333", "NotMine", None)),
        ];
        let app = AppFacts {
            sso_active: true,
            sso: &sso,
            attributes: &rules,
            groups_attribute: None,
            bound_groups: &[GroupId(1), GroupId(2), GroupId(3)],
            entitlements: &ents,
            aws_rules: true,
        };
        let alice = user(UserState::Active, &[]);
        let groups = [group(1, "admins"), group(2, "devs")];
        let pick =
            |text: &str| decide(&app, &alice, &groups, ACS, RoleChoice::parse(text).as_ref());
        let c = pick("123456789012:ReadOnly").unwrap();
        assert_eq!(
            c.attributes[aws_rules::ROLE],
            ["arn:aws:iam::123456789012:role/ReadOnly,arn:aws:iam::123456789012:saml-provider/Lanyard"]
        );
        assert_eq!(
            c.attributes[aws_rules::SESSION_DURATION],
            ["28800"],
            "no cap"
        );
        let c = pick("210987654321:ops/Dev").unwrap();
        assert_eq!(c.attributes[aws_rules::SESSION_DURATION], ["7200"]);
        let c = pick("123456789012:Admin").unwrap();
        assert_eq!(c.attributes[aws_rules::SESSION_DURATION], ["3600"]);
        // Without a choice: every role, the smallest cap.
        let c = decide(&app, &alice, &groups, ACS, None).unwrap();
        assert_eq!(c.attributes[aws_rules::ROLE].len(), 3);
        assert_eq!(c.attributes[aws_rules::SESSION_DURATION], ["3600"]);
        // Another group's role, or one nobody has: not granted.
        assert_eq!(
            pick("333333333333:NotMine"),
            Err(Denial::RoleNotGranted {
                role: "333333333333:NotMine".into()
            })
        );
        assert_eq!(
            granted_roles(&app, &groups)
                .iter()
                .map(|e| e.role_name.as_str())
                .collect::<Vec<_>>(),
            ["Admin", "ReadOnly", "ops/Dev"]
        );
    }
}
