//! The application catalog: connector templates embedded in the binary
//! (`catalog/catalog.toml`), searchable by name and keyword, each with default
//! SSO settings, attributes and help text.

use serde::{Deserialize, Serialize};

use crate::apps::{
    AcsUrl, AttributeRule, AttributeSource, NameIdSource, SignatureAlgorithm, SsoSettings,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Template {
    pub key: String,
    pub name: String,
    pub keywords: Vec<String>,
    pub description: String,
    pub help: String,
    /// `{base_url}` and `{slug}` are filled in when an app is created.
    pub idp_entity_id: String,
    pub sp_entity_id: String,
    pub acs_urls: Vec<String>,
    /// ACS URLs the SSO tab offers to pick from.
    pub acs_url_options: Vec<String>,
    /// Sign-in endpoints the SSO tab offers as a choice (AWS's global and
    /// regional ones), in the order shown; see [`Template::sign_in_endpoints`].
    #[serde(default)]
    pub sign_in_endpoints: Vec<String>,
    #[serde(default)]
    pub default_relay_state: Option<String>,
    pub name_id: String,
    pub name_id_format: String,
    pub sign_assertion: bool,
    pub sign_response: bool,
    /// Whether the AWS assertion rules apply to apps of this template.
    pub aws_rules: bool,
    /// Whether apps of this template accept AuthnRequests at first.
    pub accept_authn_requests: bool,
    #[serde(default, rename = "constant")]
    pub constants: Vec<ConstantRow>,
    #[serde(default, rename = "mapping")]
    pub mappings: Vec<MappingRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConstantRow {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MappingRow {
    pub name: String,
    pub user_field: String,
}

#[derive(Deserialize)]
struct CatalogFile {
    template: Vec<Template>,
}

/// The embedded catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    templates: Vec<Template>,
}

impl Catalog {
    /// Parses the embedded catalog. It is part of the binary, so a parse error
    /// is a build defect; the unit tests below parse it on every test run.
    pub fn embedded() -> Result<Self, String> {
        let file: CatalogFile = toml::from_str(include_str!("../catalog/catalog.toml"))
            .map_err(|e| format!("embedded catalog: {e}"))?;
        Ok(Catalog {
            templates: file.template,
        })
    }

    pub fn all(&self) -> &[Template] {
        &self.templates
    }

    pub fn get(&self, key: &str) -> Option<&Template> {
        self.templates.iter().find(|t| t.key == key)
    }

    /// Case-insensitive search over name, keywords and description; every word
    /// of the query must match. Name matches come first.
    pub fn search(&self, query: &str) -> Vec<&Template> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut hits: Vec<(bool, &Template)> = self
            .templates
            .iter()
            .filter(|t| {
                let hay =
                    format!("{} {} {}", t.name, t.keywords.join(" "), t.description).to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .map(|t| {
                (
                    words
                        .iter()
                        .all(|w| t.name.to_lowercase().contains(w.as_str())),
                    t,
                )
            })
            .collect();
        hits.sort_by_key(|(name_hit, _)| !name_hit);
        hits.into_iter().map(|(_, t)| t).collect()
    }
}

/// A sign-in endpoint as the SSO tab offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInEndpoint {
    pub url: String,
    /// What the admin reads: the region, or "global (us-east-1)".
    pub label: String,
}

impl Template {
    /// The sign-in endpoints to choose from, labelled by region: AWS's
    /// global endpoint is us-east-1's.
    pub fn sign_in_endpoints(&self) -> Vec<SignInEndpoint> {
        self.sign_in_endpoints
            .iter()
            .map(|url| {
                let host = url
                    .strip_prefix("https://")
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or(url);
                let label = match host.strip_suffix(".signin.aws.amazon.com") {
                    Some(region) => region.to_owned(),
                    None if host == "signin.aws.amazon.com" => "global (us-east-1)".to_owned(),
                    None => host.to_owned(),
                };
                SignInEndpoint {
                    url: url.clone(),
                    label,
                }
            })
            .collect()
    }

    /// The SSO settings of a new app of this template.
    pub fn sso_settings(&self, base_url: &str, slug: &str) -> SsoSettings {
        let fill = |s: &str| s.replace("{base_url}", base_url).replace("{slug}", slug);
        SsoSettings {
            idp_entity_id: fill(&self.idp_entity_id),
            sp_entity_id: self.sp_entity_id.clone(),
            acs_urls: self
                .acs_urls
                .iter()
                .enumerate()
                .map(|(i, u)| AcsUrl {
                    url: u.clone(),
                    is_default: i == 0,
                    index: None,
                })
                .collect(),
            default_relay_state: self.default_relay_state.clone(),
            name_id: match self.name_id.as_str() {
                "username" => NameIdSource::Username,
                _ => NameIdSource::Email,
            },
            name_id_format: self.name_id_format.clone(),
            sign_assertion: self.sign_assertion,
            sign_response: self.sign_response,
            algorithm: SignatureAlgorithm::RsaSha256,
            require_signed_requests: false,
            accept_authn_requests: self.accept_authn_requests,
            relay_state_allowlist: Vec::new(),
            aws_provider_name: None,
            role_chooser: true,
        }
    }

    /// The attribute rows a new app of this template starts with.
    pub fn attribute_rules(&self) -> Vec<AttributeRule> {
        let constants = self.constants.iter().map(|c| AttributeRule {
            name: c.name.clone(),
            source: AttributeSource::Constant(c.value.clone()),
        });
        let mappings = self.mappings.iter().map(|m| AttributeRule {
            name: m.name.clone(),
            source: AttributeSource::UserField(m.user_field.clone()),
        });
        constants.chain(mappings).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::validate_attribute_rules;
    use crate::error::FieldErrors;

    #[test]
    fn embedded_catalog_parses_and_searches() {
        let c = Catalog::embedded().unwrap();
        assert_eq!(c.all().len(), 3);
        let names: Vec<&str> = c.search("aws").iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["Amazon AWS IAM", "AWS IAM Identity Center"]);
        assert_eq!(c.search("Amazon AWS IAM")[0].key, "aws-iam");
        assert_eq!(c.search("custom saml")[0].key, "custom-saml");
        assert!(c.search("salesforce").is_empty());
    }

    #[test]
    fn aws_template_defaults() {
        let c = Catalog::embedded().unwrap();
        let t = c.get("aws-iam").unwrap();
        let sso = t.sso_settings("https://idp.example.com", "aws-prod");
        assert_eq!(sso.idp_entity_id, "https://idp.example.com/saml2/aws-prod");
        assert_eq!(sso.sp_entity_id, "urn:amazon:webservices");
        assert_eq!(
            sso.default_acs(),
            Some("https://signin.aws.amazon.com/saml")
        );
        assert!(sso.sign_assertion);
        assert!(sso.placeholder_fields().is_empty());
        let mut errors = FieldErrors::new();
        sso.validate(&mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let rules = t.attribute_rules();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0].name,
            "https://aws.amazon.com/SAML/Attributes/SessionDuration"
        );
        assert_eq!(rules[0].source, AttributeSource::Constant("3600".into()));
        assert_eq!(rules[1].source, AttributeSource::UserField("email".into()));
        validate_attribute_rules(&rules, &mut errors);
        assert!(errors.is_empty());
    }

    #[test]
    fn aws_sign_in_endpoints_are_global_then_regional_and_all_pass_the_acs_rule() {
        let c = Catalog::embedded().unwrap();
        let endpoints = c.get("aws-iam").unwrap().sign_in_endpoints();
        assert_eq!(
            endpoints[0],
            SignInEndpoint {
                url: "https://signin.aws.amazon.com/saml".into(),
                label: "global (us-east-1)".into()
            }
        );
        let eu = endpoints
            .iter()
            .find(|e| e.label == "eu-west-1")
            .expect("eu-west-1 is offered");
        assert_eq!(eu.url, "https://eu-west-1.signin.aws.amazon.com/saml");
        assert!(endpoints.len() > 30, "{}", endpoints.len());
        for e in &endpoints {
            assert!(crate::aws_rules::is_aws_acs(&e.url), "{}", e.url);
        }
        let unique: std::collections::BTreeSet<&str> =
            endpoints.iter().map(|e| e.url.as_str()).collect();
        assert_eq!(unique.len(), endpoints.len(), "no endpoint twice");
        // Other templates offer none: their ACS URLs are typed.
        assert!(c.get("custom-saml").unwrap().sign_in_endpoints().is_empty());
    }

    #[test]
    fn identity_center_placeholders_block_activation() {
        let c = Catalog::embedded().unwrap();
        let sso = c
            .get("aws-identity-center")
            .unwrap()
            .sso_settings("https://idp.example.com", "ic");
        assert_eq!(
            sso.placeholder_fields(),
            vec![
                "sso.sp_entity_id",
                "sso.acs_urls[0]",
                "sso.default_relay_state"
            ]
        );
        let mut errors = FieldErrors::new();
        sso.validate(&mut errors);
        assert!(errors.is_empty(), "placeholders are savable: {errors:?}");
    }
}
