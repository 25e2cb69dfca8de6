//! `GroupStore`: groups, their attributes, and membership.

use async_trait::async_trait;
use time::OffsetDateTime;

use lanyard_core::directory::{Group, GroupCounts, GroupPatch, ListQuery, NewGroup, Page, User};
use lanyard_core::store::GroupStore;
use lanyard_core::{Error, GroupId, Result, UserId};

use crate::rows::{
    attributes_to_json, convert, db, group_columns, to_ms, user_columns, write_err, GroupRow,
    Unique, UserRow,
};
use crate::sql::{fetch_limit, page, Sql};
use crate::users::unmatchable;
use crate::SqlStore;

fn name_unique(value: &str) -> [Unique<'_>; 1] {
    [Unique {
        field: "name",
        column: "name_lc",
        value,
    }]
}

impl SqlStore {
    pub(crate) async fn group_exists(&self, id: GroupId) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM groups WHERE id = $1")
            .bind(id.0)
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    /// After a membership write changed nothing: was that because the group
    /// or the user does not exist (NotFound), or because there was nothing to
    /// do (idempotent success)?
    async fn check_member_ends(&self, group: GroupId, user: UserId) -> Result<()> {
        let (groups, users): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM groups WHERE id = $1), \
                    (SELECT count(*) FROM users WHERE id = $2)",
        )
        .bind(group.0)
        .bind(user.0)
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if groups == 0 {
            Err(Error::not_found("group", group))
        } else if users == 0 {
            Err(Error::not_found("user", user))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl GroupStore for SqlStore {
    async fn create_group(&self, new: &NewGroup, now: OffsetDateTime) -> Result<Group> {
        let row: GroupRow = sqlx::query_as(concat!(
            "INSERT INTO groups (name, name_lc, description, attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            group_columns!()
        ))
        .bind(&new.name)
        .bind(new.name.to_lowercase())
        .bind(&new.description)
        .bind(attributes_to_json(&new.attributes))
        .bind(to_ms(now))
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(|e| write_err(e, &name_unique(&new.name)))?;
        row.try_into()
    }

    async fn get_group(&self, id: GroupId) -> Result<Group> {
        let row: Option<GroupRow> = sqlx::query_as(concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("group", id))?.try_into()
    }

    async fn update_group(
        &self,
        id: GroupId,
        patch: &GroupPatch,
        now: OffsetDateTime,
    ) -> Result<Group> {
        let row: Option<GroupRow> = sqlx::query_as(concat!(
            "UPDATE groups SET name = COALESCE($2, name), name_lc = COALESCE($3, name_lc), \
             description = COALESCE($4, description), attributes = COALESCE($5, attributes), \
             updated_at = $6 WHERE id = $1 RETURNING ",
            group_columns!()
        ))
        .bind(id.0)
        .bind(patch.name.as_deref())
        .bind(patch.name.as_deref().map(str::to_lowercase))
        .bind(patch.description.as_deref())
        .bind(patch.attributes.as_ref().map(attributes_to_json))
        .bind(to_ms(now))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(|e| write_err(e, &name_unique(patch.name.as_deref().unwrap_or_default())))?;
        row.ok_or_else(|| Error::not_found("group", id))?.try_into()
    }

    async fn delete_group(&self, id: GroupId) -> Result<()> {
        // Memberships go with the group (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("group", id));
        }
        Ok(())
    }

    async fn list_groups(&self, q: &ListQuery) -> Result<Page<Group>> {
        if q.search.as_deref().is_some_and(unmatchable) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let mut sql = Sql::new(concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups WHERE 1 = 1"
        ));
        if let Some(search) = &q.search {
            sql.and_prefix_of_any(&["name_lc"], &search.to_lowercase());
        }
        if let Some(after) = q.after {
            let a = sql.int(after);
            sql.push(&format!(" AND id > {a}"));
        }
        let l = sql.int(fetch_limit(q.limit));
        sql.push(&format!(" ORDER BY id LIMIT {l}"));
        let rows: Vec<GroupRow> = sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        Ok(page(convert(rows)?, q.limit, |g: &Group| g.id.0))
    }

    async fn add_member(&self, group: GroupId, user: UserId) -> Result<()> {
        // Inserting from a join of the two rows adds nothing when either is
        // missing, instead of tripping a foreign key.
        let done = sqlx::query(
            "INSERT INTO group_members (group_id, user_id) \
             SELECT g.id, u.id FROM groups g, users u WHERE g.id = $1 AND u.id = $2 \
             ON CONFLICT DO NOTHING",
        )
        .bind(group.0)
        .bind(user.0)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            self.check_member_ends(group, user).await?;
        }
        Ok(())
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<()> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group.0)
            .bind(user.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            self.check_member_ends(group, user).await?;
        }
        Ok(())
    }

    async fn list_members(&self, group: GroupId, q: &ListQuery) -> Result<Page<User>> {
        let rows: Vec<UserRow> = if q.search.as_deref().is_some_and(unmatchable) {
            Vec::new()
        } else {
            let mut sql = Sql::new(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users JOIN group_members ON user_id = id WHERE "
            ));
            let g = sql.int(group.0);
            sql.push(&format!("group_id = {g}"));
            Self::users_page_sql(sql, "user_id", q)
                .fetch_all(&mut *self.conn().await?)
                .await
                .map_err(db)?
        };
        if rows.is_empty() && !self.group_exists(group).await? {
            return Err(Error::not_found("group", group));
        }
        Ok(page(convert(rows)?, q.limit, |u: &User| u.id.0))
    }

    async fn count_group_relations(
        &self,
        groups: &[GroupId],
    ) -> Result<Vec<(GroupId, GroupCounts)>> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        // Both counts read a primary key or index prefix on group_id.
        let mut sql = Sql::new(
            "SELECT g.id, \
             (SELECT count(*) FROM group_members m WHERE m.group_id = g.id), \
             (SELECT count(*) FROM app_groups a WHERE a.group_id = g.id) \
             FROM groups g WHERE g.id IN (",
        );
        for (i, id) in groups.iter().enumerate() {
            let p = sql.int(id.0);
            sql.push(if i == 0 { "" } else { ", " }).push(&p);
        }
        sql.push(") ORDER BY g.id");
        let rows: Vec<(i64, i64, i64)> =
            sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(id, members, applications)| {
                (
                    GroupId(id),
                    GroupCounts {
                        members: u64::try_from(members).unwrap_or(0),
                        applications: u64::try_from(applications).unwrap_or(0),
                    },
                )
            })
            .collect())
    }
}
