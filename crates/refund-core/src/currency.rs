//! ISO 4217 currencies with their minor-unit exponent.
//!
//! The ISO data comes from the maintained `iso_currency` crate; we never hand-type the ISO table.
//! [`EXTRA_CODES`] adds the few codes that a provider accepts and ISO does not list (contract §0.3,
//! PayNext's currency list).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Codes a provider accepts that the ISO data does not carry, with their minor-unit digits.
///
/// - `IMP` (Manx pound) and `JEP` (Jersey pound) are not ISO 4217 codes but PayNext lists them; both
///   are sub-units of the pound sterling with 2 digits.
/// - `STD` (São Tomé dobra before 2018) was withdrawn from ISO 4217 in favour of `STN`, so the ISO
///   data no longer carries it; PayNext still lists it. Its ISO exponent was 2.
pub const EXTRA_CODES: &[(&str, u8)] = &[("IMP", 2), ("JEP", 2), ("STD", 2)];

/// A currency: an upper-case three-letter code and its number of minor-unit digits.
///
/// Only currencies with a defined minor unit can be built: precious metals and testing codes
/// (`XAU`, `XTS`, …) have none, so no amount in them can be converted exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    /// US dollar (2 digits).
    pub const USD: Currency = Currency::known(*b"USD", 2);
    /// Euro (2 digits).
    pub const EUR: Currency = Currency::known(*b"EUR", 2);
    /// Japanese yen (0 digits).
    pub const JPY: Currency = Currency::known(*b"JPY", 0);
    /// Kuwaiti dinar (3 digits).
    pub const KWD: Currency = Currency::known(*b"KWD", 3);
    /// Kazakhstani tenge (2 digits).
    pub const KZT: Currency = Currency::known(*b"KZT", 2);
    /// Chilean unidad de fomento (4 digits).
    pub const CLF: Currency = Currency::known(*b"CLF", 4);

    const fn known(code: [u8; 3], exponent: u8) -> Currency {
        Currency { code, exponent }
    }

    /// Looks up a currency by its alphabetic code.
    ///
    /// The code must be exactly three upper-case ASCII letters, as ISO 4217 writes it: `usd` is
    /// refused rather than guessed, because a provider would refuse it too.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when the code is not a known
    /// currency or has no minor unit.
    pub fn from_code(code: &str) -> Result<Currency, Error> {
        let bytes: [u8; 3] = code
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 3]| b.iter().all(u8::is_ascii_uppercase))
            .ok_or_else(|| Error::invalid_input(format!("unknown currency code {code:?}")))?;
        let exponent = match iso_currency::Currency::from_code(code) {
            Some(iso) => iso.exponent(),
            None => EXTRA_CODES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, e)| u16::from(*e)),
        };
        let exponent = exponent
            .ok_or_else(|| {
                Error::invalid_input(format!("currency {code} is unknown or has no minor unit"))
            })
            .and_then(|e| {
                u8::try_from(e)
                    .ok()
                    .filter(|e| *e <= crate::money::MAX_EXPONENT)
                    .ok_or_else(|| {
                        Error::invalid_input(format!("currency {code} has too many minor digits"))
                    })
            })?;
        Ok(Currency {
            code: bytes,
            exponent,
        })
    }

    /// The alphabetic code, for example `"USD"`.
    pub fn code(&self) -> &str {
        // The bytes were checked to be ASCII upper-case letters on construction.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// The number of minor-unit digits: 2 for USD, 0 for JPY, 3 for KWD, 4 for CLF.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl FromStr for Currency {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(e={})", self.code(), self.exponent)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::from_code(&code).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of PayNext's `currency_code` list (vendor-docs/paynext-refund-a-payment.txt).
    const PAYNEXT_CODES: &str = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS IMP INR IQD IRR ISK JEP JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STD STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS BOV COU CHE CHW MXV UGX VES VND VUV XAF XCD XCG XOF XPF YER USD";

    #[test]
    fn every_paynext_code_is_known() {
        let codes: Vec<&str> = PAYNEXT_CODES.split(' ').collect();
        assert_eq!(codes.len(), 157);
        for code in codes {
            let c = Currency::from_code(code).unwrap_or_else(|e| panic!("{code}: {e}"));
            assert_eq!(c.code(), code);
        }
    }

    #[test]
    fn exponents_match_iso() {
        for (code, e) in [
            ("USD", 2),
            ("EUR", 2),
            ("KZT", 2),
            ("JPY", 0),
            ("KRW", 0),
            ("BHD", 3),
            ("KWD", 3),
            ("OMR", 3),
            ("JOD", 3),
            ("TND", 3),
            ("CLF", 4),
            ("IMP", 2),
            ("JEP", 2),
            ("STD", 2),
        ] {
            assert_eq!(Currency::from_code(code).unwrap().exponent(), e, "{code}");
        }
        assert_eq!(Currency::USD, Currency::from_code("USD").unwrap());
        assert_eq!(Currency::CLF, Currency::from_code("CLF").unwrap());
    }

    #[test]
    fn refuses_bad_codes() {
        for code in [
            "", "usd", "US", "USDD", "XXX", "XAU", "ABC", " USD", "ÜSD", "U$D",
        ] {
            let err = Currency::from_code(code).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{code}");
        }
    }
}
