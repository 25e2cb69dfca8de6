//! Test support: the whole app on a real store, once per available backend,
//! and a small HTTP client over `app().oneshot(...)` that checks every
//! response for leaked secrets.

pub mod admin;
pub mod browser;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use lanyard_app::{Audit, AuditWriter, Lanyard};
use lanyard_core::admin::{generate_api_key, Role};
use lanyard_core::audit::AuditFilter;
use lanyard_core::store::{ApiKeyStore, AuditStore, Store};
use lanyard_core::{BaseUrl, FixedClock, Settings};
use lanyard_store::SqlStore;
use lanyard_web::{app, AppState};
use serde_json::Value;
use time::macros::datetime;
use tower::ServiceExt;

pub struct TestApp {
    pub backend: &'static str,
    pub store: SqlStore,
    pub clock: Arc<FixedClock>,
    pub audit: Audit,
    writer: Option<AuditWriter>,
    router: Router,
    /// The node's state (e.g. to start draining it).
    pub state: AppState,
    /// An administrator key's secret.
    pub admin_key: String,
    /// A read-only key's secret.
    pub reader_key: String,
    /// Hashes of every key made here: no response may contain them.
    pub key_hashes: Vec<String>,
    /// Every response body so far, for checks that search them all.
    pub bodies: std::sync::Mutex<Vec<Vec<u8>>>,
}

pub fn settings() -> Settings {
    Settings {
        listen: "127.0.0.1:8080".parse().unwrap(),
        base_url: BaseUrl::parse("http://127.0.0.1:8080").unwrap(),
        log: "info".into(),
        auth: Default::default(),
        http: Default::default(),
    }
}

/// The password [`TestApp::user`] gives its users.
pub const USER_PW: &str = "correct horse battery";

/// Distinct key material per call (tests need uniqueness, not secrecy).
pub fn key_bytes() -> [u8; 32] {
    static N: AtomicU8 = AtomicU8::new(1);
    let mut b = [0u8; 32];
    b[0] = N.fetch_add(1, Ordering::Relaxed);
    b[1..9].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
    b
}

/// Runs one web test body on each backend as its own `#[test]`, named
/// `<test>::sqlite` and `<test>::postgres`, so a failure names its backend
/// (the PostgreSQL half is skipped, and says so, without
/// `LANYARD_TEST_POSTGRES`). The body gets a [`TestApp`] on a fresh store.
///
/// ```ignore
/// web_test!(health_is_ok, |app| {
///     assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
/// });
/// ```
macro_rules! web_test {
    ($name:ident, |mut $app:ident| $body:block) => {
        web_test!(@each $name, mut $app, $body);
    };
    ($name:ident, |$app:ident| $body:block) => {
        web_test!(@each $name, $app, $body);
    };
    (@each $name:ident, $($app:ident)+, $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn sqlite() {
                $crate::common::run("sqlite", |store| async move {
                    let $($app)+ = $crate::common::TestApp::new("sqlite", store).await;
                    $body
                });
            }

            #[test]
            fn postgres() {
                $crate::common::run("postgres", |store| async move {
                    let $($app)+ = $crate::common::TestApp::new("postgres", store).await;
                    $body
                });
            }
        }
    };
}

pub use lanyard_store::testing::run;

impl TestApp {
    pub async fn new(backend: &'static str, store: SqlStore) -> Self {
        let clock = Arc::new(FixedClock::new(datetime!(2025-03-01 12:00:00 UTC)));
        let mut this = TestApp::node(backend, store, clock);
        this.admin_key = this.make_key("admin", Role::Administrator).await.0;
        this.reader_key = this.make_key("reader", Role::ReadOnly).await.0;
        this
    }

    /// A server on `store` with nothing per node yet (caches, rate limits,
    /// the audit writer's queue).
    fn node(backend: &'static str, store: SqlStore, clock: Arc<FixedClock>) -> Self {
        TestApp::node_with(backend, store, clock, settings())
    }

    fn node_with(
        backend: &'static str,
        store: SqlStore,
        clock: Arc<FixedClock>,
        settings: Settings,
    ) -> Self {
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let writer = AuditWriter::start(shared.clone());
        let audit = writer.handle();
        let lanyard = Lanyard::new(settings, clock.clone(), shared, audit.clone()).unwrap();
        let state = AppState::new(lanyard);
        TestApp {
            backend,
            store,
            clock,
            audit,
            writer: Some(writer),
            router: app(state.clone()).merge(lanyard_web::standin::router(state.clone())),
            state,
            admin_key: String::new(),
            reader_key: String::new(),
            key_hashes: Vec::new(),
            bodies: Default::default(),
        }
    }

