//! Job and pod statuses, with the transitions the lifecycle allows.

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <::std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(::serde::de::Error::custom)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::status::UnknownValue;
            fn from_str(s: &str) -> Result<Self, $crate::status::UnknownValue> {
                match s {
                    $(stringify!($variant) => Ok($name::$variant),)+
                    _ => Err($crate::status::UnknownValue {
                        allowed: $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", "),
                    }),
                }
            }
        }
    };
}
pub(crate) use string_enum;

/// A value outside an enumeration; `allowed` lists the accepted ones for the error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of: {allowed}")]
pub struct UnknownValue {
    pub allowed: String,
}

string_enum! {
    /// A job's status, as PAI-DLC names it.
    JobStatus {
        Creating, Queuing, Bidding, EnvPreparing, SanityChecking, Running, Restarting, Stopping,
        SucceededReserving, FailedReserving, Succeeded, Failed, Stopped,
    }
}

impl JobStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Stopped
        )
    }

    /// Waiting for capacity: JobSpecs and priority may still change.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            JobStatus::Creating | JobStatus::Queuing | JobStatus::Bidding
        )
    }

    /// Whether the lifecycle allows going from `self` to `next`. Terminal states are final;
    /// a stopping job can only end.
    pub fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        if self == next || self.is_terminal() {
            return false;
        }
        match self {
            Stopping => next.is_terminal(),
            SucceededReserving => next == Succeeded,
            FailedReserving => next == Failed,
            Creating => next != Creating,
            _ => !matches!(next, Creating),
        }
    }
}

string_enum! {
    /// A pod's status.
    PodStatus { Pending, Running, Succeeded, Failed, Unknown }
}

impl PodStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, PodStatus::Succeeded | PodStatus::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_every_status() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), *s);
        }
        let err = "running".parse::<JobStatus>().unwrap_err();
        assert!(err.to_string().contains("Running"));
    }

    #[test]
    fn terminal_states_are_final() {
        assert!(JobStatus::Running.can_become(JobStatus::Succeeded));
        assert!(!JobStatus::Succeeded.can_become(JobStatus::Running));
        assert!(!JobStatus::Stopping.can_become(JobStatus::Running));
        assert!(JobStatus::Stopping.can_become(JobStatus::Stopped));
        assert!(JobStatus::Creating.can_become(JobStatus::Queuing));
        assert!(!JobStatus::Queuing.can_become(JobStatus::Creating));
    }
}
