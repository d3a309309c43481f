//! Exact money: an integer number of minor units plus a [`Currency`] (contract §0.3).
//!
//! There is no float anywhere in this module. Provider JSON numbers are read as exact decimals
//! through [`JsonDecimal`] and converted here with checked arithmetic.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::currency::Currency;
use crate::error::Error;
use crate::json::JsonDecimal;

/// The largest number of minor-unit digits a currency may have (ISO 4217's largest is 4: `CLF`).
pub const MAX_EXPONENT: u8 = 4;

/// An exact, non-negative amount of money in one currency.
///
/// Stored as integer minor units (cents for USD, yen for JPY, fils for KWD), so every value has
/// exactly one representation and arithmetic is exact. Negative amounts cannot be built; a zero
/// amount can (a remaining balance may be zero), but a refund request refuses it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Builds an amount from integer minor units: `Money::from_minor(1050, Currency::USD)` is 10.50 USD.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when `minor` is negative.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, Error> {
        if minor < 0 {
            return Err(Error::invalid_input(format!(
                "amount must not be negative, got {minor} minor units of {currency}"
            )));
        }
        Ok(Money { minor, currency })
    }

    /// Parses the decimal text a person or a file writes: digits, optionally a `.` and at most
    /// the currency's number of fraction digits (`"10.50"`, `"10.5"`, `"1000"` for JPY).
    ///
    /// Signs, exponents, grouping separators, white space, `NaN` and a bare `.` are refused rather
    /// than guessed at: an amount of money is never ambiguous.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the text is not of that form, has more
    /// fraction digits than the currency (`"10.001"` USD, `"10.5"` JPY), or overflows.
    pub fn parse(text: &str, currency: Currency) -> Result<Money, Error> {
        let bad = |why: &str| {
            Error::invalid_input(format!("invalid amount {text:?} for {currency}: {why}"))
        };
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (text, None),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(
                "expected digits with an optional '.' and fraction digits",
            ));
        }
        let frac = match frac {
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(bad("expected digits after '.'"));
            }
            Some(f) => f,
            None => "",
        };
        let e = usize::from(currency.exponent());
        if frac.len() > e {
            return Err(bad(&format!("{currency} has {e} fraction digits")));
        }
        let mut minor: i64 = 0;
        let padding = std::iter::repeat_n(b'0', e - frac.len());
        for digit in int.bytes().chain(frac.bytes()).chain(padding) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(|| bad("too large"))?;
        }
        Ok(Money { minor, currency })
    }

    /// Builds an amount from a decimal value.
    ///
    /// Trailing zeros do not count as fraction digits (`10.500` is fine for USD), because decimal
    /// arithmetic produces them freely; non-zero digits beyond the currency's exponent do.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the value is negative, has more
    /// significant fraction digits than the currency, or overflows.
    pub fn from_decimal(value: Decimal, currency: Currency) -> Result<Money, Error> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(Error::invalid_input(format!(
                "amount must not be negative, got {value} {currency}"
            )));
        }
        let normalized = value.normalize();
        if normalized.scale() > u32::from(currency.exponent()) {
            return Err(Error::invalid_input(format!(
                "amount {value} has more fraction digits than {currency} allows ({})",
                currency.exponent()
            )));
        }
        Self::from_exact_decimal(normalized, currency)
            .ok_or_else(|| Error::invalid_input(format!("amount {value} {currency} is too large")))
    }

    /// Converts an amount a provider reported, rounding half-to-even to the currency's digits
    /// (contract §0.3: "round half-to-even to e digits").
    ///
    /// # Errors
    /// [`Decode`](crate::ErrorKind::Decode) when the value is negative or overflows. Providers that
    /// report refunds as negative numbers (Payabli) take the magnitude before calling this.
    pub fn from_provider_decimal(value: Decimal, currency: Currency) -> Result<Money, Error> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(Error::decode(format!(
                "provider reported a negative amount {value} {currency}"
            )));
        }
        let rounded = value.round_dp_with_strategy(
            u32::from(currency.exponent()),
            RoundingStrategy::MidpointNearestEven,
        );
        Self::from_exact_decimal(rounded, currency).ok_or_else(|| {
            Error::decode(format!(
                "provider reported an amount too large: {value} {currency}"
            ))
        })
    }

    fn from_exact_decimal(value: Decimal, currency: Currency) -> Option<Money> {
        let shift = currency
            .exponent()
            .checked_sub(u8::try_from(value.scale()).ok()?)?;
        let factor = 10_i128.checked_pow(u32::from(shift))?;
        let minor = value.mantissa().checked_mul(factor)?;
        let minor = i64::try_from(minor).ok().filter(|m| *m >= 0)?;
        Some(Money { minor, currency })
    }

    /// The amount in minor units.
    pub fn minor_units(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.minor == 0
    }

    /// The amount as a decimal with exactly the currency's number of fraction digits.
    pub fn to_decimal(&self) -> Decimal {
        // `from_i128_with_scale` cannot fail here: the scale is at most MAX_EXPONENT and the mantissa
        // fits in 63 bits, far below Decimal's 96.
        Decimal::from_i128_with_scale(i128::from(self.minor), u32::from(self.currency.exponent()))
    }

    /// The decimal text of §0.3: exactly the currency's digits, `.` separator, no sign or
    /// exponent: `10.50` (USD), `1000` (JPY), `0.050` (KWD).
    pub fn decimal_text(&self) -> String {
        self.to_decimal().to_string()
    }

    /// The amount as an exact JSON number literal with the currency's digits (`10.50`).
    pub fn to_json_number(&self) -> JsonDecimal {
        JsonDecimal::new(self.to_decimal())
    }

    /// Adds two amounts of the same currency.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the currencies differ or the sum overflows.
    pub fn checked_add(&self, other: Money) -> Result<Money, Error> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or_else(|| Error::invalid_input("amount overflow"))?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    /// Subtracts `other`; `None` when the result would be negative.
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the currencies differ.
    pub fn checked_sub(&self, other: Money) -> Result<Option<Money>, Error> {
        self.same_currency(other)?;
        Ok(self
            .minor
            .checked_sub(other.minor)
            .filter(|m| *m >= 0)
            .map(|minor| Money {
                minor,
                currency: self.currency,
            }))
    }

    fn same_currency(&self, other: Money) -> Result<(), Error> {
        if self.currency != other.currency {
            return Err(Error::invalid_input(format!(
                "currency mismatch: {} and {}",
                self.currency, other.currency
            )));
        }
        Ok(())
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal(), self.currency)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({} {})", self.to_decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn cur(code: &str) -> Currency {
        Currency::from_code(code).unwrap()
    }

    #[test]
    fn decimal_text_has_exactly_the_currency_digits() {
        for (minor, code, text) in [
            (1050, "USD", "10.50"),
            (5, "USD", "0.05"),
            (0, "USD", "0.00"),
            (1000, "JPY", "1000"),
            (50, "KWD", "0.050"),
            (123456, "CLF", "12.3456"),
        ] {
            let m = Money::from_minor(minor, cur(code)).unwrap();
            assert_eq!(m.decimal_text(), text);
            assert_eq!(serde_json::to_string(&m.to_json_number()).unwrap(), text);
            assert_eq!(Money::parse(text, cur(code)).unwrap(), m);
        }
    }

    #[test]
    fn parse_accepts_fewer_digits_than_the_currency() {
        assert_eq!(
            Money::parse("10.5", Currency::USD).unwrap().minor_units(),
            1050
        );
        assert_eq!(
            Money::parse("10", Currency::USD).unwrap().minor_units(),
            1000
        );
        assert_eq!(
            Money::parse("1.5", Currency::KWD).unwrap().minor_units(),
            1500
        );
    }

    /// At least 20 bad inputs, each refused with InvalidInput.
    #[test]
    fn bad_inputs_are_invalid_input() {
        let usd = Currency::USD;
        let cases: &[(&str, &str)] = &[
            ("-1.00", "USD"),
            ("-0.01", "USD"),
            ("10.001", "USD"),
            ("10.5", "JPY"),
            ("1.0001", "KWD"),
            ("", "USD"),
            (" ", "USD"),
            (" 10.00", "USD"),
            ("10.00 ", "USD"),
            ("1e3", "USD"),
            ("1E3", "USD"),
            ("1.5e2", "USD"),
            ("NaN", "USD"),
            ("inf", "USD"),
            ("+10", "USD"),
            ("1,000.00", "USD"),
            ("10.", "USD"),
            (".5", "USD"),
            (".", "USD"),
            ("0x10", "USD"),
            ("10..5", "USD"),
            ("١٠", "USD"),
            ("99999999999999999999", "USD"),
            ("92233720368547758.08", "USD"),
        ];
        for (text, code) in cases {
            let err = Money::parse(text, cur(code)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{text:?} {code}");
        }
        // Unknown currency, negative minor units, too-precise and negative decimals.
        assert_eq!(
            Currency::from_code("ZZZ").unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            Money::from_minor(-1, usd).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(
            Money::from_decimal(d("10.001"), usd).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            Money::from_decimal(d("-3"), usd).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            Money::from_decimal(Decimal::MAX, usd).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            Money::from_decimal(d("10.5"), Currency::JPY)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn from_decimal_ignores_trailing_zeros() {
        let d = Decimal::from_str("10.500").unwrap();
        assert_eq!(
            Money::from_decimal(d, Currency::USD).unwrap().minor_units(),
            1050
        );
        let d = Decimal::from_str("1000.00").unwrap();
        assert_eq!(
            Money::from_decimal(d, Currency::JPY).unwrap().minor_units(),
            1000
        );
    }

    #[test]
    fn provider_amounts_round_half_to_even() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(
            Money::from_provider_decimal(d("10.505"), Currency::USD)
                .unwrap()
                .minor_units(),
            1050
        );
        assert_eq!(
            Money::from_provider_decimal(d("10.515"), Currency::USD)
                .unwrap()
                .minor_units(),
            1052
        );
        assert_eq!(
            Money::from_provider_decimal(d("10.5"), Currency::JPY)
                .unwrap()
                .minor_units(),
            10
        );
        assert_eq!(
            Money::from_provider_decimal(d("11.5"), Currency::JPY)
                .unwrap()
                .minor_units(),
            12
        );
        assert_eq!(
            Money::from_provider_decimal(d("-1"), Currency::JPY)
                .unwrap_err()
                .kind(),
            ErrorKind::Decode
        );
    }

    #[test]
    fn arithmetic_is_checked() {
        let a = Money::from_minor(100, Currency::USD).unwrap();
        let b = Money::from_minor(30, Currency::USD).unwrap();
        assert_eq!(a.checked_sub(b).unwrap().unwrap().minor_units(), 70);
        assert_eq!(b.checked_sub(a).unwrap(), None);
        assert_eq!(a.checked_add(b).unwrap().minor_units(), 130);
        let y = Money::from_minor(1, Currency::JPY).unwrap();
        assert_eq!(
            a.checked_add(y).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let max = Money::from_minor(i64::MAX, Currency::USD).unwrap();
        assert!(max.checked_add(a).is_err());
    }

    fn any_currency() -> impl Strategy<Value = Currency> {
        prop_oneof![
            Just(Currency::JPY),
            Just(Currency::USD),
            Just(Currency::KWD),
            Just(Currency::CLF)
        ]
    }

    proptest! {
        #[test]
        fn round_trips(minor in 0_i64..=1_000_000_000_000_000, currency in any_currency()) {
            let m = Money::from_minor(minor, currency).unwrap();
            let text = m.decimal_text();
            // Decimal text equals the JSON number text, byte for byte.
            prop_assert_eq!(serde_json::to_string(&m.to_json_number()).unwrap(), text.clone());
            // Exactly `e` fraction digits, and a leading digit before the point.
            let e = usize::from(currency.exponent());
            match text.split_once('.') {
                Some((i, f)) => { prop_assert!(!i.is_empty()); prop_assert_eq!(f.len(), e); }
                None => prop_assert_eq!(e, 0),
            }
            prop_assert_eq!(Money::parse(&text, currency).unwrap(), m);
            prop_assert_eq!(Money::from_decimal(m.to_decimal(), currency).unwrap(), m);
            prop_assert_eq!(Money::from_provider_decimal(m.to_decimal(), currency).unwrap(), m);
            // The JSON number parses back exactly.
            let back: JsonDecimal = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(Money::from_decimal(back.value(), currency).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,24}", currency in any_currency()) {
            let _ = Money::parse(&text, currency);
        }
    }
}
