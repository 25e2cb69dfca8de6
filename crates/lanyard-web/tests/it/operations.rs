//! What operators' tools read, on every backend: `/readyz` (the database
//! checked, 503 while it does not answer or while the node drains) next to
//! `/healthz` (liveness only).

use axum::http::StatusCode;
use serde_json::json;

web_test!(readiness_follows_the_database_and_the_drain, |app| {
    let version = env!("CARGO_PKG_VERSION");
    let r = app.get("/readyz").await;
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(
        r.expect(StatusCode::OK),
        json!({"status": "ok", "version": version})
    );

    // Draining: not ready, though the database answers and requests are served.
    let draining = app.another_node();
    draining.state.start_draining();
    assert_eq!(
        draining
            .get("/readyz")
            .await
            .expect(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": "unavailable", "version": version, "reason": "draining"})
    );
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK, "per node");
    draining.get("/healthz").await.expect(StatusCode::OK);

    // The database gone: not ready, still alive.
    app.store.close().await;
    assert_eq!(
        app.get("/readyz")
            .await
            .expect(StatusCode::SERVICE_UNAVAILABLE),
        json!({"status": "unavailable", "version": version, "reason": "database"})
    );
    assert_eq!(
        app.get("/healthz").await.expect(StatusCode::OK),
        json!({"status": "ok", "version": version})
    );
});

web_test!(
    every_request_has_an_id_in_its_response_and_audit_events,
    |app| {
        let id_of =
            |r: &crate::common::Resp| r.headers["x-request-id"].to_str().unwrap().to_owned();
        // Generated: 24 hex digits, new for every request.
        let a = app.get("/healthz").await;
        let b = app.get("/healthz").await;
        let (a, b) = (id_of(&a), id_of(&b));
        assert_eq!(a.len(), 24, "{a}");
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);

        // A change's audit event carries its request's id.
        let r = app
            .admin("POST", "/api/v1/groups", Some(json!({"name": "ops"})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        let created = id_of(&r);
        let events = app.audit_events().await;
        let event = events.iter().find(|e| e.action == "group.create").unwrap();
        assert_eq!(event.request_id.as_deref(), Some(created.as_str()));
        let listed = app
            .get("/api/v1/audit-events?action=group.create")
            .await
            .expect(StatusCode::OK);
        assert_eq!(listed["items"][0]["request_id"], created.as_str());

        // From a peer that is not a trusted proxy, a given id is ignored.
        async fn sent(node: &crate::common::TestApp) -> crate::common::Resp {
            let mut req = axum::http::Request::builder()
                .uri("/healthz")
                .header("x-request-id", "from-the-proxy-42")
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                    [192, 0, 2, 7],
                    40000,
                ))));
            node.send(req).await
        }
        let r = sent(&app).await;
        assert_ne!(id_of(&r), "from-the-proxy-42");
        // From a trusted proxy it is kept (when it is plain text).
        let mut settings = crate::common::settings();
        settings.http.trusted_proxies = vec!["192.0.2.0/24".parse().unwrap()];
        let behind_proxy = app.another_node_with(settings);
        let r = sent(&behind_proxy).await;
        assert_eq!(id_of(&r), "from-the-proxy-42");
        app.shutdown().await;
    }
);

