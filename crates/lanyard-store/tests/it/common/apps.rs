//! Applications for the AppStore tests: a config with every field set, keys,
//! grants, images, and NotFound helpers.

use lanyard_core::application::{
    AppConfig, AppKey, Application, Grant, ImageInfo, NewAppKey, NewApplication, PrivateKeyPem,
};
use lanyard_core::apps::{
    AcsUrl, AttributeRule, AttributeSource, Entitlement, NameIdSource, SignatureAlgorithm,
    SsoSettings,
};
use lanyard_core::store::AppStore;
use lanyard_core::{AppId, AppKeyId, Error, GroupId};
use lanyard_store::SqlStore;

use super::at;

pub fn config(label: &str) -> AppConfig {
    AppConfig {
        label: label.into(),
        description: format!("the {label} app\nsecond line"),
        show_in_portal: true,
        sso: SsoSettings {
            idp_entity_id: "https://idp.example.com/saml2/x".into(),
            sp_entity_id: "urn:amazon:webservices".into(),
            acs_urls: vec![
                AcsUrl {
                    url: "https://signin.aws.amazon.com/saml".into(),
                    is_default: true,
                    index: None,
                },
                AcsUrl {
                    url: "https://eu-west-1.signin.aws.amazon.com/saml".into(),
                    is_default: false,
                    index: None,
                },
            ],
            default_relay_state: Some("https://console.aws.amazon.com/".into()),
            name_id: NameIdSource::Attribute("employee_id".into()),
            name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
            sign_assertion: true,
            sign_response: false,
            algorithm: SignatureAlgorithm::RsaSha1,
            require_signed_requests: true,
            accept_authn_requests: true,
            relay_state_allowlist: Vec::new(),
            aws_provider_name: None,
            role_chooser: true,
        },
        attributes: vec![
            AttributeRule {
                name: "https://aws.amazon.com/SAML/Attributes/RoleSessionName".into(),
                source: AttributeSource::UserField("email".into()),
            },
            AttributeRule {
                name: "dept".into(),
                source: AttributeSource::UserAttribute("department".into()),
            },
            AttributeRule {
                name: "tier".into(),
                source: AttributeSource::Constant("gold \u{e9}".into()),
            },
        ],
        groups_attribute: Some("memberOf".into()),
        sp_certificates: vec!["MIIBcert1".into(), "MIIBcert2".into()],
    }
}

pub fn new_app(slug: &str, label: &str) -> NewApplication {
    NewApplication {
        slug: slug.into(),
        template: "aws".into(),
        aws_rules: true,
        sso_active: false,
        config: config(label),
    }
}

pub fn key(n: u32) -> NewAppKey {
    NewAppKey {
        certificate_pem: format!("-----BEGIN CERTIFICATE-----\ncert{n}\n"),
        private_key: PrivateKeyPem::new(format!("-----BEGIN PRIVATE KEY-----\nkey{n}\n")),
        not_after: at(86_400 * 365 + i64::from(n)),
    }
}

pub fn grant(group: GroupId, account: &str, role: &str) -> Grant {
    Grant {
        group_id: group,
        entitlement: Entitlement {
            account_id: account.into(),
            role_name: role.into(),
            provider_name: "Lanyard".into(),
            account_label: None,
            max_session_duration: None,
            deep_link: None,
        },
    }
}

pub fn image(n: u8) -> (ImageInfo, Vec<u8>) {
    let bytes = vec![0x89, b'P', b'N', b'G', 0, n, 0xff];
    let info = ImageInfo {
        content_type: "image/png".into(),
        sha256: format!("{n:064x}"),
        size: bytes.len() as i64,
    };
    (info, bytes)
}

pub async fn create(store: &SqlStore, slug: &str, label: &str) -> Application {
    store
        .create_app(&new_app(slug, label), &key(0), at(0))
        .await
        .unwrap()
}

pub fn labels(apps: &[Application]) -> Vec<&str> {
    apps.iter().map(|a| a.config.label.as_str()).collect()
}

pub fn not_found<T: std::fmt::Debug>(r: lanyard_core::Result<T>) -> (&'static str, String) {
    match r {
        Err(Error::NotFound { kind, id }) => (kind, id),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub fn app_missing(id: AppId) -> (&'static str, String) {
    ("application", id.to_string())
}

pub fn active_ids(keys: &[AppKey]) -> Vec<AppKeyId> {
    keys.iter().filter(|k| k.active).map(|k| k.id).collect()
}
