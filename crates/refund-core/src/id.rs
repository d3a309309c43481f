//! Validated identifiers: payment and refund ids, the caller's refund reference, provider names.

use std::borrow::Cow;
use std::fmt;

use crate::error::Error;

/// The longest provider id we accept (bytes). Real ids are far shorter; the cap keeps a hostile
/// or corrupted value out of URLs, logs and journals.
const MAX_ID_LEN: usize = 256;

fn check_opaque(what: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() {
        return Err(Error::invalid_input(format!("{what} must not be empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(Error::invalid_input(format!(
            "{what} is longer than {MAX_ID_LEN} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "{what} contains a control character"
        )));
    }
    if value.trim() != value {
        return Err(Error::invalid_input(format!(
            "{what} has leading or trailing white space"
        )));
    }
    Ok(())
}

macro_rules! opaque_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps an id: 1 to 256 bytes, no control characters, no surrounding
            /// white space. The value is otherwise opaque and never parsed (contract §0.1).
            ///
            /// # Errors
            /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the value breaks those rules.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_opaque($what, &value)?;
                Ok($name(value))
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

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

opaque_id!(
    /// The provider's id of the payment being refunded (Plexy transaction id, PayNext `pay_…` id,
    /// Payabli `transId`).
    PaymentId,
    "payment id"
);
opaque_id!(
    /// The provider's id of a refund it created.
    RefundId,
    "refund id"
);

/// The caller's key for one logical refund (contract §0.1): reused unchanged on every attempt and
/// every reconciliation lookup, so that at most one refund is applied for it.
///
/// 1 to 64 characters from `A–Z a–z 0–9 - _ . :`, and not `.` or `..`, so that it is a valid
/// HTTP header value, JSON string and URL path segment for every provider. UUIDs fit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RefundReference(String);

impl RefundReference {
    /// The longest reference accepted.
    pub const MAX_LEN: usize = 64;

    /// Validates and wraps a reference.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the value is empty, longer than 64
    /// characters, has a character outside `A–Z a–z 0–9 - _ . :`, or is `.` or `..`.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        if value.is_empty() || value.len() > Self::MAX_LEN {
            return Err(Error::invalid_input(format!(
                "refund reference must be 1 to {} characters, got {}",
                Self::MAX_LEN,
                value.chars().count()
            )));
        }
        if let Some(c) = value
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(Error::invalid_input(format!(
                "refund reference may only contain A-Z a-z 0-9 - _ . : (found {c:?})"
            )));
        }
        if value == "." || value == ".." {
            return Err(Error::invalid_input(
                "refund reference must not be \".\" or \"..\"",
            ));
        }
        Ok(RefundReference(value))
    }

    /// The reference as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RefundReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RefundReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RefundReference({:?})", self.0)
    }
}

impl std::str::FromStr for RefundReference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl<'de> serde::Deserialize<'de> for RefundReference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

/// The name of a provider: `plexy`, `paynext`, `payabli`, or one of a user's own.
///
/// 1 to 32 characters from `a–z 0–9 - _`, starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ProviderId(Cow<'static, str>);

impl ProviderId {
    /// Plexy.
    pub const PLEXY: ProviderId = ProviderId(Cow::Borrowed("plexy"));
    /// PayNext.
    pub const PAYNEXT: ProviderId = ProviderId(Cow::Borrowed("paynext"));
    /// Payabli.
    pub const PAYABLI: ProviderId = ProviderId(Cow::Borrowed("payabli"));

    /// Validates and wraps a provider name.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the name breaks the rules above.
    pub fn new(value: impl Into<String>) -> Result<Self, Error> {
        let value = value.into();
        let ok = (1..=32).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            return Err(Error::invalid_input(format!(
                "provider name must be 1 to 32 characters from a-z 0-9 - _, starting with a letter, got {value:?}"
            )));
        }
        Ok(ProviderId(Cow::Owned(value)))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProviderId({:?})", self.0)
    }
}

impl std::str::FromStr for ProviderId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

impl<'de> serde::Deserialize<'de> for ProviderId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn references() {
        for ok in [
            "rf-7f3c2b",
            "a",
            "A.b_c:d-1",
            "..a",
            "3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2",
            &"x".repeat(64),
        ] {
            assert_eq!(RefundReference::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            ".",
            "..",
            "a b",
            "a/b",
            "é",
            "a\n",
            &"x".repeat(65),
            "a%20",
            "a?b",
            "a#b",
        ] {
            assert_eq!(
                RefundReference::new(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn opaque_ids() {
        assert_eq!(PaymentId::new("a/b c").unwrap().as_str(), "a/b c");
        for bad in ["", " x", "x ", "a\u{0}b", "a\tb", &"x".repeat(257)] {
            assert_eq!(
                PaymentId::new(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<PaymentId>("\"\"").is_err());
    }

    #[test]
    fn providers() {
        assert_eq!(ProviderId::new("plexy").unwrap(), ProviderId::PLEXY);
        assert_eq!(ProviderId::PAYABLI.to_string(), "payabli");
        for bad in ["", "Plexy", "1x", "a b", &"a".repeat(33)] {
            assert!(ProviderId::new(bad).is_err(), "{bad:?}");
        }
    }
}
