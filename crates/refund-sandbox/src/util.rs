//! Small helpers shared by the three emulators: timestamps, strict amount parsing, headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use refund_core::{Currency, Decimal, JsonDecimal, Money};

/// The instant seeded payments were created: 2025-12-01T09:50:03Z (a fixed value, so that
/// seeded answers are stable across runs).
pub(crate) fn seed_time(offset_secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_764_582_603 + offset_secs)
}

/// Broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millis: u128,
}

fn civil(t: SystemTime) -> Civil {
    // Times before 1970 cannot occur here (we only format `now` and fixed seed times).
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's `civil_from_days`, valid for every day after 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Civil {
        year,
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
        hour: rem / 3_600,
        minute: rem % 3_600 / 60,
        second: rem % 60,
        millis: since.as_millis() % 1_000,
    }
}

/// ISO 8601 UTC with seconds: `2025-12-15T07:41:24Z` (Plexy, PayNext).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// ISO 8601 UTC with milliseconds: `2025-12-01T09:50:02.558Z` (Payabli event times).
pub(crate) fn rfc3339_millis(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
    )
}

/// Payabli's `transactionTime`: milliseconds and no time zone, `2025-12-02T09:50:03.559` (§3.4).
pub(crate) fn payabli_time(t: SystemTime) -> String {
    let mut s = rfc3339_millis(t);
    s.pop();
    s
}

/// Payabli's webhook `transTime`: `MM/DD/YYYY HH:MM:SS`, UTC (§4.3 example `12/02/2025 09:50:03`).
pub(crate) fn payabli_event_time(t: SystemTime) -> String {
    let c = civil(t);
    format!(
        "{:02}/{:02}/{:04} {:02}:{:02}:{:02}",
        c.month, c.day, c.year, c.hour, c.minute, c.second
    )
}

/// Why a strictly checked amount was refused.
pub(crate) enum AmountProblem {
    /// Not a JSON number (or not decimal text).
    NotANumber,
    /// Zero or negative.
    NotPositive,
    /// More fraction digits than the currency has.
    TooPrecise,
    /// Does not fit.
    TooLarge,
}

impl AmountProblem {
    pub(crate) fn describe(&self, what: &str, currency: Currency) -> String {
        match self {
            AmountProblem::NotANumber => format!("{what} is not a decimal number"),
            AmountProblem::NotPositive => format!("{what} must be greater than zero"),
            AmountProblem::TooPrecise => format!(
                "{what} has more than {} fraction digits for {currency}",
                currency.exponent()
            ),
            AmountProblem::TooLarge => format!("{what} is too large"),
        }
    }
}

/// Reads a JSON number literal as a refund amount, exactly, the way a strict server would:
/// a number (not a string), greater than zero, with at most the currency's fraction digits
/// (`10.5` is accepted for USD, `10.505` and `10.500` are not: contract §0.3 writes exactly `e`
/// digits and receivers compare numerically).
pub(crate) fn json_amount(literal: &str, currency: Currency) -> Result<Money, AmountProblem> {
    let value = JsonDecimal::parse_literal(literal).ok_or(AmountProblem::NotANumber)?;
    positive_money(value, currency)
}

/// Reads decimal text (§0.3: digits, optionally `.` and at most `e` digits; no sign, exponent or
/// grouping) as a refund amount greater than zero.
pub(crate) fn text_amount(text: &str, currency: Currency) -> Result<Money, AmountProblem> {
    if !is_decimal_text(text) {
        return Err(AmountProblem::NotANumber);
    }
    let value = JsonDecimal::parse_literal(text).ok_or(AmountProblem::TooLarge)?;
    positive_money(value, currency)
}

/// Whether `text` has the shape of §0.3 decimal text: `digits` or `digits.digits`, with no
/// leading zero except the one before the point below 1 (`0.05`, never `007`).
pub(crate) fn is_decimal_text(text: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = match text.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (text, None),
    };
    digits(int) && (int == "0" || !int.starts_with('0')) && frac.is_none_or(digits)
}

