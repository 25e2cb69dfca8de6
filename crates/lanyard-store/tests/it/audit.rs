//! AuditStore on every backend: batches, filters, newest-first keyset pages.

use crate::common::at;
use lanyard_core::audit::{AuditAction, AuditEvent, AuditFilter, AuditTarget};
use lanyard_core::store::AuditStore;
use lanyard_core::{AppId, Error, UserId};
use lanyard_store::store_test;

fn event(secs: i64, actor: &str, action: AuditAction, target: &AuditTarget) -> AuditEvent {
    AuditEvent::new(at(secs), actor, action, target, format!("{{\"n\":{secs}}}"))
}

/// Ten events: actors alternate, actions cycle over three kinds.
fn ten() -> Vec<AuditEvent> {
    let actions = [
        AuditAction::UserCreate,
        AuditAction::UserUpdate,
        AuditAction::GroupMemberAdd,
    ];
    (0..10)
        .map(|i| {
            let actor = if i % 2 == 0 {
                "admin:ann@example.com"
            } else {
                "cli"
            };
            event(
                i,
                actor,
                actions[i as usize % 3],
                &AuditTarget::User(UserId(i % 4)),
            )
        })
        .collect()
}

fn summaries(events: &[AuditEvent]) -> Vec<String> {
    events.iter().map(|e| e.summary.clone()).collect()
}

fn ns(ns: &[i64]) -> Vec<String> {
    ns.iter().map(|n| format!("{{\"n\":{n}}}")).collect()
}

store_test!(
    batches_are_written_in_order_and_read_newest_first,
    |store| {
        let mut batch = ten();
        batch[3] = batch[3].clone().from_source(Some("192.0.2.7".into()));
        store.append_audit_events(&batch[..4]).await.unwrap();
        store.append_audit_events(&batch[4..]).await.unwrap();
        store.append_audit_events(&[]).await.unwrap();

        let page = store
            .list_audit_events(&AuditFilter::default())
            .await
            .unwrap();
        assert_eq!(page.next, None);
        assert_eq!(page.items.len(), 10);
        assert_eq!(summaries(&page.items), ns(&[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]));
        assert!(page.items.windows(2).all(|w| w[0].id > w[1].id));
        let e3 = &page.items[6];
        assert_eq!(e3.at, at(3));
        assert_eq!(
            (e3.actor.as_str(), e3.action.as_str()),
            ("cli", "user.create")
        );
        assert_eq!(
            (e3.target.as_str(), e3.source.as_deref()),
            ("user:3", Some("192.0.2.7"))
        );
    }
);

store_test!(big_batches_span_several_statements, |store| {
    let batch: Vec<_> = (0..2000)
        .map(|i| {
            event(
                i,
                "cli",
                AuditAction::SsoIssued,
                &AuditTarget::Application(AppId(1)),
            )
        })
        .collect();
    store.append_audit_events(&batch).await.unwrap();
    let mut before = None;
    let mut seen = 0;
    loop {
        let filter = AuditFilter {
            before,
            limit: Some(500),
            ..AuditFilter::default()
        };
        let page = store.list_audit_events(&filter).await.unwrap();
        seen += page.items.len();
        match page.next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, 2000);
});

store_test!(filters_combine_and_pages_go_back_in_time, |store| {
    store.append_audit_events(&ten()).await.unwrap();
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit_events(&filter).await.unwrap() }
    };
    let by_cli = list(AuditFilter {
        actor: Some("cli".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(summaries(&by_cli.items), ns(&[9, 7, 5, 3, 1]));
    let creates = list(AuditFilter {
        action: Some("user.create".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(summaries(&creates.items), ns(&[9, 6, 3, 0]));
    let on_user1 = list(AuditFilter {
        target: Some("user:1".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(summaries(&on_user1.items), ns(&[9, 5, 1]));
    let window = list(AuditFilter {
        since: Some(at(2)),
        until: Some(at(6)),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        summaries(&window.items),
        ns(&[5, 4, 3, 2]),
        "since inclusive, until exclusive"
    );
    let combined = list(AuditFilter {
        actor: Some("admin:ann@example.com".into()),
        since: Some(at(3)),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(summaries(&combined.items), ns(&[8, 6, 4]));
    let nothing = list(AuditFilter {
        actor: Some("ci\0".into()),
        ..AuditFilter::default()
    })
    .await;
    assert!(nothing.items.is_empty());

    // Keyset: newest first, `next` feeds `before`.
    let p1 = list(AuditFilter {
        actor: Some("cli".into()),
        limit: Some(2),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(summaries(&p1.items), ns(&[9, 7]));
    assert_eq!(p1.next, Some(p1.items[1].id));
    let p2 = list(AuditFilter {
        actor: Some("cli".into()),
        limit: Some(2),
        before: p1.next,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(summaries(&p2.items), ns(&[5, 3]));
    let p3 = list(AuditFilter {
        actor: Some("cli".into()),
        limit: Some(2),
        before: p2.next,
        ..AuditFilter::default()
    })
    .await;
    assert_eq!((summaries(&p3.items), p3.next), (ns(&[1]), None));
});

store_test!(limits_default_to_50_and_stop_at_500, |store| {
    let batch: Vec<_> = (0..60)
        .map(|i| {
            event(
                i,
                "cli",
                AuditAction::UserUpdate,
                &AuditTarget::User(UserId(i)),
            )
        })
        .collect();
    store.append_audit_events(&batch).await.unwrap();
    let page = store
        .list_audit_events(&AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 50);
    assert!(page.next.is_some());
    for bad in [0, 501] {
        let filter = AuditFilter {
            limit: Some(bad),
            ..AuditFilter::default()
        };
        match store.list_audit_events(&filter).await {
            Err(Error::Invalid(fields)) => {
                assert_eq!(fields["limit"], "must be between 1 and 500")
            }
            other => panic!("limit {bad}: expected Invalid, got {other:?}"),
        }
    }
});

store_test!(rows_written_by_older_versions_read_the_same, |store| {
    // As every version so far wrote them: the action and target as text.
    lanyard_store::testing::execute(
        &store,
        "INSERT INTO audit_events (at, actor, action, target, source, summary) VALUES \
         (1704067200000, 'cli', 'user.create', 'user:12', NULL, '{\"email\":\"ann@example.com\"}'), \
         (1704067201000, 'apikey:ci#3', 'application.key_add', 'application:4', '192.0.2.7', '{}')",
    )
    .await;
    let found = store
        .list_audit_events(&AuditFilter {
            action: Some(AuditAction::UserCreate.as_str().into()),
            target: Some(AuditTarget::User(UserId(12)).to_string()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    let e = &found.items[0];
    assert_eq!(AuditAction::parse(&e.action), Some(AuditAction::UserCreate));
    assert_eq!(e.summary, r#"{"email":"ann@example.com"}"#);
    let all = store
        .list_audit_events(&AuditFilter::default())
        .await
        .unwrap();
    let actions: Vec<_> = all
        .items
        .iter()
        .map(|e| AuditAction::parse(&e.action))
        .collect();
    assert_eq!(
        actions,
        [
            Some(AuditAction::ApplicationKeyAdd),
            Some(AuditAction::UserCreate)
        ]
    );
    assert_eq!(
        all.items[0].target,
        AuditTarget::Application(AppId(4)).to_string()
    );
});