    /// Another node on the same database and clock (or this one after a
    /// restart): nothing per node carried over, the same API keys.
    pub fn another_node(&self) -> Self {
        self.another_node_with(settings())
    }

    /// [`TestApp::another_node`] with other settings (e.g. an https base
    /// URL).
    pub fn another_node_with(&self, settings: Settings) -> Self {
        let mut other = TestApp::node_with(
            self.backend,
            self.store.clone(),
            self.clock.clone(),
            settings,
        );
        other.admin_key = self.admin_key.clone();
        other.reader_key = self.reader_key.clone();
        other.key_hashes = self.key_hashes.clone();
        other
    }

    /// A key made straight in the store: (secret, id).
    pub async fn make_key(&mut self, name: &str, role: Role) -> (String, i64) {
        let k = generate_api_key(key_bytes());
        let new = lanyard_core::store::NewApiKey {
            name,
            role,
            prefix: &k.prefix,
            hash: &k.hash,
            created_by: "test",
            expires_at: None,
        };
        let key = self
            .store
            .create_api_key(&new, self.clock_now())
            .await
            .unwrap();
        self.key_hashes.push(k.hash);
        (k.secret, key.id.0)
    }

    pub fn clock_now(&self) -> time::OffsetDateTime {
        lanyard_core::Clock::now(&*self.clock)
    }