fn positive_money(value: Decimal, currency: Currency) -> Result<Money, AmountProblem> {
    if value.is_sign_negative() || value.is_zero() {
        return Err(AmountProblem::NotPositive);
    }
    if value.scale() > u32::from(currency.exponent()) {
        return Err(AmountProblem::TooPrecise);
    }
    Money::from_decimal(value, currency).map_err(|_| AmountProblem::TooLarge)
}

/// Parses an integer literal of minor units: plain digits, no sign, fraction or exponent.
pub(crate) fn minor_units(literal: &str) -> Option<i64> {
    if literal.is_empty() || !literal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if literal.len() > 1 && literal.starts_with('0') {
        return None;
    }
    literal.parse().ok()
}

/// The single value of a header as text; `None` when it is missing, repeated or not visible
/// ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// Whether a `Content-Type` value is JSON (`application/json`, parameters allowed).
pub(crate) fn is_json_content_type(value: Option<&str>) -> bool {
    value
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The major-unit decimal of an amount, negated (Payabli reports refunds as negative numbers).
pub(crate) fn negative(amount: Money) -> JsonDecimal {
    JsonDecimal::new(-amount.to_decimal())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(seed_time(0)), "2025-12-01T09:50:03Z");
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_559); // 2000-02-29
        assert_eq!(rfc3339_millis(t), "2000-02-29T00:00:00.559Z");
        assert_eq!(payabli_time(t), "2000-02-29T00:00:00.559");
        assert_eq!(payabli_event_time(t), "02/29/2000 00:00:00");
        // 2024-12-31T23:59:59Z, the last second of a leap year.
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(rfc3339(t), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn strict_amounts() {
        let usd = Currency::USD;
        assert_eq!(
            json_amount("10.50", usd).ok().map(|m| m.minor_units()),
            Some(1050)
        );
        assert_eq!(
            json_amount("10.5", usd).ok().map(|m| m.minor_units()),
            Some(1050)
        );
        assert_eq!(
            json_amount("1050e-2", usd).ok().map(|m| m.minor_units()),
            Some(1050)
        );
        assert!(matches!(
            json_amount("10.505", usd),
            Err(AmountProblem::TooPrecise)
        ));
        assert!(matches!(
            json_amount("10.500", usd),
            Err(AmountProblem::TooPrecise)
        ));
        assert!(matches!(
            json_amount("0", usd),
            Err(AmountProblem::NotPositive)
        ));
        assert!(matches!(
            json_amount("-1", usd),
            Err(AmountProblem::NotPositive)
        ));
        assert!(matches!(
            json_amount("\"1\"", usd),
            Err(AmountProblem::NotANumber)
        ));
        assert!(matches!(
            json_amount("null", usd),
            Err(AmountProblem::NotANumber)
        ));
        assert!(matches!(
            json_amount("1.5", Currency::JPY),
            Err(AmountProblem::TooPrecise)
        ));
        assert_eq!(
            text_amount("1.500", Currency::KWD)
                .ok()
                .map(|m| m.minor_units()),
            Some(1500)
        );
        assert!(matches!(
            text_amount("1e2", usd),
            Err(AmountProblem::NotANumber)
        ));
        assert!(matches!(
            text_amount("+1", usd),
            Err(AmountProblem::NotANumber)
        ));
        assert!(matches!(
            text_amount("1.", usd),
            Err(AmountProblem::NotANumber)
        ));
        assert!(matches!(
            text_amount("0.00", usd),
            Err(AmountProblem::NotPositive)
        ));
        for bad in ["01.00", "00.05", "007"] {
            assert!(
                matches!(text_amount(bad, usd), Err(AmountProblem::NotANumber)),
                "{bad}"
            );
        }
        assert_eq!(
            text_amount("0.05", usd).ok().map(|m| m.minor_units()),
            Some(5)
        );
        assert_eq!(minor_units("1050"), Some(1050));
        assert_eq!(minor_units("0"), Some(0));
        for bad in ["", "01", "1.0", "1e3", "-1", "\"1\"", "null"] {
            assert_eq!(minor_units(bad), None, "{bad}");
        }
    }
}
