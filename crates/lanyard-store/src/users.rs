//! `UserStore`: directory users, their login lookup, listing with prefix
//! search, and the groups a user is in.

use async_trait::async_trait;
use time::OffsetDateTime;

use lanyard_core::directory::{Group, ListQuery, NewUser, Page, User, UserPatch, UserState};
use lanyard_core::store::UserStore;
use lanyard_core::{Error, Result, UserId};

use crate::rows::{
    attributes_to_json, convert, db, group_columns, to_ms, user_columns, write_err, GroupRow,
    Unique, UserLoginRow, UserRow,
};
use crate::sql::{fetch_limit, page, Sql};
use crate::SqlStore;

/// The lower-cased columns a user search looks at.
pub(crate) const USER_SEARCH_COLUMNS: [&str; 4] =
    ["email", "username_lc", "first_name_lc", "last_name_lc"];

/// Nothing stored contains a control character (validation refuses them), and
/// PostgreSQL rejects NUL in text outright, so such a search matches nothing.
pub(crate) fn unmatchable(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// The unique columns of `users`, for mapping a failed write to a conflict.
fn user_uniques<'a>(email: Option<&'a str>, username: Option<&'a str>) -> Vec<Unique<'a>> {
    let mut u = Vec::new();
    if let Some(value) = email {
        u.push(Unique {
            field: "email",
            column: "email",
            value,
        });
    }
    if let Some(value) = username {
        u.push(Unique {
            field: "username",
            column: "username_lc",
            value,
        });
    }
    u
}

impl SqlStore {
    /// A page of users: `sql` ends in a WHERE clause that further conditions
    /// are ANDed to (search, keyset), ordered by `key`, the column equal to
    /// the user id that the driving index is sorted on: `id` when listing
    /// users, `user_id` when listing a group's members, so that the
    /// membership primary key (group_id, user_id) yields the order and the
    /// database stops after one page instead of sorting the whole group.
    pub(crate) fn users_page_sql(mut sql: Sql, key: &str, q: &ListQuery) -> Sql {
        if let Some(search) = &q.search {
            sql.and_prefix_of_any(&USER_SEARCH_COLUMNS, &search.to_lowercase());
        }
        if let Some(after) = q.after {
            let a = sql.int(after);
            sql.push(&format!(" AND {key} > {a}"));
        }
        let l = sql.int(fetch_limit(q.limit));
        sql.push(&format!(" ORDER BY {key} LIMIT {l}"));
        sql
    }

    pub(crate) async fn user_exists(&self, id: UserId) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_one(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        Ok(n > 0)
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(
        &self,
        new: &NewUser,
        password_hash: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<User> {
        let email = new.email.to_lowercase();
        let row: UserRow = sqlx::query_as(concat!(
            "INSERT INTO users (email, username, username_lc, first_name, first_name_lc, \
             last_name, last_name_lc, state, password_hash, attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10, $10) RETURNING ",
            user_columns!()
        ))
        .bind(&email)
        .bind(&new.username)
        .bind(new.username.to_lowercase())
        .bind(&new.first_name)
        .bind(new.first_name.to_lowercase())
        .bind(&new.last_name)
        .bind(new.last_name.to_lowercase())
        .bind(password_hash)
        .bind(attributes_to_json(&new.attributes))
        .bind(to_ms(now))
        .fetch_one(&mut *self.conn().await?)
        .await
        .map_err(|e| write_err(e, &user_uniques(Some(&email), Some(&new.username))))?;
        row.try_into()
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(id.0)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("user", id))?.try_into()
    }

    async fn find_user_by_login(&self, login: &str) -> Result<Option<(User, Option<String>)>> {
        let login = login.trim().to_lowercase();
        if login.is_empty() || unmatchable(&login) {
            return Ok(None);
        }
        // Emails contain '@' and usernames cannot, so at most one row matches;
        // the ORDER BY only makes that explicit should the rules ever change.
        let row: Option<UserLoginRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", password_hash FROM users WHERE email = $1 OR username_lc = $1 \
             ORDER BY CASE WHEN email = $1 THEN 0 ELSE 1 END LIMIT 1"
        ))
        .bind(&login)
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.map(UserLoginRow::into_parts).transpose()
    }

    async fn update_user(
        &self,
        id: UserId,
        patch: &UserPatch,
        now: OffsetDateTime,
    ) -> Result<User> {
        let email = patch.email.as_deref().map(str::to_lowercase);
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET email = COALESCE($2, email), username = COALESCE($3, username), \
             username_lc = COALESCE($4, username_lc), first_name = COALESCE($5, first_name), \
             first_name_lc = COALESCE($6, first_name_lc), last_name = COALESCE($7, last_name), \
             last_name_lc = COALESCE($8, last_name_lc), attributes = COALESCE($9, attributes), \
             updated_at = $10 WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(email.as_deref())
        .bind(patch.username.as_deref())
        .bind(patch.username.as_deref().map(str::to_lowercase))
        .bind(patch.first_name.as_deref())
        .bind(patch.first_name.as_deref().map(str::to_lowercase))
        .bind(patch.last_name.as_deref())
        .bind(patch.last_name.as_deref().map(str::to_lowercase))
        .bind(patch.attributes.as_ref().map(attributes_to_json))
        .bind(to_ms(now))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(|e| {
            write_err(
                e,
                &user_uniques(email.as_deref(), patch.username.as_deref()),
            )
        })?;
        row.ok_or_else(|| Error::not_found("user", id))?.try_into()
    }

    async fn set_user_state(
        &self,
        id: UserId,
        state: UserState,
        now: OffsetDateTime,
    ) -> Result<User> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "UPDATE users SET state = $2, updated_at = $3 WHERE id = $1 RETURNING ",
            user_columns!()
        ))
        .bind(id.0)
        .bind(state.as_str())
        .bind(to_ms(now))
        .fetch_optional(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        row.ok_or_else(|| Error::not_found("user", id))?.try_into()
    }

    async fn set_password_hash(&self, id: UserId, hash: &str, now: OffsetDateTime) -> Result<()> {
        let done =
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                .bind(id.0)
                .bind(hash)
                .bind(to_ms(now))
                .execute(&mut *self.conn().await?)
                .await
                .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("user", id));
        }
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        // Memberships go with the user (ON DELETE CASCADE).
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.0)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found("user", id));
        }
        Ok(())
    }

    async fn list_users(&self, q: &ListQuery) -> Result<Page<User>> {
        if q.search.as_deref().is_some_and(unmatchable) {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let sql = Self::users_page_sql(
            Sql::new(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE 1 = 1"
            )),
            "id",
            q,
        );
        let rows: Vec<UserRow> = sql.fetch_all(&mut *self.conn().await?).await.map_err(db)?;
        Ok(page(convert(rows)?, q.limit, |u: &User| u.id.0))
    }

    async fn list_groups_of_user(&self, id: UserId) -> Result<Vec<Group>> {
        let rows: Vec<GroupRow> = sqlx::query_as(concat!(
            "SELECT ",
            group_columns!(),
            " FROM groups JOIN group_members ON group_id = id WHERE user_id = $1 ORDER BY name_lc"
        ))
        .bind(id.0)
        .fetch_all(&mut *self.conn().await?)
        .await
        .map_err(db)?;
        if rows.is_empty() && !self.user_exists(id).await? {
            return Err(Error::not_found("user", id));
        }
        convert(rows)
    }
}
