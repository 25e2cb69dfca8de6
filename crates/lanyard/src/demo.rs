//! `lanyard demo`: the whole flow on one machine, offline, in one command.
//!
//! It starts the server on a fresh SQLite database in a temporary directory
//! (deleted on exit) and seeds it:
//! - an administrator (`admin@example.com`) and an administrator API key;
//! - `alice` in the group `aws-admins`, which is bound to the app, and `bob`,
//!   who is in no bound group (implicitly denied);
//! - an "Amazon AWS" application (the AWS IAM template) with two
//!   entitlements for `aws-admins` in two labelled accounts (so Lanyard's
//!   role chooser shows; the sandbox role's deep link opens eu-west-1), whose
//!   default ACS is the built-in AWS sign-in stand-in
//!   (`/aws-standin/aws/saml`, see `lanyard_web::standin`), with AWS's real
//!   ACS listed second.
//!
//! With `--empty` only the administrator and its API key are seeded: an
//! empty directory and no applications, for trying (or testing) the admin
//! portal from scratch. The stand-in is mounted either way, so an app
//! created there can use `<base>/aws-standin/<slug>/saml` as its ACS.
//!
//! The first line printed is `Lanyard demo is running on <base URL> ...`,
//! where the base URL carries the bound port (`--listen 127.0.0.1:0` picks a
//! free one), so scripts can read it from standard output.
//!
//! The passwords are fixed and printed: the demo binds to loopback by
//! default and its database lives only as long as the process. The seeding
//! goes through the same use-cases as the REST API (as the `cli` actor, so
//! the audit log shows it), and the server is `serve`'s; the stand-in is the
//! only extra route, and only this command mounts it.

use std::sync::Arc;

use anyhow::Context;
use lanyard_app::apps::{self, grants, CreateAppForm, SsoForm};
use lanyard_app::directory::groups::{self, CreateGroupForm};
use lanyard_app::directory::users::{self, CreateUserForm};
use lanyard_app::{admins, AuditWriter, Authenticated, Lanyard, Writer};
use lanyard_core::admin::Role;
use lanyard_core::application::Grant;
use lanyard_core::apps::{AcsUrl, Entitlement};
use lanyard_core::store::Store;
use lanyard_core::{BaseUrl, Clock, Settings, SystemClock};
use lanyard_store::secrets::{Keyring, SecretsKey};
use lanyard_store::SqlStore;
use lanyard_web::AppState;
use tokio::net::TcpListener;

use crate::cli::DemoArgs;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-demo-password";
pub const ALICE_PASSWORD: &str = "alice-demo-password";
pub const BOB_PASSWORD: &str = "bob-demo-password";
pub const APP_SLUG: &str = "aws";

pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    crate::serve::init_logging(&args.log, crate::config::LogFormat::Text)?;
    tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")?
        .block_on(demo(args))
}

/// A temporary directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "lanyard-demo-{}-{}",
        std::process::id(),
        SystemClock.now().unix_timestamp_nanos()
    )));
    std::fs::create_dir_all(&dir.0).context("cannot create the demo's temporary directory")?;
    let url = format!("sqlite://{}", dir.0.join("demo.db").display());
    // The demo's database is thrown away on exit: its secrets key is a
    // random one kept in memory only.
    let key = SecretsKey::from_text(&SecretsKey::generate_text()?)?;
    let store = SqlStore::connect(&url)
        .await?
        .with_keyring(Arc::new(Keyring::new(key, Vec::new())));
    store.migrate().await?;
    store.check_keyring(SystemClock.now()).await?;

    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let base_url = BaseUrl::parse(&format!("http://{bound}"))
        .context("cannot derive the base URL from the bound address")?;
    let settings = Settings {
        listen: bound,
        base_url: base_url.clone(),
        log: args.log.clone(),
        auth: Default::default(),
        http: Default::default(),
    };
    let http = settings.http.clone();
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let audit = AuditWriter::start(shared.clone());
    let lanyard = Lanyard::new(settings, Arc::new(SystemClock), shared, audit.handle())?;
    let operator = lanyard
        .writer(&Authenticated::host_operator(), None)
        .context("the host operator may always write")?;
    let api_key = seed_admin(&operator).await?;
    if !args.empty {
        seed_directory(&operator, base_url.as_str()).await?;
    }

    let state = AppState::new(lanyard);
    let state_for_stop = state.clone();
    let app = lanyard_web::app(state.clone()).merge(lanyard_web::standin::router(state));
    let shutdown = crate::serve::shutdown_signal();
    print_welcome(base_url.as_str(), &api_key, args.empty);
    let served = lanyard_web::server::serve(
        listener,
        app,
        &http,
        crate::serve::draining(shutdown, state_for_stop.clone(), http.drain_delay),
    )
    .await
    .context("server failed");
    state_for_stop.lanyard.flush_session_uses().await;
    audit.shutdown().await;
    store.close().await;
    served
}

