//! Users, their access keys, workspaces and who belongs to them.

use std::collections::BTreeMap;

use opendlc_core::identity::{Principal, User, WorkspaceRole};
use opendlc_core::time::Millis;
use rusqlite::{params, OptionalExtension, Row};

use crate::seal::Sealer;
use crate::{Result, Store, StoreError};

/// A stored access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub user_id: String,
    pub secret: String,
    pub created: Millis,
    pub revoked: Option<Millis>,
    /// A job's own key (its pods' credentials): it acts for that job only.
    pub job_id: Option<String>,
}

/// A stored workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub workspace_id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub env_types: Vec<String>,
    pub creator_id: String,
    pub created: Millis,
    pub modified: Millis,
}

/// A workspace member, with the user's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: User,
    pub role: WorkspaceRole,
}

fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        user_id: row.get(0)?,
        name: row.get(1)?,
        is_admin: row.get(2)?,
    })
}

fn workspace(row: &Row<'_>) -> rusqlite::Result<Workspace> {
    let env_types: String = row.get(5)?;
    Ok(Workspace {
        workspace_id: row.get(0)?,
        name: row.get(1)?,
        display_name: row.get(2)?,
        description: row.get(3)?,
        env_types: serde_json::from_str(&env_types).unwrap_or_default(),
        creator_id: row.get(4)?,
        created: row.get(6)?,
        modified: row.get(7)?,
    })
}

const WORKSPACE_COLUMNS: &str =
    "workspace_id, name, display_name, description, creator_id, env_types, gmt_create, gmt_modified";

fn role(text: String) -> Result<WorkspaceRole> {
    WorkspaceRole::parse(&text).ok_or_else(|| StoreError::Corrupt(format!("role {text:?}")))
}

