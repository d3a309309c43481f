//! Exact JSON numbers at a provider's edge.
//!
//! `serde_json` reads a number such as `10.50` into an `f64` unless its `arbitrary_precision`
//! feature is on, and that feature changes number handling for every crate in an application's
//! tree. We instead capture the literal text through `RawValue` and parse it as an exact decimal,
//! and we write amounts as raw literals, so `10.50` goes out as `10.50`, never `10.5` or
//! `10.499999`.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde_json::value::RawValue;

/// A decimal read from or written as a JSON number literal, exactly.
///
/// On input it also accepts a JSON string holding a number (`"100.00"`), because some providers
/// send amounts as strings (Payabli webhooks, contract §4.3).
///
/// Works with `serde_json` only: other serializers do not know raw literals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct JsonDecimal(Decimal);

impl JsonDecimal {
    /// Wraps a decimal; it is written with its own scale (`10.50` stays `10.50`).
    pub fn new(value: Decimal) -> Self {
        JsonDecimal(value)
    }

    /// The exact value.
    pub fn value(&self) -> Decimal {
        self.0
    }

    /// Parses a JSON number literal (`-?int(.frac)?([eE][+-]?digits)?`) exactly.
    ///
    /// Returns `None` for anything that is not a JSON number or does not fit a `Decimal`
    /// (more than 28 significant digits or an absurd exponent).
    pub fn parse_literal(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (rest.get(..i)?, Some(rest.get(i + 1..)?)),
            None => (rest, None),
        };
        let (int, frac) = match mantissa.split_once('.') {
            Some((i, f)) => (i, f),
            None => (mantissa, ""),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || (int.len() > 1 && int.starts_with('0')) {
            return None;
        }
        if mantissa.contains('.') && !digits(frac) {
            return None;
        }
        let exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let body = e.strip_prefix(['+', '-']).unwrap_or(e);
                if !digits(body) || body.len() > 4 {
                    return None;
                }
                e.parse().ok()?
            }
        };
        let mut mantissa: i128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(b - b'0'))?;
        }
        let mut scale = i64::try_from(frac.len()).ok()? - exp;
        while scale < 0 {
            mantissa = mantissa.checked_mul(10)?;
            scale += 1;
        }
        if negative {
            mantissa = -mantissa;
        }
        Decimal::try_from_i128_with_scale(mantissa, u32::try_from(scale).ok()?).ok()
    }
}

impl From<Decimal> for JsonDecimal {
    fn from(value: Decimal) -> Self {
        JsonDecimal(value)
    }
}

impl FromStr for JsonDecimal {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_literal(s)
            .map(JsonDecimal)
            .ok_or_else(|| crate::Error::invalid_input(format!("not an exact JSON number: {s:?}")))
    }
}

impl fmt::Display for JsonDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for JsonDecimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl serde::Serialize for JsonDecimal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.0.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for JsonDecimal {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <Box<RawValue>>::deserialize(d)?;
        let text = raw.get();
        let literal = if text.starts_with('"') {
            let s: String = serde_json::from_str(text).map_err(D::Error::custom)?;
            return Self::parse_literal(s.trim())
                .map(JsonDecimal)
                .ok_or_else(|| {
                    D::Error::custom(format!("expected a decimal amount, got string {s:?}"))
                });
        } else {
            text
        };
        Self::parse_literal(literal)
            .map(JsonDecimal)
            .ok_or_else(|| {
                D::Error::custom(format!(
                    "expected an exact decimal number, got {}",
                    excerpt(literal)
                ))
            })
    }
}

fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(32).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// A JSON member name as a generated decoder reads it: borrowed from the input when it holds no
/// escapes (no allocation per member), owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name in ASCII lower case, for decoders that match names in any case. Written into
    /// `buf` when the name has upper-case letters and fits (no allocation), else allocated.
    pub fn folded<'b>(&'b self, buf: &'b mut [u8; KEY_BUF]) -> Cow<'b, str> {
        let name = self.as_str();
        if !name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Cow::Borrowed(name);
        }
        if let Some(slot) = buf.get_mut(..name.len()) {
            slot.copy_from_slice(name.as_bytes());
            slot.make_ascii_lowercase();
            // Lower-casing ASCII bytes keeps UTF-8 valid.
            if let Ok(folded) = std::str::from_utf8(slot) {
                return Cow::Borrowed(folded);
            }
        }
        Cow::Owned(name.to_ascii_lowercase())
    }
}

/// The size of the buffer [`Key::folded`] writes into: longer names are allocated.
pub const KEY_BUF: usize = 64;

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_borrow_when_they_can_and_fold_without_allocating() {
        let plain: Key<'_> = serde_json::from_str(r#""transId""#).unwrap();
        assert!(matches!(plain.0, Cow::Borrowed("transId")));
        let escaped: Key<'_> = serde_json::from_str(r#""trans\u0049d""#).unwrap();
        assert!(matches!(&escaped.0, Cow::Owned(s) if s == "transId"));

        let mut buf = [0; KEY_BUF];
        assert!(matches!(plain.folded(&mut buf), Cow::Borrowed("transid")));
        let lower = Key(Cow::Borrowed("already_lower"));
        assert!(matches!(
            lower.folded(&mut buf),
            Cow::Borrowed("already_lower")
        ));
        let long = Key(Cow::Owned("A".repeat(KEY_BUF + 1)));
        assert_eq!(long.folded(&mut buf), "a".repeat(KEY_BUF + 1));
        let exact = Key(Cow::Owned("B".repeat(KEY_BUF)));
        assert_eq!(exact.folded(&mut buf), "b".repeat(KEY_BUF));
        let unicode = Key(Cow::Borrowed("Ünïcode-ID"));
        assert_eq!(unicode.folded(&mut buf), "Ünïcode-id");
        assert!(serde_json::from_str::<Key<'_>>("5").is_err());
    }

    #[test]
    fn parses_json_literals_exactly() {
        for (text, expected) in [
            ("10.50", "10.50"),
            ("-10.50", "-10.50"),
            ("0", "0"),
            ("105", "105"),
            ("1e2", "100"),
            ("1.05E+2", "105"),
            ("1050e-2", "10.50"),
            ("0.1", "0.1"),
            ("189.50", "189.50"),
        ] {
            let got = JsonDecimal::parse_literal(text).unwrap();
            assert_eq!(got, Decimal::from_str(expected).unwrap(), "{text}");
        }
    }

    #[test]
    fn refuses_non_numbers() {
        for text in [
            "", "-", "01", "1.", ".1", "1e", "1e+", "NaN", "Infinity", "1,5", " 1", "1e99999",
            "0x1",
        ] {
            assert_eq!(JsonDecimal::parse_literal(text), None, "{text:?}");
        }
        assert!(serde_json::from_str::<JsonDecimal>("true").is_err());
        assert!(serde_json::from_str::<JsonDecimal>("[1]").is_err());
        assert!(serde_json::from_str::<JsonDecimal>("\"abc\"").is_err());
    }

    #[test]
    fn reads_numbers_in_strings_and_writes_raw_literals() {
        let v: JsonDecimal = serde_json::from_str("\"100.00\"").unwrap();
        assert_eq!(v.value().to_string(), "100.00");
        let v: JsonDecimal = serde_json::from_str("0.30000000000000004").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "0.30000000000000004");
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Body {
            amount: Option<JsonDecimal>,
        }
        let b: Body = serde_json::from_str(r#"{"amount":10.50}"#).unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), r#"{"amount":10.50}"#);
        let b: Body = serde_json::from_str(r#"{"amount":null}"#).unwrap();
        assert!(b.amount.is_none());
    }
}
