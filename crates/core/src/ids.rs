//! Identifiers, in PAI-DLC's formats: `dlc` + 13 lower-case base-36 characters for jobs,
//! `<JobId>-<role>-<index>` for pods.

use rand::Rng;

const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn random_base36(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn new_job_id() -> String {
    format!("dlc{}", random_base36(13))
}

/// A workspace id: `ws` + 13 lower-case base-36 characters.
pub fn new_workspace_id() -> String {
    format!("ws{}", random_base36(13))
}

/// A new access key pair: an id in Alibaba Cloud's shape (`LTAI…`) and a 30-character secret.
pub fn new_access_key() -> (String, String) {
    const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let mut text = |len: usize| -> String {
        (0..len)
            .map(|_| ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())] as char)
            .collect()
    };
    (format!("LTAIod{}", text(16)), text(30))
}

/// A pod incarnation's unique id: a new one for every (re)start of the pod.
pub fn new_pod_uid() -> String {
    let raw = random_base36(24);
    format!("{}-{}-{}", &raw[..8], &raw[8..16], &raw[16..])
}

/// `dlcxxxxxxxxxxxxx-worker-1`: the role in lower case, as PAI names pods and their DNS names.
pub fn pod_id(job_id: &str, role: &str, index: u32) -> String {
    format!("{job_id}-{}-{index}", role.to_ascii_lowercase())
}

/// Declares a string identifier type: hashed and compared as its text, looked up in maps by
/// `&str` (`Borrow<str>`), so a map keyed by it cannot be handed the wrong kind of id.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// A job (`dlc…`).
    JobId
);
string_id!(
    /// A pod of a job, the same across its incarnations (`<JobId>-<role>-<index>`).
    PodId
);
string_id!(
    /// One incarnation of a pod: a new one for every (re)start.
    PodUid
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_look_like_pai_ones() {
        let id = new_job_id();
        assert_eq!(id.len(), 16);
        assert!(id.starts_with("dlc"));
        assert!(id[3..].bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(new_job_id(), id);
    }

    #[test]
    fn pod_ids_use_the_lower_case_role() {
        assert_eq!(pod_id("dlcabc", "Worker", 2), "dlcabc-worker-2");
    }
}