impl Store {
    /// Creates the user unless one with that id exists; returns whether it was created.
    pub fn ensure_user(&self, user: &User, now: Millis) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO users (user_id, name, is_admin, gmt_create)
                     VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![user.user_id, user.name, user.is_admin, now])?;
            Ok(n == 1)
        })
    }

    /// Creates a user with the next free numeric id. Fails with [`StoreError::Conflict`] if
    /// the name is taken.
    pub fn create_user(&self, name: &str, is_admin: bool, now: Millis) -> Result<User> {
        self.write(|tx| {
            let taken: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)")?
                .query_row([name], |r| r.get(0))?;
            if taken {
                return Err(StoreError::Conflict(format!("user {name} already exists")));
            }
            let next: i64 = tx
                .prepare_cached("SELECT COALESCE(MAX(CAST(user_id AS INTEGER)), 0) + 1 FROM users")?
                .query_row([], |r| r.get(0))?;
            let user = User {
                user_id: next.to_string(),
                name: name.to_string(),
                is_admin,
            };
            tx.prepare_cached(
                "INSERT INTO users (user_id, name, is_admin, gmt_create) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![user.user_id, user.name, user.is_admin, now])?;
            Ok(user)
        })
    }

    pub fn user(&self, user_id: &str) -> Result<Option<User>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT user_id, name, is_admin FROM users WHERE user_id = ?1")?
                .query_row([user_id], user)
                .optional()?)
        })
    }

    pub fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT user_id, name, is_admin FROM users WHERE name = ?1")?
                .query_row([name], user)
                .optional()?)
        })
    }

    /// The Unix identity (uid, gid) an administrator set for the user's pods, if any.
    pub fn unix_identity(&self, user_id: &str) -> Result<Option<(u32, u32)>> {
        self.read(|conn| {
            let row: Option<(Option<u32>, Option<u32>)> = conn
                .prepare_cached("SELECT unix_uid, unix_gid FROM users WHERE user_id = ?1")?
                .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(match row {
                Some((Some(uid), gid)) => Some((uid, gid.unwrap_or(uid))),
                _ => None,
            })
        })
    }

    /// Sets (or, with `None`, clears) the Unix identity of the user's pods; false if there is
    /// no such user.
    pub fn set_unix_identity(&self, user_id: &str, identity: Option<(u32, u32)>) -> Result<bool> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached("UPDATE users SET unix_uid = ?2, unix_gid = ?3 WHERE user_id = ?1")?
                .execute(params![
                    user_id,
                    identity.map(|(uid, _)| uid),
                    identity.map(|(_, gid)| gid)
                ])?;
            Ok(changed == 1)
        })
    }

    pub fn users(&self) -> Result<Vec<User>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT user_id, name, is_admin FROM users ORDER BY CAST(user_id AS INTEGER)",
            )?;
            let users = stmt.query_map([], user)?.collect::<Result<_, _>>()?;
            Ok(users)
        })
    }

    /// Stores a key; an existing key with the same id gets this secret and owner (how a key
    /// given in the environment replaces an older one).
    pub fn put_access_key(&self, key: &AccessKeyRecord) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO access_keys
                     (access_key_id, user_id, secret, gmt_create, gmt_revoked, job_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (access_key_id) DO UPDATE
                 SET user_id = excluded.user_id, secret = excluded.secret,
                     gmt_revoked = excluded.gmt_revoked, job_id = excluded.job_id",
            )?
            .execute(params![
                key.access_key_id,
                key.user_id,
                self.sealer.seal(&key.secret),
                key.created,
                key.revoked,
                key.job_id
            ])?;
            Ok(())
        })
    }

    pub fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKeyRecord>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT access_key_id, user_id, secret, gmt_create, gmt_revoked, job_id
                     FROM access_keys WHERE access_key_id = ?1",
                )?
                .query_row([access_key_id], |r| access_key(r, &self.sealer))
                .optional()?)
        })
    }

    /// Every key, or a user's keys, oldest first (revoked ones included).
    pub fn access_keys(&self, user_id: Option<&str>) -> Result<Vec<AccessKeyRecord>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT access_key_id, user_id, secret, gmt_create, gmt_revoked, job_id FROM access_keys
                 WHERE ?1 IS NULL OR user_id = ?1 ORDER BY gmt_create, access_key_id",
            )?;
            let keys = stmt
                .query_map([user_id], |r| access_key(r, &self.sealer))?
                .collect::<Result<_, _>>()?;
            Ok(keys)
        })
    }

    /// Revokes a key; returns false when there is no such key or it was already revoked.
    pub fn revoke_access_key(&self, access_key_id: &str, now: Millis) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "UPDATE access_keys SET gmt_revoked = ?2
                     WHERE access_key_id = ?1 AND gmt_revoked IS NULL",
                )?
                .execute(params![access_key_id, now])?;
            Ok(n == 1)
        })
    }

    /// The active key of a job's own (its pods' credentials), if one was made.
    pub fn job_key(&self, job_id: &str) -> Result<Option<AccessKeyRecord>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(
                    "SELECT access_key_id, user_id, secret, gmt_create, gmt_revoked, job_id
                     FROM access_keys WHERE job_id = ?1 AND gmt_revoked IS NULL",
                )?
                .query_row([job_id], |r| access_key(r, &self.sealer))
                .optional()?)
        })
    }

    /// Revokes the keys of a job's own (it has ended); returns how many.
    pub fn revoke_job_keys(&self, job_id: &str, now: Millis) -> Result<usize> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached(
                    "UPDATE access_keys SET gmt_revoked = ?2
                     WHERE job_id = ?1 AND gmt_revoked IS NULL",
                )?
                .execute(params![job_id, now])?)
        })
    }

    /// Creates a workspace with its creator as its admin. Fails with
    /// [`StoreError::Conflict`] if the name is taken.
    pub fn create_workspace(&self, ws: &Workspace) -> Result<()> {
        self.write(|tx| {
            let taken: bool = tx
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM workspaces WHERE name = ?1)")?
                .query_row([&ws.name], |r| r.get(0))?;
            if taken {
                return Err(StoreError::Conflict(format!(
                    "a workspace named {} already exists",
                    ws.name
                )));
            }
            tx.prepare_cached(
                "INSERT INTO workspaces (workspace_id, name, display_name, description, creator_id,
                                         env_types, gmt_create, gmt_modified)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                ws.workspace_id,
                ws.name,
                ws.display_name,
                ws.description,
                ws.creator_id,
                serde_json::to_string(&ws.env_types).unwrap_or_else(|_| "[]".into()),
                ws.created,
                ws.modified
            ])?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO workspace_members (workspace_id, user_id, role, gmt_create)
                 VALUES (?1, ?2, 'admin', ?3)",
            )?
            .execute(params![ws.workspace_id, ws.creator_id, ws.created])?;
            Ok(())
        })
    }

    pub fn workspace(&self, workspace_id: &str) -> Result<Option<Workspace>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE workspace_id = ?1"
                ))?
                .query_row([workspace_id], workspace)
                .optional()?)
        })
    }

    /// A workspace by id or, failing that, by name.
    pub fn find_workspace(&self, id_or_name: &str) -> Result<Option<Workspace>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached(&format!(
                    "SELECT {WORKSPACE_COLUMNS} FROM workspaces
                     WHERE workspace_id = ?1 OR name = ?1 ORDER BY workspace_id = ?1 DESC LIMIT 1"
                ))?
                .query_row([id_or_name], workspace)
                .optional()?)
        })
    }

    /// Every workspace, oldest first.
    pub fn workspaces(&self) -> Result<Vec<Workspace>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY seq"
            ))?;
            let all = stmt.query_map([], workspace)?.collect::<Result<_, _>>()?;
            Ok(all)
        })
    }

    /// Adds the user to the workspace, or changes their role.
    pub fn set_member(
        &self,
        workspace_id: &str,
        user_id: &str,
        role: WorkspaceRole,
        now: Millis,
    ) -> Result<()> {
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO workspace_members (workspace_id, user_id, role, gmt_create)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
            )?
            .execute(params![workspace_id, user_id, role.as_str(), now])?;
            Ok(())
        })
    }

    /// Removes the user from the workspace; returns whether they were in it.
    pub fn remove_member(&self, workspace_id: &str, user_id: &str) -> Result<bool> {
        self.write(|tx| {
            let n = tx
                .prepare_cached(
                    "DELETE FROM workspace_members WHERE workspace_id = ?1 AND user_id = ?2",
                )?
                .execute(params![workspace_id, user_id])?;
            Ok(n == 1)
        })
    }

    /// The members of a workspace, admins first.
    pub fn members(&self, workspace_id: &str) -> Result<Vec<Member>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT u.user_id, u.name, u.is_admin, m.role
                 FROM workspace_members m JOIN users u ON u.user_id = m.user_id
                 WHERE m.workspace_id = ?1 ORDER BY m.role = 'admin' DESC, u.name",
            )?;
            let rows: Vec<(User, String)> = stmt
                .query_map([workspace_id], |r| Ok((user(r)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            rows.into_iter()
                .map(|(user, r)| {
                    Ok(Member {
                        user,
                        role: role(r)?,
                    })
                })
                .collect()
        })
    }

    /// The user and the workspaces they belong to: what every access decision needs.
    pub fn principal(&self, user_id: &str) -> Result<Option<Principal>> {
        self.read(|conn| load_principal(conn, user_id))
    }

    /// An active access key with its owner: one read for what every signed request needs.
    pub fn key_owner(&self, access_key_id: &str) -> Result<Option<(AccessKeyRecord, Principal)>> {
        self.read(|conn| {
            let Some(key) = conn
                .prepare_cached(
                    "SELECT access_key_id, user_id, secret, gmt_create, gmt_revoked, job_id
                     FROM access_keys WHERE access_key_id = ?1 AND gmt_revoked IS NULL",
                )?
                .query_row([access_key_id], |r| access_key(r, &self.sealer))
                .optional()?
            else {
                return Ok(None);
            };
            Ok(load_principal(conn, &key.user_id)?.map(|p| (key, p)))
        })
    }

    /// A workspace's name, if it exists.
    pub fn workspace_name(&self, workspace_id: &str) -> Result<Option<String>> {
        self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT name FROM workspaces WHERE workspace_id = ?1")?
                .query_row([workspace_id], |r| r.get(0))
                .optional()?)
        })
    }
}

fn load_principal(conn: &rusqlite::Connection, user_id: &str) -> Result<Option<Principal>> {
    let Some(user) = conn
        .prepare_cached("SELECT user_id, name, is_admin FROM users WHERE user_id = ?1")?
        .query_row([user_id], user)
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT workspace_id, role FROM workspace_members WHERE user_id = ?1")?;
    let rows: Vec<(String, String)> = stmt
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut workspaces = BTreeMap::new();
    for (ws, r) in rows {
        workspaces.insert(ws, role(r)?);
    }
    Ok(Some(Principal { user, workspaces }))
}

/// A key from its row, its secret opened.
fn access_key(row: &Row<'_>, sealer: &Sealer) -> rusqlite::Result<AccessKeyRecord> {
    let sealed: String = row.get(2)?;
    let secret = sealer.open(&sealed).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(AccessKeyRecord {
        access_key_id: row.get(0)?,
        user_id: row.get(1)?,
        secret,
        created: row.get(3)?,
        revoked: row.get(4)?,
        job_id: row.get(5)?,
    })
}