/// The metrics text, as the metrics listener serves it.
async fn scrape(app: &crate::common::TestApp) -> String {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = lanyard_web::metrics::app(app.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// The value of the sample `series` (name and labels, exactly as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

web_test!(metrics_count_what_happened_without_naming_anyone, |app| {
    let s = crate::sso::aws_setup(&app, "aws").await;
    // One response issued, one denied (a user in no bound group).
    crate::sso::form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    let bob = crate::sso::id(&app.create_user("bob@example.com", "bob").await);
    let bob_session = app.session_for(bob).await;
    let r = app
        .visit("GET", "/saml2/aws", Some(&bob_session), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A wrong password.
    let mut b = crate::common::browser::Browser::new(&app);
    b.sign_in("bob", "not the password at all").await;

    let text = scrape(&app).await;
    assert_eq!(
        sample(
            &text,
            r#"lanyard_sso_responses_total{app="aws",outcome="issued",reason="ok"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"lanyard_sso_responses_total{app="aws",outcome="denied",reason="not_authorized"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"lanyard_sign_ins_total{account="user",outcome="wrong_password"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"lanyard_http_request_duration_seconds_count{group="sso",status="2xx"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"lanyard_http_request_duration_seconds_count{group="sso",status="4xx"}"#
        ),
        Some(1.0)
    );
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        sample(
            &text,
            &format!(r#"lanyard_build_info{{version="{version}"}}"#)
        ),
        Some(1.0)
    );
    // The certificate's expiry, as the API reports it.
    let keys = app
        .get(&format!("/api/v1/applications/{}/keys", s.app_id))
        .await
        .expect(StatusCode::OK);
    let active = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["active"] == true)
        .unwrap();
    let not_after = time::OffsetDateTime::parse(
        active["not_after"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        sample(
            &text,
            r#"lanyard_signing_certificate_not_after_timestamp_seconds{app="aws"}"#
        ),
        Some(not_after.unix_timestamp() as f64)
    );
    for series in [
        "lanyard_audit_queue_depth",
        "lanyard_audit_events_written_total",
        "lanyard_audit_events_logged_instead_total",
        r#"lanyard_db_connections{state="idle"}"#,
        r#"lanyard_db_connections{state="in_use"}"#,
        "lanyard_db_statement_errors_total",
    ] {
        assert!(sample(&text, series).is_some(), "{series} in {text}");
    }
    // No user, email or path in any label.
    for private in ["alice", "bob", "@", "/saml2"] {
        assert!(!text.contains(private), "{private} in {text}");
    }
    assert!(text.ends_with("# EOF\n"));
    app.shutdown().await;
});

web_test!(every_metric_the_grafana_dashboard_uses_exists, |app| {
    // Something in every family, so each has samples.
    let s = crate::sso::aws_setup(&app, "aws").await;
    crate::sso::form_of(&app.visit("GET", "/saml2/aws", Some(&s.session), None).await);
    let mut b = crate::common::browser::Browser::new(&app);
    b.sign_in("nobody", "not the password at all").await;
    let text = scrape(&app).await;
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../../../docs/grafana-dashboard.json")).unwrap();
    let mut used = std::collections::BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("lanyard_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                used.insert(name);
            }
        }
    }
    assert!(used.len() >= 8, "{used:?}");
    for name in &used {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))),
            "the dashboard uses {name}, which /metrics does not have:\n{text}"
        );
    }
    app.shutdown().await;
});