    /// Stops the batched audit writer now (what is recorded later cannot
    /// be queued).
    pub async fn stop_audit_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.shutdown().await;
        }
    }

    /// Flushes and stops the audit writer.
    pub async fn shutdown(mut self) {
        if let Some(w) = self.writer.take() {
            w.shutdown().await;
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        let resp = Resp {
            status,
            headers,
            bytes,
        };
        resp.assert_no_secrets(&self.key_hashes);
        self.bodies.lock().unwrap().push(resp.bytes.clone());
        resp
    }

    /// A request with a raw body of the given content type.
    pub async fn upload(
        &self,
        method: &str,
        path: &str,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        self.send(req).await
    }

    /// A request with an optional key and raw body; JSON content type when
    /// there is a body.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Resp {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        let body = match body {
            Some(bytes) => {
                b = b.header("content-type", "application/json");
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let mut req = b.body(body).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        self.send(req).await
    }

    pub async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> Resp {
        self.raw(
            method,
            path,
            Some(key),
            body.map(|v| serde_json::to_vec(&v).unwrap()),
        )
        .await
    }

    /// As the administrator key.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call(method, path, &self.admin_key.clone(), body).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.admin("GET", path, None).await
    }

    /// A user `<name>@example.com` with password [`USER_PW`], made through
    /// the API; returns its id.
    pub async fn user(&self, name: &str) -> i64 {
        self.admin(
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({
                "email": format!("{name}@example.com"),
                "username": name,
                "password": USER_PW,
            })),
        )
        .await
        .expect(StatusCode::CREATED)["id"]
            .as_i64()
            .unwrap()
    }

    /// Creates a user through the API; returns its JSON.
    pub async fn create_user(&self, email: &str, username: &str) -> Value {
        let r = self
            .admin(
                "POST",
                "/api/v1/users",
                Some(serde_json::json!({"email": email, "username": username})),
            )
            .await;
        r.expect(StatusCode::CREATED)
    }

    /// An AWS IAM app made straight in the store (no audit event), with an
    /// active key and a second, inactive one: (app id, inactive key id).
    pub async fn store_app(&self, slug: &str) -> (i64, i64) {
        use lanyard_core::application::{AppConfig, NewAppKey, NewApplication, PrivateKeyPem};
        use lanyard_core::store::AppStore;
        use lanyard_saml::keys::{CertificateRequest, RsaBits, SigningKey};
        static KEYS: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            (0..2u8)
                .map(|i| {
                    let k = SigningKey::generate(&CertificateRequest {
                        common_name: format!("test {i}"),
                        bits: RsaBits::B2048,
                        not_before: datetime!(2025-01-01 00:00:00 UTC),
                        not_after: datetime!(2030-01-01 00:00:00 UTC),
                        serial: [i + 1; 16],
                    })
                    .unwrap();
                    (k.certificate().to_pem(), k.private_key_pem().unwrap())
                })
                .collect()
        });
        let key = |i: usize| NewAppKey {
            certificate_pem: keys[i].0.clone(),
            private_key: PrivateKeyPem::new(keys[i].1.clone()),
            not_after: datetime!(2030-01-01 00:00:00 UTC),
        };
        let catalog = lanyard_core::catalog::Catalog::embedded().unwrap();
        let t = catalog.get("aws-iam").unwrap();
        let new = NewApplication {
            slug: slug.to_owned(),
            template: t.key.clone(),
            aws_rules: true,
            sso_active: true,
            config: AppConfig {
                label: slug.to_owned(),
                description: String::new(),
                show_in_portal: true,
                sso: t.sso_settings("http://127.0.0.1:8080", slug),
                attributes: t.attribute_rules(),
                groups_attribute: None,
                sp_certificates: Vec::new(),
            },
        };
        let now = self.clock_now();
        let app = self.store.create_app(&new, &key(0), now).await.unwrap();
        let extra = self
            .store
            .add_app_key(app.id, &key(1), false, now)
            .await
            .unwrap();
        (app.id.0, extra.id.0)
    }

    pub async fn create_group(&self, name: &str) -> Value {
        let r = self
            .admin(
                "POST",
                "/api/v1/groups",
                Some(serde_json::json!({"name": name})),
            )
            .await;
        r.expect(StatusCode::CREATED)
    }

    /// A complete (signed-in) session for user `user`, made straight in the
    /// store; returns the cookie value for `lanyard_session`.
    pub async fn session_for(&self, user: i64) -> String {
        use lanyard_core::session::{token_hash, AuthMethods, NewSession, SessionStage};
        use lanyard_core::store::SignInStore;
        let token: String = key_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let now = self.clock_now();
        self.store
            .create_session(&NewSession {
                token_hash: token_hash(&token),
                user_id: lanyard_core::UserId(user),
                stage: SessionStage::Complete,
                methods: AuthMethods::Password,
                csrf_secret: "test-csrf".into(),
                now,
                expires_at: now + time::Duration::hours(8),
                client: None,
                user_agent: None,
            })
            .await
            .unwrap();
        token
    }

    /// A browser-like request: optional session cookie, optional form body.
    pub async fn visit(
        &self,
        method: &str,
        path: &str,
        session: Option<&str>,
        form: Option<String>,
    ) -> Resp {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(token) = session {
            b = b.header("cookie", format!("lanyard_session={token}"));
        }
        let body = match form {
            Some(f) => {
                b = b.header("content-type", "application/x-www-form-urlencoded");
                Body::from(f)
            }
            None => Body::empty(),
        };
        let mut req = b.body(body).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
        self.send(req).await
    }

    /// Every audit event stored so far, after a flush, oldest first.
    pub async fn audit_events(&self) -> Vec<lanyard_core::audit::AuditEvent> {
        self.audit.flush().await;
        let mut filter = AuditFilter {
            limit: Some(500),
            ..Default::default()
        };
        let mut all = Vec::new();
        loop {
            let page = self.store.list_audit_events(&filter).await.unwrap();
            all.extend(page.items);
            match page.next {
                Some(n) => filter.before = Some(n),
                None => break,
            }
        }
        all.reverse();
        all
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts the status and returns the JSON body (or Null when empty).
    pub fn expect(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text());
        if self.bytes.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts the status of a response that need not be JSON; returns the
    /// body's bytes.
    pub fn expect_bytes(&self, status: StatusCode) -> Vec<u8> {
        assert_eq!(self.status, status, "body: {}", self.text());
        self.bytes.clone()
    }

    /// Asserts an error response in our shape; returns it.
    pub fn expect_error(&self, status: StatusCode, code: &str) -> Value {
        let v = self.expect(status);
        assert_eq!(v["error"], code, "{v}");
        assert!(v["message"].is_string(), "{v}");
        assert!(
            self.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{:?}",
            self.headers
        );
        v
    }

    /// Asserts a 400 `invalid` naming `field`; returns the field's message.
    pub fn expect_invalid(&self, field: &str) -> String {
        let v = self.expect_error(StatusCode::BAD_REQUEST, "invalid");
        let msg = v["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("no message for field {field:?} in {v}"));
        assert!(v["message"].as_str().unwrap().contains(field), "{v}");
        msg.to_owned()
    }

    /// No password hash, argon2 string, key hash or PEM private key in any
    /// response.
    fn assert_no_secrets(&self, key_hashes: &[String]) {
        let text = self.text();
        for needle in ["password_hash", "$argon2", "\"hash\"", "PRIVATE KEY"] {
            assert!(!text.contains(needle), "response leaks {needle:?}: {text}");
        }
        for h in key_hashes {
            assert!(
                !text.contains(h.as_str()),
                "response leaks a key hash: {text}"
            );
        }
    }
}
