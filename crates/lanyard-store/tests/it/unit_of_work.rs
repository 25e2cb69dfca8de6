//! Units of work on every backend: a change and its audit event are stored
//! together at commit, or not at all when the unit is dropped; methods with
//! a transaction of their own (an app with its key, an entitlement table)
//! run inside one as a savepoint.

use crate::common::apps::{grant, key, new_app};
use crate::common::{all, at, new_group, new_user};
use lanyard_core::audit::{AuditAction, AuditEvent, AuditFilter, AuditTarget};
use lanyard_core::store::{AppStore, AuditStore, GroupStore, Transactional, UserStore};
use lanyard_core::{Error, UserId};
use lanyard_store::store_test;

fn event(user: UserId) -> AuditEvent {
    AuditEvent::new(
        at(1),
        "cli",
        AuditAction::UserCreate,
        &AuditTarget::User(user),
        "{}".into(),
    )
}

async fn audit_targets(store: &impl AuditStore) -> Vec<String> {
    let page = store
        .list_audit_events(&AuditFilter::default())
        .await
        .unwrap();
    page.items.into_iter().map(|e| e.target).collect()
}

store_test!(a_committed_change_and_its_event_are_both_stored, |store| {
    let work = store.begin().await.unwrap();
    let user = work
        .create_user(&new_user("ann@example.com", "ann"), None, at(1))
        .await
        .unwrap();
    // Read back inside the unit: it sees its own change.
    assert_eq!(
        work.get_user(user.id).await.unwrap().email,
        "ann@example.com"
    );
    work.append_audit_events(&[event(user.id)]).await.unwrap();
    work.commit().await.unwrap();

    assert_eq!(store.get_user(user.id).await.unwrap().username, "ann");
    assert_eq!(audit_targets(&store).await, [format!("user:{}", user.id)]);
});

store_test!(a_dropped_unit_leaves_nothing_behind, |store| {
    let work = store.begin().await.unwrap();
    let user = work
        .create_user(&new_user("ann@example.com", "ann"), None, at(1))
        .await
        .unwrap();
    work.append_audit_events(&[event(user.id)]).await.unwrap();
    drop(work);

    assert!(matches!(
        store.get_user(user.id).await,
        Err(Error::NotFound { kind: "user", .. })
    ));
    assert!(store.list_users(&all()).await.unwrap().items.is_empty());
    assert!(audit_targets(&store).await.is_empty());
});

store_test!(a_failed_step_rolls_back_the_steps_before_it, |store| {
    store
        .create_user(&new_user("taken@example.com", "taken"), None, at(0))
        .await
        .unwrap();
    let work = store.begin().await.unwrap();
    work.create_group(&new_group("ops"), at(1)).await.unwrap();
    let err = work
        .create_user(&new_user("taken@example.com", "other"), None, at(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { field: "email", .. }),
        "{err:?}"
    );
    drop(work);
    assert!(store.list_groups(&all()).await.unwrap().items.is_empty());
    assert_eq!(store.list_users(&all()).await.unwrap().items.len(), 1);
});

store_test!(methods_with_their_own_transaction_nest_inside, |store| {
    let group = store.create_group(&new_group("ops"), at(0)).await.unwrap();
    let grant = grant(group.id, "123456789012", "Admin");

    // Rolled back: the app, its key and its entitlements all go.
    let work = store.begin().await.unwrap();
    let app = work
        .create_app(&new_app("aws", "AWS"), &key(1), at(1))
        .await
        .unwrap();
    work.set_entitlements(app.id, std::slice::from_ref(&grant), at(1))
        .await
        .unwrap();
    assert_eq!(work.list_app_keys(app.id).await.unwrap().len(), 1);
    drop(work);
    assert!(store.list_apps(&all()).await.unwrap().items.is_empty());

    // Committed: all of it stays.
    let work = store.begin().await.unwrap();
    let app = work
        .create_app(&new_app("aws", "AWS"), &key(2), at(2))
        .await
        .unwrap();
    work.set_entitlements(app.id, std::slice::from_ref(&grant), at(2))
        .await
        .unwrap();
    work.commit().await.unwrap();
    assert_eq!(store.list_app_keys(app.id).await.unwrap().len(), 1);
    assert_eq!(store.list_entitlements(app.id).await.unwrap(), [grant]);
});

store_test!(a_unit_of_work_cannot_begin_another, |store| {
    let work = store.begin().await.unwrap();
    match work.begin().await {
        Err(Error::Store(message)) => {
            assert_eq!(message, "a unit of work cannot begin another one")
        }
        other => panic!("expected a store error, got {:?}", other.map(|_| ())),
    }
    work.commit().await.unwrap();
});
