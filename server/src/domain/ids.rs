//! Identifier newtypes: a candidate's and a run's id are UUIDs, parsed once where they enter (a URL,
//! a database row) and never confused with each other or with any other string.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Text that is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a {kind} id (a UUID)")]
pub struct InvalidId {
    /// What kind of id was expected.
    pub kind: &'static str,
    /// The offending text.
    pub text: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            /// Parses an id (any UUID form; kept in the canonical hyphenated lowercase form).
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                uuid::Uuid::parse_str(text)
                    .map(|u| Self(u.to_string()))
                    .map_err(|_| InvalidId { kind: $kind, text: text.to_owned() })
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// A release candidate's id.
    CandidateId,
    "candidate"
);
uuid_id!(
    /// One run's id (one variant of one candidate).
    RunId,
    "run"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_uuids_only_and_keep_one_form() {
        let id = CandidateId::parse("67E55044-10B1-426F-9247-BB680E5FE0C8").unwrap();
        assert_eq!(id.as_str(), "67e55044-10b1-426f-9247-bb680e5fe0c8");
        let e = RunId::parse("../etc/passwd").unwrap_err();
        assert_eq!(e.to_string(), "`../etc/passwd` is not a run id (a UUID)");
        assert_ne!(CandidateId::random(), CandidateId::random());
    }
}
