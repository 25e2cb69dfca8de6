//! `AppStore`: applications, their signing keys, group bindings, AWS
//! entitlements and portal images.
//!
//! Writes that touch more than one row run in one transaction that starts by
//! locking the app's row ([`lock_app`]), so that two admins rotating keys or
//! replacing entitlements at once are taken in turn, never interleaved. The
//! "exactly one active key" rule is the store's to keep; a partial unique
//! index (`app_keys_active_key`) makes "at most one" the database's too.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use sqlx::{AnyConnection, Connection};
use time::OffsetDateTime;

use lanyard_core::application::{
    AppConfig, AppImage, AppKey, Application, Grant, ImageInfo, KeyExpiry, NewAppKey,
    NewApplication, PrivateKeyPem,
};
use lanyard_core::directory::{Group, ListQuery, Page};
use lanyard_core::store::AppStore;
use lanyard_core::{AppId, AppKeyId, Error, GroupId, Result, UserId};

use crate::rows::{
    app_columns, app_key_columns, convert, db, flag, from_ms, grant_columns, group_columns,
    image_info, to_json, to_ms, write_err, AppKeyRow, AppKeySigningRow, AppRow, GrantRow, GroupRow,
    Unique,
};
use crate::secrets::{Aad, Keyring};
use crate::sql::{fetch_limit, page, value_rows, Sql};
use crate::users::unmatchable;
use crate::SqlStore;

/// Values bound per entitlement row.
const GRANT_WIDTH: usize = 9;

/// Locks the app's row for the rest of the transaction, setting `updated_at`
/// to `touch` when given; `NotFound` when the app does not exist.
///
/// Starting with a write matters on both databases: PostgreSQL holds the row
/// lock until commit, so concurrent writers to one app queue here; SQLite
/// takes its write lock now (waiting out the busy timeout) instead of at a
/// later write, where a transaction that has read an older snapshot would
/// fail at once with SQLITE_BUSY.
async fn lock_app(conn: &mut AnyConnection, app: AppId, touch: Option<i64>) -> Result<()> {
    let done = sqlx::query("UPDATE apps SET updated_at = COALESCE($2, updated_at) WHERE id = $1")
        .bind(app.0)
        .bind(touch)
        .execute(conn)
        .await
        .map_err(db)?;
    if done.rows_affected() == 0 {
        return Err(Error::not_found("application", app));
    }
    Ok(())
}

/// Inserts a key; its private half is stored encrypted with `keyring`.
async fn insert_key(
    conn: &mut AnyConnection,
    keyring: &Keyring,
    app: AppId,
    key: &NewAppKey,
    active: bool,
    now: OffsetDateTime,
) -> Result<AppKey> {
    let sealed = keyring.encrypt(
        &Aad::AppKey {
            certificate_pem: key.certificate_pem.clone(),
        },
        key.private_key.expose(),
    )?;
    let row: AppKeyRow = sqlx::query_as(concat!(
        "INSERT INTO app_keys (app_id, active, certificate_pem, private_key_pem, not_after, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        app_key_columns!()
    ))
    .bind(app.0)
    .bind(flag(active))
    .bind(&key.certificate_pem)
    .bind(sealed)
    .bind(to_ms(key.not_after))
    .bind(to_ms(now))
    .fetch_one(conn)
    .await
    .map_err(db)?;
    row.try_into()
}

/// Clears the active flag of the app's keys other than `except`.
async fn deactivate_keys(conn: &mut AnyConnection, app: AppId, except: AppKeyId) -> Result<()> {
    sqlx::query("UPDATE app_keys SET active = 0 WHERE app_id = $1 AND active = 1 AND id <> $2")
        .bind(app.0)
        .bind(except.0)
        .execute(conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// The settings columns of `apps`, encoded, in the order the writes bind them.
struct ConfigColumns<'a> {
    config: &'a AppConfig,
    sso: String,
    attributes: String,
    sp_certificates: String,
}

impl ConfigColumns<'_> {
    fn of(config: &AppConfig) -> Result<ConfigColumns<'_>> {
        Ok(ConfigColumns {
            config,
            sso: to_json(serde_json::to_string(&config.sso), "SSO settings")?,
            attributes: to_json(serde_json::to_string(&config.attributes), "attribute rules")?,
            sp_certificates: to_json(
                serde_json::to_string(&config.sp_certificates),
                "SP certificates",
            )?,
        })
    }

    /// Binds label, label_lc, description, show_in_portal, sso, attributes,
    /// groups_attribute and sp_certificates, in that order.
    fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
        let c = self.config;
        q.bind(c.label.as_str())
            .bind(c.label.to_lowercase())
            .bind(c.description.as_str())
            .bind(flag(c.show_in_portal))
            .bind(self.sso.as_str())
            .bind(self.attributes.as_str())
            .bind(c.groups_attribute.as_deref())
            .bind(self.sp_certificates.as_str())
    }
}

