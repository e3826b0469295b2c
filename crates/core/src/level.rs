//! The one ordered classification scale used for documents and clearances.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// `public` < `internal` < `confidential` < `secret`.
///
/// `secret` is a designated trade secret (development data for unreleased
/// products, process know-how).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Public,
    Internal,
    Confidential,
    Secret,
}

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Public,
        Level::Internal,
        Level::Confidential,
        Level::Secret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Public => "public",
            Level::Internal => "internal",
            Level::Confidential => "confidential",
            Level::Secret => "secret",
        }
    }

    /// Numeric rank, 0 for `public` to 3 for `secret`; stable, used in stores.
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn from_rank(rank: u8) -> Option<Level> {
        Level::ALL.get(usize::from(rank)).copied()
    }

    /// Whether need to know (a shared project) is required at this level.
    pub fn needs_need_to_know(self) -> bool {
        self >= Level::Confidential
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the four level names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown level '{0}' (expected public, internal, confidential or secret)")]
pub struct UnknownLevel(pub String);

impl FromStr for Level {
    type Err = UnknownLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "public" => Ok(Level::Public),
            "internal" => Ok(Level::Internal),
            "confidential" => Ok(Level::Confidential),
            "secret" => Ok(Level::Secret),
            other => Err(UnknownLevel(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_the_spec_order() {
        assert!(Level::Public < Level::Internal);
        assert!(Level::Internal < Level::Confidential);
        assert!(Level::Confidential < Level::Secret);
    }

    #[test]
    fn names_round_trip_and_reject_others() {
        for l in Level::ALL {
            assert_eq!(l.as_str().parse::<Level>(), Ok(l));
            assert_eq!(Level::from_rank(l.rank()), Some(l));
        }
        assert!("Secret".parse::<Level>().is_err());
        assert!("top-secret".parse::<Level>().is_err());
        assert_eq!(Level::from_rank(4), None);
    }
}
