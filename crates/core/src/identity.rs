//! Who may see and change what: users, workspaces and the access rules of jobs and
//! TensorBoards.
//!
//! - A server administrator (the `admin` user created at first start) sees and changes
//!   everything.
//! - Everyone else works in workspaces, as a `member` or an `admin` of each. A resource
//!   (job, TensorBoard) belongs to its creator and its workspace:
//!   - `PRIVATE` (the default): its creator and the workspace's admins see it;
//!   - `PUBLIC`: every member of the workspace sees it.
//!   - Changing it (update, stop, delete) takes its creator or a workspace admin.
//!   - Outside the workspace nothing is visible: not even whether it exists.

use std::collections::BTreeMap;
use std::fmt;

/// The id of the administrator created on first start; jobs of earlier versions belong to it.
pub const ADMIN_USER_ID: &str = "1";
/// The administrator's user name.
pub const ADMIN_USER_NAME: &str = "admin";
/// The workspace every user belongs to unless told otherwise, and where a job without a
/// `WorkspaceId` goes.
pub const DEFAULT_WORKSPACE_ID: &str = "default";

/// A workspace or user name that breaks its rule. The message states the rule and the name
/// given, without saying which field: the caller prefixes it ("user name …",
/// "Invalid parameter WorkspaceName: …").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("must be 3 to 23 letters, digits or underscores starting with a letter, got \"{0}\"")]
    Workspace(String),
    #[error("must be 1 to 64 letters, digits, '_', '-', '.' or '@', got \"{0}\"")]
    User(String),
}

/// A workspace name as PAI accepts it: 3 to 23 letters, digits or underscores, starting with
/// a letter. The error says the rule.
pub fn validate_workspace_name(name: &str) -> Result<(), InvalidName> {
    let ok = (3..=23).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(InvalidName::Workspace(name.to_string()))
    }
}

/// A user name: 1 to 64 letters, digits, `_`, `-`, `.` or `@`.
pub fn validate_user_name(name: &str) -> Result<(), InvalidName> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(InvalidName::User(name.to_string()))
    }
}

/// A user: who a key acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub user_id: String,
    pub name: String,
    /// A server administrator: every workspace, every resource.
    pub is_admin: bool,
}

/// A user's part in a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkspaceRole {
    Member,
    Admin,
}

impl WorkspaceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceRole::Member => "member",
            WorkspaceRole::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<WorkspaceRole> {
        match text.to_ascii_lowercase().as_str() {
            "member" => Some(WorkspaceRole::Member),
            "admin" => Some(WorkspaceRole::Admin),
            _ => None,
        }
    }
}

impl fmt::Display for WorkspaceRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `PUBLIC` or `PRIVATE`, as the API spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accessibility {
    Public,
    Private,
}

impl Accessibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Accessibility::Public => "PUBLIC",
            Accessibility::Private => "PRIVATE",
        }
    }

    /// Case-insensitive; `None` for anything but the two values.
    pub fn parse(text: &str) -> Option<Accessibility> {
        match text.to_ascii_uppercase().as_str() {
            "PUBLIC" => Some(Accessibility::Public),
            "PRIVATE" => Some(Accessibility::Private),
            _ => None,
        }
    }
}

/// What a resource's access depends on.
#[derive(Debug, Clone, Copy)]
pub struct Owned<'a> {
    pub owner_id: &'a str,
    pub workspace_id: &'a str,
    /// As stored; anything but `PUBLIC` counts as private.
    pub accessibility: &'a str,
}

/// A caller with the workspaces they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    /// Workspace id → the caller's role there.
    pub workspaces: BTreeMap<String, WorkspaceRole>,
}

impl Principal {
    pub fn role_in(&self, workspace_id: &str) -> Option<WorkspaceRole> {
        self.workspaces.get(workspace_id).copied()
    }

    pub fn is_member(&self, workspace_id: &str) -> bool {
        self.user.is_admin || self.workspaces.contains_key(workspace_id)
    }

    /// May this caller see the resource?
    pub fn can_read(&self, resource: Owned<'_>) -> bool {
        if self.user.is_admin || resource.owner_id == self.user.user_id {
            // An owner who left the workspace still sees what they created.
            return true;
        }
        match self.role_in(resource.workspace_id) {
            Some(WorkspaceRole::Admin) => true,
            Some(WorkspaceRole::Member) => {
                Accessibility::parse(resource.accessibility) == Some(Accessibility::Public)
            }
            None => false,
        }
    }

    /// May this caller change (update, stop, delete) the resource?
    pub fn can_write(&self, resource: Owned<'_>) -> bool {
        self.user.is_admin
            || resource.owner_id == self.user.user_id
            || self.role_in(resource.workspace_id) == Some(WorkspaceRole::Admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_against_their_rule() {
        assert_eq!(validate_workspace_name("team_a1"), Ok(()));
        assert_eq!(
            validate_workspace_name("1team").unwrap_err().to_string(),
            r#"must be 3 to 23 letters, digits or underscores starting with a letter, got "1team""#
        );
        assert_eq!(validate_user_name("alice.b@example"), Ok(()));
        assert_eq!(
            validate_user_name("a b").unwrap_err().to_string(),
            r#"must be 1 to 64 letters, digits, '_', '-', '.' or '@', got "a b""#
        );
    }

    fn principal(id: &str, workspaces: &[(&str, WorkspaceRole)]) -> Principal {
        Principal {
            user: User {
                user_id: id.into(),
                name: id.into(),
                is_admin: false,
            },
            workspaces: workspaces
                .iter()
                .map(|(w, r)| (w.to_string(), *r))
                .collect(),
        }
    }

    fn job<'a>(owner: &'a str, accessibility: &'a str) -> Owned<'a> {
        Owned {
            owner_id: owner,
            workspace_id: "team",
            accessibility,
        }
    }

    #[test]
    fn private_is_for_the_creator_and_workspace_admins() {
        let ann = principal("ann", &[("team", WorkspaceRole::Member)]);
        let bob = principal("bob", &[("team", WorkspaceRole::Member)]);
        let lead = principal("lead", &[("team", WorkspaceRole::Admin)]);
        let eve = principal("eve", &[("other", WorkspaceRole::Admin)]);
        let private = job("ann", "PRIVATE");
        assert!(ann.can_read(private) && ann.can_write(private));
        assert!(!bob.can_read(private) && !bob.can_write(private));
        assert!(lead.can_read(private) && lead.can_write(private));
        assert!(!eve.can_read(private));
    }

    #[test]
    fn public_is_for_every_member_to_read() {
        let bob = principal("bob", &[("team", WorkspaceRole::Member)]);
        let eve = principal("eve", &[("other", WorkspaceRole::Member)]);
        let public = job("ann", "public");
        assert!(bob.can_read(public));
        assert!(!bob.can_write(public));
        assert!(!eve.can_read(public));
    }

    #[test]
    fn server_admins_see_everything() {
        let mut root = principal("1", &[]);
        root.user.is_admin = true;
        assert!(root.can_read(job("ann", "PRIVATE")));
        assert!(root.can_write(job("ann", "PRIVATE")));
        assert!(root.is_member("anything"));
    }
}
