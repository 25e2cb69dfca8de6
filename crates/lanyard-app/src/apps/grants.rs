//! Who may use an application: group bindings (one relation, reached from
//! the app's side and the group's) and, for AWS apps, the entitlement table
//! (which role each group assumes in which account). Users are implicitly
//! denied: only members of a bound group may sign in to the app.

use lanyard_core::application::{validate_grants, Grant};
use lanyard_core::apps::default_provider_name;
use lanyard_core::{AppId, GroupId, Result};

use lanyard_core::audit::AuditAction;

use super::target;
use crate::work::Work;
use crate::Writer;

/// Binds (`on`) or unbinds `app` and `group` (idempotent; `NotFound` when
/// either is missing), from either door: the app's User Groups tab and
/// `/applications/{id}/groups/{gid}`, or the group's Applications card and
/// `/groups/{id}/applications/{app_id}`.
pub async fn set_binding(w: &Writer, app: AppId, group: GroupId, on: bool) -> Result<()> {
    let mut work = w.begin().await?;
    bind(&mut work, app, group, on).await?;
    work.commit().await
}

async fn bind(work: &mut Work<'_>, app: AppId, group: GroupId, on: bool) -> Result<()> {
    if on {
        work.bind_group(app, group).await?;
    } else {
        work.unbind_group(app, group).await?;
    }
    let action = if on {
        AuditAction::ApplicationBindGroup
    } else {
        AuditAction::ApplicationUnbindGroup
    };
    work.record(action, target(app), &serde_json::json!({"group": group}));
    Ok(())
}

/// Applies binding changes (app, group, bind?) made on one form, all or
/// none: a stale page naming an app or group that is gone changes nothing
/// rather than half.
pub async fn apply_bindings(w: &Writer, changes: &[(AppId, GroupId, bool)]) -> Result<()> {
    let mut work = w.begin().await?;
    for (app, group, on) in changes {
        if *on {
            work.get_app(*app).await?;
            work.get_group(*group).await?;
        }
    }
    for (app, group, on) in changes {
        bind(&mut work, *app, *group, *on).await?;
    }
    work.commit().await
}

/// Replaces the whole entitlement table of `id` (every row checked, no row
/// twice; a row naming an unknown group is `NotFound`). A row without a
/// provider name takes the app's default (its `sso.aws_provider_name`, else
/// its slug), so admins do not type it on every row.
pub async fn set_entitlements(w: &Writer, id: AppId, grants: &[Grant]) -> Result<Vec<Grant>> {
    let app = w.reader().get_app(id).await?;
    let default = default_provider_name(&app.config.sso, &app.slug);
    let grants: Vec<Grant> = grants
        .iter()
        .cloned()
        .map(|mut g| {
            if g.entitlement.provider_name.trim().is_empty() {
                g.entitlement.provider_name = default.to_owned();
            }
            g
        })
        .collect();
    validate_grants(&grants)?;
    // A deep link is a RelayState: the app's allowlist, if any, admits it.
    let mut refused = lanyard_core::error::FieldErrors::new();
    for (i, g) in grants.iter().enumerate() {
        if let Some(rs) = g.entitlement.relay_state() {
            if !app.config.sso.relay_state_allowed(&rs) {
                refused.insert(
                    format!("entitlements[{i}].deep_link"),
                    format!("{rs:?} is not on the application's RelayState allowlist"),
                );
            }
        }
    }
    if !refused.is_empty() {
        return Err(lanyard_core::Error::Invalid(refused));
    }
    let mut work = w.begin().await?;
    let stored = work.set_entitlements(id, &grants, w.now()).await?;
    work.record(
        AuditAction::ApplicationSetEntitlements,
        target(id),
        &serde_json::json!({"rows": stored.len(), "roles": stored.iter().map(|g| (g.group_id, g.entitlement.role_value())).collect::<Vec<_>>()}),
    );
    work.commit().await?;
    Ok(stored)
}