web_test!(
    admins_are_warned_before_a_signing_certificate_expires,
    |app| {
        use crate::common::admin::signed_in;
        let create = |label: &'static str, slug: String, days: u32| {
            let app = &app;
            async move {
                app.admin(
                "POST",
                "/api/v1/applications",
                Some(json!({"template": "aws-iam", "label": label, "slug": slug, "validity_days": days})),
            )
            .await
            .expect(StatusCode::CREATED)["id"]
                .as_i64()
                .unwrap()
            }
        };
        // Slugs per backend: the log is shared by every test of this binary.
        let soon_slug = format!("soon-{}", app.backend);
        let soon = create("Soon", soon_slug.clone(), 20).await;
        let urgent = create("Urgent", "urgent".into(), 3).await;
        let fine = create("Fine", "fine".into(), 365).await;
        let mut b = signed_in(&app, "root@example.com", "administrator").await;
        let page = b.get("/admin/users").await.text();
        assert!(
        page.contains(r#"<p class="banner" role="alert">The signing certificate of Soon expires in 20 days (2025-03-21): generate a new key, upload the new metadata to the service provider, then make it the signing key."#),
        "{page}"
    );
        assert!(
        page.contains(r#"<p class="banner urgent" role="alert">The signing certificate of Urgent expires in 3 days (2025-03-04)"#),
        "{page}"
    );
        assert!(page.contains(&format!(
            r#"<a href="/admin/applications/{soon}?tab=sso">Open its SSO tab</a>"#
        )));
        assert!(!page.contains("Fine"), "{page}");
        let tab = b
            .get(&format!("/admin/applications/{urgent}?tab=sso"))
            .await
            .text();
        assert!(
        tab.contains(r#"<p class="error" id="expiry-warning" role="alert">The signing certificate of Urgent expires in 3 days"#),
        "{tab}"
    );
        let tab = b
            .get(&format!("/admin/applications/{fine}?tab=sso"))
            .await
            .text();
        assert!(!tab.contains("expiry-warning"), "{tab}");

        // A new signing key for Urgent: its warning goes at once (this node).
        app.admin(
            "POST",
            &format!("/api/v1/applications/{urgent}/keys"),
            Some(json!({"activate": true})),
        )
        .await
        .expect(StatusCode::CREATED);
        let page = b.get("/admin/users").await.text();
        assert!(!page.contains("Urgent"), "{page}");
        assert!(page.contains("The signing certificate of Soon"), "{page}");

        // The log warns once per step.
        let logs = crate::sso::captured_logs();
        lanyard_app::apps::expiry::warn_in_log(&app.state.lanyard).await;
        lanyard_app::apps::expiry::warn_in_log(&app.state.lanyard).await;
        let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| {
                l.contains("signing certificate expiring")
                    && l.contains(&format!("app={soon_slug} "))
            })
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert!(
            lines[0].contains("WARN") && lines[0].contains("days_left=20"),
            "{lines:?}"
        );
        app.shutdown().await;
    }
);

// A restore may bring back an app's (id, sso_version) with other contents
// than a running node cached for that pair. The restore starts a new epoch
// of the versions, so the node reads the app afresh.
web_test!(
    a_new_epoch_after_a_restore_drops_every_nodes_cached_sso_inputs,
    |node_a| {
        use lanyard_core::store::AppStore;
        let node_b = node_a.another_node();
        let s = crate::sso::aws_setup(&node_a, "aws").await;
        let serve_b = || async {
            crate::sso::roles(&crate::sso::form_of(
                &node_b
                    .visit("GET", "/saml2/aws", Some(&s.session), None)
                    .await,
            ))
        };
        let admin =
            "arn:aws:iam::123456789012:role/Admin,arn:aws:iam::123456789012:saml-provider/Lanyard";
        let read_only = "arn:aws:iam::123456789012:role/ReadOnly,arn:aws:iam::123456789012:saml-provider/Lanyard";
        let set_role = |role: &'static str| {
            let node_a = &node_a;
            let group = s.group;
            let app_id = s.app_id;
            async move {
                node_a
                .admin(
                    "PUT",
                    &format!("/api/v1/applications/{app_id}/entitlements"),
                    Some(json!([{"group_id": group, "account_id": "123456789012", "role_name": role, "provider_name": "Lanyard"}])),
                )
                .await
                .expect(StatusCode::OK);
            }
        };
        assert_eq!(serve_b().await, [admin]);
        let (_, before) = node_a.store.app_sso_version("aws").await.unwrap().unwrap();
        set_role("ReadOnly").await;
        assert_eq!(serve_b().await, [read_only], "node B cached (v', ReadOnly)");
        let (_, cached) = node_a.store.app_sso_version("aws").await.unwrap().unwrap();

        // "Restored" to an older state and changed again since: the app holds
        // Admin, at the very version number node B cached with ReadOnly.
        set_role("Admin").await;
        let version = |store: &lanyard_store::SqlStore| {
            let store = store.clone();
            async move { store.app_sso_version("aws").await.unwrap().unwrap().1 }
        };
        let set_version = |v: i64| {
            let store = node_a.store.clone();
            async move {
                lanyard_store::testing::execute(
                    &store,
                    &format!("UPDATE apps SET sso_version = {v}"),
                )
                .await
            }
        };
        // (Setting another value does not fire the version trigger.)
        assert_ne!(version(&node_a.store).await, cached);
        set_version(cached).await;
        assert_eq!(
            version(&node_a.store).await,
            cached,
            "the same version number as node B cached"
        );
        let _ = before;
        assert_eq!(serve_b().await, [read_only], "without a new epoch: stale");

        let epoch = node_a.store.start_new_epoch().await.unwrap();
        assert!(epoch >= 1 << 32, "{epoch}");
        assert_eq!(serve_b().await, [admin], "the restored state, at once");
        node_a.shutdown().await;
    }
);