/// Seeds the administrator and an administrator API key; returns the key.
async fn seed_admin(w: &Writer) -> anyhow::Result<String> {
    admins::create_admin(w, ADMIN_EMAIL, Role::Administrator, ADMIN_PASSWORD.into()).await?;
    let (_, secret) = admins::create_key(w, "demo", Role::Administrator, None).await?;
    Ok(secret)
}

/// Seeds the directory (alice, bob, aws-admins) and the Amazon AWS app.
async fn seed_directory(w: &Writer, base_url: &str) -> anyhow::Result<()> {
    let user = |email: &str, username: &str, first: &str, password: &str| CreateUserForm {
        email: email.into(),
        username: username.into(),
        first_name: first.into(),
        last_name: "Example".into(),
        attributes: Default::default(),
        password: Some(password.into()),
    };
    let alice = users::create(
        w,
        user("alice@example.com", "alice", "Alice", ALICE_PASSWORD),
    )
    .await?;
    users::create(w, user("bob@example.com", "bob", "Bob", BOB_PASSWORD)).await?;
    let group = groups::create(
        w,
        CreateGroupForm {
            name: "aws-admins".into(),
            description: "May sign in to Amazon AWS".into(),
            attributes: Default::default(),
        },
    )
    .await?;
    groups::add_member(w, group.id, alice.id).await?;

    let app = apps::create(
        w,
        CreateAppForm {
            template: "aws-iam".into(),
            label: "Amazon AWS".into(),
            description: "AWS Management Console (the demo posts to a local stand-in)".into(),
            slug: Some(APP_SLUG.into()),
            show_in_portal: Some(true),
            sso: Some(SsoForm {
                acs_urls: Some(vec![
                    AcsUrl {
                        url: lanyard_web::standin::acs_url(base_url, APP_SLUG),
                        is_default: true,
                        index: None,
                    },
                    AcsUrl {
                        url: "https://signin.aws.amazon.com/saml".into(),
                        is_default: false,
                        index: None,
                    },
                ]),
                ..SsoForm::default()
            }),
            attributes: None,
            groups_attribute: None,
            sp_metadata: None,
            validity_days: Some(365),
        },
        None,
    )
    .await?;
    if !app.sso_active {
        apps::activate(w, app.id).await?;
    }
    grants::set_binding(w, app.id, group.id, true).await?;
    // Two accounts: alice chooses in Lanyard's role chooser; the sandbox
    // role opens the eu-west-1 console (its deep link).
    let grant = |account: &str, role: &str, label: &str, deep_link: Option<&str>| Grant {
        group_id: group.id,
        entitlement: Entitlement {
            account_id: account.into(),
            role_name: role.into(),
            provider_name: "Lanyard".into(),
            account_label: Some(label.into()),
            max_session_duration: None,
            deep_link: deep_link.map(str::to_owned),
        },
    };
    grants::set_entitlements(
        w,
        app.id,
        &[
            grant("123456789012", "Admin", "production", None),
            grant("210987654321", "ReadOnly", "sandbox", Some("eu-west-1")),
        ],
    )
    .await?;
    Ok(())
}

fn print_welcome(base: &str, api_key: &str, empty: bool) {
    if empty {
        println!(
            "\
Lanyard demo is running on {base} (Ctrl-C to stop; the database is temporary).

  Empty directory: no users, groups or applications yet.
  Admin           {base}/admin  {ADMIN_EMAIL} / {ADMIN_PASSWORD}
  AWS stand-in    {base}/aws-standin/<slug>/saml is an ACS URL for an app made from
                  the Amazon AWS IAM template (it checks responses like AWS does)
  REST API        curl -H 'Authorization: Bearer {api_key}' {base}/api/v1/applications
"
        );
        return;
    }
    println!(
        "\
Lanyard demo is running on {base} (Ctrl-C to stop; the database is temporary).

  User portal     {base}/portal
    alice / {ALICE_PASSWORD}   in aws-admins: may use Amazon AWS (two roles: the chooser asks)
    bob   / {BOB_PASSWORD}     in no bound group: denied
  IdP-initiated   sign in, click the Amazon AWS tile
  SP-initiated    open {base}/saml2/{APP_SLUG} (signs you in first if needed)
  AWS stand-in    {base}/aws-standin/{APP_SLUG}/saml checks the response like AWS does
  Metadata        {base}/saml2/{APP_SLUG}/metadata
  Admin           {base}/admin  {ADMIN_EMAIL} / {ADMIN_PASSWORD}
  REST API        curl -H 'Authorization: Bearer {api_key}' {base}/api/v1/applications
"
    );
}
