//! Typed identifiers, so a `UserId` can never be passed where a `GroupId` is meant.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A user of the directory.
    UserId
);
id_type!(
    /// A group of users.
    GroupId
);
id_type!(
    /// An admin account (separate from directory users).
    AdminId
);
id_type!(
    /// An API key.
    ApiKeyId
);
id_type!(
    /// A configured application (a SAML service provider).
    AppId
);
id_type!(
    /// One signing key pair of an application.
    AppKeyId
);
id_type!(
    /// A user's browser session.
    SessionId
);
id_type!(
    /// An admin's portal session.
    AdminSessionId
);