web_test!(
    retention_deletes_old_audit_events_and_expired_rows_in_batches,
    |app| {
        use lanyard_core::audit::{AuditAction, AuditEvent, AuditTarget};
        use lanyard_core::store::{AuditStore, SignInStore};
        let now = app.clock_now();
        let old = |i: i64| {
            AuditEvent::new(
                now - time::Duration::days(401) + time::Duration::seconds(i),
                "cli",
                AuditAction::GroupCreate,
                &AuditTarget::Group(lanyard_core::GroupId(i)),
                "{}".into(),
            )
        };
        // More than two batches of old events, and a recent one.
        let events: Vec<AuditEvent> = (0..2_345).map(old).collect();
        app.store.append_audit_events(&events).await.unwrap();
        let recent = AuditEvent::new(
            now - time::Duration::days(10),
            "cli",
            AuditAction::GroupCreate,
            &AuditTarget::Group(lanyard_core::GroupId(1)),
            "{\"recent\":true}".into(),
        );
        app.store.append_audit_events(&[recent]).await.unwrap();
        // A remembered request id that could not be answered any more.
        let (app_id, _) = app.store_app("aws").await;
        app.store
            .remember_request_id(
                lanyard_core::AppId(app_id),
                "_old",
                now - time::Duration::hours(2),
                now - time::Duration::hours(1),
            )
            .await
            .unwrap();
        // Two ended sessions in the history, 31 and 10 days ago.
        let ann = lanyard_core::UserId(app.user("ann").await);
        for (token, days) in [("t-31", 31), ("t-10", 10)] {
            let at = now - time::Duration::days(days);
            let s = app
                .store
                .create_session(&lanyard_core::session::NewSession {
                    token_hash: lanyard_core::session::token_hash(token),
                    user_id: ann,
                    stage: lanyard_core::session::SessionStage::Complete,
                    methods: lanyard_core::session::AuthMethods::Password,
                    csrf_secret: "c".into(),
                    now: at,
                    expires_at: now + time::Duration::hours(1),
                    client: None,
                    user_agent: None,
                })
                .await
                .unwrap();
            let out = lanyard_core::session::SessionEnd::SignedOut;
            app.store.end_session(s.id, out, at).await.unwrap();
        }
        let before = lanyard_store::testing::count_rows(&app.store, "audit_events").await;

        let retention = lanyard_app::retention::Retention {
            audit_days: 400,
            ended_session_days: 30,
        };
        let pruned = lanyard_app::retention::prune(&app.state.lanyard, retention)
            .await
            .unwrap();
        assert_eq!(pruned.audit_events, 2_345);
        assert_eq!(pruned.expired, 1);
        assert_eq!(pruned.ended_sessions, 1);
        let history = app.store.list_ended_sessions(ann, 50).await.unwrap();
        assert_eq!(history.len(), 1, "the session ended 10 days ago stays");
        assert_eq!(history[0].ended_at, now - time::Duration::days(10));
        let after = lanyard_store::testing::count_rows(&app.store, "audit_events").await;
        assert_eq!(before - after, 2_345);
        let kept = lanyard_store::testing::query_strings(
            &app.store,
            "SELECT summary FROM audit_events WHERE summary LIKE '%recent%'",
        )
        .await;
        assert_eq!(kept.len(), 1, "the recent event stays");
        assert_eq!(
            lanyard_store::testing::count_rows(&app.store, "seen_requests").await,
            0
        );
        // 0 keeps everything.
        let none = lanyard_app::retention::prune(
            &app.state.lanyard,
            lanyard_app::retention::Retention {
                audit_days: 0,
                ended_session_days: 0,
            },
        )
        .await
        .unwrap();
        assert_eq!(none.audit_events, 0);
        assert_eq!(none.ended_sessions, 0);
        app.shutdown().await;
    }
);

// A database that cannot serve (here its pool is closed, as a PostgreSQL
// that stays away past the pool's acquire timeout looks to a request) is a
// 503 with Retry-After at every door, never a 500: the API, SSO, the
// portal and the admin pages.
web_test!(
    an_unavailable_database_is_a_503_with_retry_after_at_every_door,
    |app| {
        let s = crate::sso::aws_setup(&app, "aws").await;
        app.store.close().await;

        let api = app.admin("GET", "/api/v1/users", None).await;
        let body = api.expect_error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
        assert_eq!(
            body["message"],
            "the database cannot be reached; try again in a moment"
        );
        assert_eq!(api.headers["retry-after"], "2");
        let admin_page = || async {
            let req = axum::http::Request::builder()
                .uri("/admin/users")
                // A well-formed token (a user's): it must be looked up.
                .header("cookie", format!("lanyard_admin={}", s.session))
                .body(axum::body::Body::empty())
                .unwrap();
            app.send(req).await
        };
        for path in ["/saml2/aws", "/portal", "/admin/users"] {
            let page = if path.starts_with("/admin") {
                admin_page().await
            } else {
                app.visit("GET", path, Some(&s.session), None).await
            };
            assert_eq!(
                page.status,
                StatusCode::SERVICE_UNAVAILABLE,
                "{path}: {}",
                page.text()
            );
            assert_eq!(page.headers["retry-after"], "2", "{path}");
            let text = page.text();
            assert!(
                text.contains("Temporarily unavailable")
                    && text.contains("the database cannot be reached"),
                "{path}: {text}"
            );
        }
        app.shutdown().await;
    }
);
