//! Batch loading for imports and the benchmark: many users or memberships per
//! statement, one transaction per call. Not part of the core traits, which
//! work one record at a time as the REST API and portal do.

use std::collections::HashMap;

use sqlx::Connection;
use time::OffsetDateTime;

use lanyard_core::directory::NewUser;
use lanyard_core::{GroupId, Result, UserId};

use crate::rows::{attributes_to_json, db, to_ms, write_err, Unique};
use crate::sql::{power_of_two_runs, value_rows};
use crate::SqlStore;

/// Values bound per user row and per membership row.
const USER_WIDTH: usize = 9;
const MEMBER_WIDTH: usize = 2;

impl SqlStore {
    /// Creates users, already validated, with optional password hashes, all
    /// or none. Returns their ids in input order. A unique violation is a
    /// `Conflict` naming the field; its value is left empty, as the database
    /// does not say which row of the batch collided.
    pub async fn bulk_create_users(
        &self,
        users: &[(NewUser, Option<String>)],
        now: OffsetDateTime,
    ) -> Result<Vec<UserId>> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let mut ids: HashMap<String, i64> = HashMap::with_capacity(users.len());
        let rows_per_insert = (self.backend.max_binds() / USER_WIDTH).max(1);
        for chunk in power_of_two_runs(users, rows_per_insert) {
            // $1 is the shared timestamp; each row adds 9 values after it.
            let text = format!(
                "INSERT INTO users (email, username, username_lc, first_name, first_name_lc, \
                 last_name, last_name_lc, password_hash, attributes, state, created_at, \
                 updated_at) VALUES {} RETURNING id, email",
                value_rows(chunk.len(), USER_WIDTH, 2, ", 'active', $1, $1")
            );
            let mut q = sqlx::query_as::<_, (i64, String)>(&text).bind(to_ms(now));
            for (u, hash) in chunk {
                q = q
                    .bind(u.email.to_lowercase())
                    .bind(u.username.as_str())
                    .bind(u.username.to_lowercase())
                    .bind(u.first_name.as_str())
                    .bind(u.first_name.to_lowercase())
                    .bind(u.last_name.as_str())
                    .bind(u.last_name.to_lowercase())
                    .bind(hash.as_deref())
                    .bind(attributes_to_json(&u.attributes));
            }
            let rows = q.fetch_all(&mut *tx).await.map_err(|e| {
                let uniques = [
                    Unique {
                        field: "email",
                        column: "email",
                        value: "",
                    },
                    Unique {
                        field: "username",
                        column: "username_lc",
                        value: "",
                    },
                ];
                write_err(e, &uniques)
            })?;
            ids.extend(rows.into_iter().map(|(id, email)| (email, id)));
        }
        tx.commit().await.map_err(db)?;
        users
            .iter()
            .map(|(u, _)| {
                ids.get(&u.email.to_lowercase())
                    .map(|id| UserId(*id))
                    .ok_or_else(|| lanyard_core::Error::Store("bulk insert lost a row".into()))
            })
            .collect()
    }

    /// Adds memberships, all or none; existing ones are kept. Every group and
    /// user must exist (a missing one fails the batch with a store error).
    pub async fn bulk_add_members(&self, members: &[(GroupId, UserId)]) -> Result<()> {
        let mut conn = self.conn().await?;
        let mut tx = conn.begin().await.map_err(db)?;
        let rows_per_insert = (self.backend.max_binds() / MEMBER_WIDTH).max(1);
        for chunk in power_of_two_runs(members, rows_per_insert) {
            let text = format!(
                "INSERT INTO group_members (group_id, user_id) VALUES {} ON CONFLICT DO NOTHING",
                value_rows(chunk.len(), MEMBER_WIDTH, 1, "")
            );
            let mut q = sqlx::query(&text);
            for (g, u) in chunk {
                q = q.bind(g.0).bind(u.0);
            }
            q.execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}