impl SqlStore {
    async fn app_exists(&self, id: AppId) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM apps WHERE id = $1")
            .bind(id.0)
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    /// After a binding write changed nothing: a missing end (NotFound), or
    /// nothing to do (idempotent success)? As `check_member_ends`.
    async fn check_binding_ends(&self, app: AppId, group: GroupId) -> Result<()> {
        let (apps, groups): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM apps WHERE id = $1), \
                    (SELECT count(*) FROM groups WHERE id = $2)",
        )
        .bind(app.0)
        .bind(group.0)
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if apps == 0 {
            Err(Error::not_found("application", app))
        } else if groups == 0 {
            Err(Error::not_found("group", group))
        } else {
            Ok(())
        }
    }
}

/// The grants stored for an app, in their order.
async fn stored_grants(conn: &mut AnyConnection, app: AppId) -> Result<Vec<Grant>> {
    let rows: Vec<GrantRow> = sqlx::query_as(concat!(
        "SELECT ",
        grant_columns!(),
        " FROM app_entitlements WHERE app_id = $1 ORDER BY position"
    ))
    .bind(app.0)
    .fetch_all(conn)
    .await
    .map_err(db)?;
    convert(rows)
}

#[async_trait]
impl AppStore for SqlStore {
    async fn active_key_expiries(&self) -> Result<Vec<KeyExpiry>> {
        let mut conn = self.conn().await?;
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT a.id, a.slug, a.label, k.not_after FROM apps a \
             JOIN app_keys k ON k.app_id = a.id WHERE k.active = 1 ORDER BY k.not_after, a.slug",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(id, slug, label, not_after)| {
                Ok(KeyExpiry {
                    app_id: AppId(id),
                    slug,
                    label,
                    not_after: from_ms(not_after)?,
                })
            })
            .collect()
    }

    async fn create_app(
        &self,
        new: &NewApplication,
        key: &NewAppKey,
        now: OffsetDateTime,
    ) -> Result<Application> {
        let cols = ConfigColumns::of(&new.config)?;
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let q = sqlx::query_as::<_, AppRow>(concat!(
            "INSERT INTO apps (slug, template, aws_rules, sso_active, created_at, updated_at, \
             label, label_lc, description, show_in_portal, sso, attributes, groups_attribute, \
             sp_certificates) VALUES ($1, $2, $3, $13, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             RETURNING ",
            app_columns!()
        ))
        .bind(new.slug.as_str())
        .bind(new.template.as_str())
        .bind(flag(new.aws_rules))
        .bind(to_ms(now));
        let row = cols
            .bind(q)
            .bind(flag(new.sso_active))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                let uniques = [Unique {
                    field: "slug",
                    column: "slug",
                    value: &new.slug,
                }];
                write_err(e, &uniques)
            })?;
        let app = Application::try_from(row)?;
        insert_key(&mut tx, self.keyring()?, app.id, key, true, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(app)
    }

    async fn get_app(&self, id: AppId) -> Result<Application> {
        let row: Option<AppRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_columns!(),
            " FROM apps WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("application", id))?
            .try_into()
    }

    async fn get_app_by_slug(&self, slug: &str) -> Result<Application> {
        if unmatchable(slug) {
            return Err(Error::not_found("application", slug));
        }
        let row: Option<AppRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_columns!(),
            " FROM apps WHERE slug = $1"
        ))
        .bind(slug)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("application", slug))?
            .try_into()
    }

    async fn app_sso_version(&self, slug: &str) -> Result<Option<(AppId, i64)>> {
        if unmatchable(slug) {
            return Ok(None);
        }
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT id, sso_version FROM apps WHERE slug = $1")
                .bind(slug)
                .fetch_optional(&mut *self.conn().await?)
                .await
                .map_err(db)?;
        Ok(row.map(|(id, version)| (AppId(id), version)))
    }

    async fn list_apps(&self, q: &ListQuery) -> Result<Page<Application>> {
        if q.search.as_deref().is_some_and(unmatchable) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let mut sql = Sql::new(concat!("SELECT ", app_columns!(), " FROM apps WHERE 1 = 1"));
        if let Some(search) = &q.search {
            // Slugs are lower-case by construction.
            sql.and_prefix_of_any(&["label_lc", "slug"], &search.to_lowercase());
        }
        if let Some(after) = q.after {
            let a = sql.int(after);
            sql.push(&format!(" AND id > {a}"));
        }
        let l = sql.int(fetch_limit(q.limit));
        sql.push(&format!(" ORDER BY id LIMIT {l}"));
        let rows: Vec<AppRow> = sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        Ok(page(convert(rows)?, q.limit, |a: &Application| a.id.0))
    }

    async fn update_app(
        &self,
        id: AppId,
        config: &AppConfig,
        now: OffsetDateTime,
    ) -> Result<Application> {
        let cols = ConfigColumns::of(config)?;
        let q = sqlx::query_as::<_, AppRow>(concat!(
            "UPDATE apps SET updated_at = $2, label = $3, label_lc = $4, description = $5, \
             show_in_portal = $6, sso = $7, attributes = $8, groups_attribute = $9, \
             sp_certificates = $10 WHERE id = $1 RETURNING ",
            app_columns!()
        ))
        .bind(id.0)
        .bind(to_ms(now));
        let row = cols
            .bind(q)
            .fetch_optional(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        row.ok_or_else(|| Error::not_found("application", id))?
            .try_into()
    }

    async fn set_app_sso_active(
        &self,
        id: AppId,
        active: bool,
        now: OffsetDateTime,
    ) -> Result<Application> {
        let row: Option<AppRow> = sqlx::query_as(concat!(
            "UPDATE apps SET sso_active = $2, updated_at = $3 WHERE id = $1 RETURNING ",
            app_columns!()
        ))
        .bind(id.0)
        .bind(flag(active))
        .bind(to_ms(now))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("application", id))?
            .try_into()
    }

    async fn delete_apps(&self, ids: &[AppId]) -> Result<Vec<Application>> {
        let mut seen = HashSet::new();
        let wanted: Vec<AppId> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        // Keys, bindings, entitlements and the image go with each app
        // (ON DELETE CASCADE).
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let mut deleted: HashMap<AppId, Application> = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(self.backend.max_binds()) {
            let text = format!(
                concat!("DELETE FROM apps WHERE id IN {} RETURNING ", app_columns!()),
                value_rows(1, chunk.len(), 1, "")
            );
            let mut q = sqlx::query_as::<_, AppRow>(&text).persistent(false);
            for id in chunk {
                q = q.bind(id.0);
            }
            for row in q.fetch_all(&mut *tx).await.map_err(db)? {
                let app = Application::try_from(row)?;
                deleted.insert(app.id, app);
            }
        }
        let mut out = Vec::with_capacity(wanted.len());
        for id in wanted {
            // Returning drops `tx`, which rolls every deletion back.
            let app = deleted
                .remove(&id)
                .ok_or_else(|| Error::not_found("application", id))?;
            out.push(app);
        }
        tx.commit().await.map_err(db)?;
        Ok(out)
    }

    async fn list_app_keys(&self, app: AppId) -> Result<Vec<AppKey>> {
        let rows: Vec<AppKeyRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_key_columns!(),
            " FROM app_keys WHERE app_id = $1 ORDER BY active DESC, created_at DESC, id DESC"
        ))
        .bind(app.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        // Every app has its active key, so no rows means no app.
        if rows.is_empty() && !self.app_exists(app).await? {
            return Err(Error::not_found("application", app));
        }
        convert(rows)
    }

    async fn add_app_key(
        &self,
        app: AppId,
        key: &NewAppKey,
        activate: bool,
        now: OffsetDateTime,
    ) -> Result<AppKey> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        lock_app(&mut tx, app, None).await?;
        if activate {
            // No key has id 0: every current key is deactivated.
            deactivate_keys(&mut tx, app, AppKeyId(0)).await?;
        }
        let key = insert_key(&mut tx, self.keyring()?, app, key, activate, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(key)
    }

    async fn activate_app_key(&self, app: AppId, key: AppKeyId) -> Result<AppKey> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        lock_app(&mut tx, app, None).await?;
        // Clear the old flag first: the partial unique index is checked row
        // by row on PostgreSQL, so one statement swapping flags could trip it.
        deactivate_keys(&mut tx, app, key).await?;
        let row: Option<AppKeyRow> = sqlx::query_as(concat!(
            "UPDATE app_keys SET active = 1 WHERE id = $1 AND app_id = $2 RETURNING ",
            app_key_columns!()
        ))
        .bind(key.0)
        .bind(app.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        // Unknown key (or another app's): dropping `tx` undoes the deactivation.
        let key = AppKey::try_from(row.ok_or_else(|| Error::not_found("key", key))?)?;
        tx.commit().await.map_err(db)?;
        Ok(key)
    }

    async fn delete_app_key(&self, app: AppId, key: AppKeyId) -> Result<()> {
        // One statement that refuses the active key: an activation running
        // at the same time is either before it (and the key is kept) or
        // after it (and finds no key).
        let done = sqlx::query("DELETE FROM app_keys WHERE id = $1 AND app_id = $2 AND active = 0")
            .bind(key.0)
            .bind(app.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let (apps, keys): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM apps WHERE id = $1), \
                    (SELECT count(*) FROM app_keys WHERE id = $2 AND app_id = $1)",
        )
        .bind(app.0)
        .bind(key.0)
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if apps == 0 {
            Err(Error::not_found("application", app))
        } else if keys == 0 {
            Err(Error::not_found("key", key))
        } else {
            Err(Error::invalid(
                "key",
                "the active signing key cannot be deleted: activate another key first",
            ))
        }
    }

    async fn active_signing_key(&self, app: AppId) -> Result<(AppKey, PrivateKeyPem)> {
        let row: Option<AppKeySigningRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_key_columns!(),
            ", private_key_pem FROM app_keys WHERE app_id = $1 AND active = 1"
        ))
        .bind(app.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        match row {
            Some(row) => row.into_parts(self.keyring()?),
            None if !self.app_exists(app).await? => Err(Error::not_found("application", app)),
            None => Err(Error::not_found("active key of application", app)),
        }
    }

    async fn bind_group(&self, app: AppId, group: GroupId) -> Result<()> {
        // As `add_member`: inserting from a join of the two rows adds nothing
        // when either is missing, instead of tripping a foreign key.
        let done = sqlx::query(
            "INSERT INTO app_groups (app_id, group_id) \
             SELECT a.id, g.id FROM apps a, groups g WHERE a.id = $1 AND g.id = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(app.0)
        .bind(group.0)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            self.check_binding_ends(app, group).await?;
        }
        Ok(())
    }

    async fn unbind_group(&self, app: AppId, group: GroupId) -> Result<()> {
        let done = sqlx::query("DELETE FROM app_groups WHERE app_id = $1 AND group_id = $2")
            .bind(app.0)
            .bind(group.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            self.check_binding_ends(app, group).await?;
        }
        Ok(())
    }

    async fn list_app_groups(&self, app: AppId) -> Result<Vec<Group>> {
        let rows: Vec<GroupRow> = sqlx::query_as(concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups JOIN app_groups ON group_id = id WHERE app_id = $1 ORDER BY name_lc"
        ))
        .bind(app.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() && !self.app_exists(app).await? {
            return Err(Error::not_found("application", app));
        }
        convert(rows)
    }

    async fn list_group_apps(&self, group: GroupId) -> Result<Vec<Application>> {
        let rows: Vec<AppRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_columns!(),
            " FROM apps JOIN app_groups ON app_id = id WHERE group_id = $1 \
             ORDER BY label_lc, id"
        ))
        .bind(group.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() && !self.group_exists(group).await? {
            return Err(Error::not_found("group", group));
        }
        convert(rows)
    }

    async fn list_portal_apps(&self, user: UserId) -> Result<Vec<Application>> {
        // EXISTS, not a join: an app bound to several of the user's groups
        // is listed once.
        let rows: Vec<AppRow> = sqlx::query_as(concat!(
            "SELECT ",
            app_columns!(),
            " FROM apps WHERE sso_active = 1 AND show_in_portal = 1 AND EXISTS (\
             SELECT 1 FROM app_groups ag JOIN group_members gm ON gm.group_id = ag.group_id \
             WHERE ag.app_id = apps.id AND gm.user_id = $1) ORDER BY label_lc, id"
        ))
        .bind(user.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() && !self.user_exists(user).await? {
            return Err(Error::not_found("user", user));
        }
        convert(rows)
    }

    async fn set_entitlements(
        &self,
        app: AppId,
        grants: &[Grant],
        now: OffsetDateTime,
    ) -> Result<Vec<Grant>> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        lock_app(&mut tx, app, Some(to_ms(now))).await?;

        // Every group must exist; the first missing one (in input order) is
        // named, and dropping `tx` leaves the old table in place.
        let mut seen = HashSet::new();
        let groups: Vec<i64> = grants
            .iter()
            .map(|g| g.group_id.0)
            .filter(|id| seen.insert(*id))
            .collect();
        let mut found = HashSet::with_capacity(groups.len());
        for chunk in groups.chunks(self.backend.max_binds()) {
            let text = format!(
                "SELECT id FROM groups WHERE id IN {}",
                value_rows(1, chunk.len(), 1, "")
            );
            let mut q = sqlx::query_scalar::<_, i64>(&text).persistent(false);
            for id in chunk {
                q = q.bind(*id);
            }
            found.extend(q.fetch_all(&mut *tx).await.map_err(db)?);
        }
        if let Some(missing) = groups.iter().find(|id| !found.contains(*id)) {
            return Err(Error::not_found("group", missing));
        }

        sqlx::query("DELETE FROM app_entitlements WHERE app_id = $1")
            .bind(app.0)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows_per_insert = (self.backend.max_binds() / GRANT_WIDTH).max(1);
        for (n, chunk) in grants.chunks(rows_per_insert).enumerate() {
            let text = format!(
                "INSERT INTO app_entitlements (app_id, position, group_id, account_id, \
                 role_name, provider_name, account_label, max_session_duration, deep_link) \
                 VALUES {}",
                value_rows(chunk.len(), GRANT_WIDTH, 1, "")
            );
            let mut q = sqlx::query(&text).persistent(false);
            for (i, g) in chunk.iter().enumerate() {
                let e = &g.entitlement;
                let position = (n * rows_per_insert + i) as i64;
                q = q
                    .bind(app.0)
                    .bind(position)
                    .bind(g.group_id.0)
                    .bind(e.account_id.as_str())
                    .bind(e.role_name.as_str())
                    .bind(e.provider_name.as_str())
                    .bind(e.account_label.as_deref())
                    .bind(e.max_session_duration.map(i64::from))
                    .bind(e.deep_link.as_deref());
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        let stored = stored_grants(&mut tx, app).await?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    async fn list_entitlements(&self, app: AppId) -> Result<Vec<Grant>> {
        let mut conn = self.conn().await?;
        let grants = stored_grants(&mut conn, app).await?;
        drop(conn);
        if grants.is_empty() && !self.app_exists(app).await? {
            return Err(Error::not_found("application", app));
        }
        Ok(grants)
    }

    async fn set_app_image(
        &self,
        app: AppId,
        image: Option<(&ImageInfo, &[u8])>,
        now: OffsetDateTime,
    ) -> Result<Application> {
        let info = image.map(|(info, _)| info);
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let row: Option<AppRow> = sqlx::query_as(concat!(
            "UPDATE apps SET image_content_type = $2, image_sha256 = $3, image_size = $4, \
             updated_at = $5 WHERE id = $1 RETURNING ",
            app_columns!()
        ))
        .bind(app.0)
        .bind(info.map(|i| i.content_type.as_str()))
        .bind(info.map(|i| i.sha256.as_str()))
        .bind(info.map(|i| i.size))
        .bind(to_ms(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let updated = row.ok_or_else(|| Error::not_found("application", app))?;
        match image {
            Some((_, bytes)) => sqlx::query(
                "INSERT INTO app_images (app_id, bytes) VALUES ($1, $2) \
                 ON CONFLICT (app_id) DO UPDATE SET bytes = excluded.bytes",
            )
            .bind(app.0)
            .bind(bytes),
            None => sqlx::query("DELETE FROM app_images WHERE app_id = $1").bind(app.0),
        }
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        updated.try_into()
    }

    async fn get_app_image(&self, app: AppId) -> Result<Option<AppImage>> {
        type ImageRow = (Option<String>, Option<String>, Option<i64>, Option<Vec<u8>>);
        let row: Option<ImageRow> = sqlx::query_as(
            "SELECT a.image_content_type, a.image_sha256, a.image_size, i.bytes \
             FROM apps a LEFT JOIN app_images i ON i.app_id = a.id WHERE a.id = $1",
        )
        .bind(app.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        let (content_type, sha256, size, bytes) =
            row.ok_or_else(|| Error::not_found("application", app))?;
        Ok(image_info(content_type, sha256, size)?
            .zip(bytes)
            .map(|(info, bytes)| AppImage { info, bytes }))
    }
}
