//! Plexy's JSON, exactly as the wire contract §1 describes it; private to this crate.
//!
//! `generated.rs` is written by `cargo xtask codegen` from `specs/plexy.yaml` (never edit it by
//! hand). This file holds the small hand-written types that the spec names with `x-rust-type`.
//! Decode with `serde_json::from_slice`/`from_str`: amounts are exact `JsonDecimal`s read through
//! `RawValue`, which needs the `serde_json` deserializer itself (not a `serde_json::Value`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[rustfmt::skip] // printed by prettyplease; `cargo xtask codegen --check` keeps it byte-exact
mod generated;
pub(crate) use generated::*;

/// A Plexy id: an opaque string (§0.1) that may arrive wrapped as `{"Value":"…"}` (CONFIRMED
/// webhook quirk, OBSERVED in the Pay API; §1.4, §4.1). Always written as a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FlexId(String);

impl FlexId {
    /// Wraps an id (the client only reads ids, so only tests build one).
    #[cfg(test)]
    pub(crate) fn new(id: impl Into<String>) -> Self {
        FlexId(id.into())
    }

    /// The id, whichever form it arrived in.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl Serialize for FlexId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FlexId {
    /// A plain string, or an object whose `Value` (or `value`) member is a string; other
    /// members are ignored. A visitor rather than an untagged enum: ids are in every answer,
    /// and an untagged enum buffers each one before trying its forms.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(FlexIdVisitor)
            .map_err(|_: D::Error| serde::de::Error::custom(FLEX_ID_EXPECTED))
    }
}

const FLEX_ID_EXPECTED: &str = "expected an id string or {\"Value\": string}";

struct FlexIdVisitor;

impl<'de> serde::de::Visitor<'de> for FlexIdVisitor {
    type Value = FlexId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FLEX_ID_EXPECTED)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<FlexId, E> {
        Ok(FlexId(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<FlexId, E> {
        Ok(FlexId(v))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FlexId, A::Error> {
        let mut value: Option<String> = None;
        while let Some(key) = map.next_key::<WrappedKey>()? {
            match key {
                WrappedKey::Value if value.is_some() => {
                    return Err(serde::de::Error::duplicate_field("Value"));
                }
                WrappedKey::Value => value = Some(map.next_value()?),
                WrappedKey::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        value
            .map(FlexId)
            .ok_or_else(|| serde::de::Error::missing_field("Value"))
    }
}

/// A member name of a wrapped id: `Value`/`value`, or anything else.
enum WrappedKey {
    Value,
    Other,
}

impl<'de> Deserialize<'de> for WrappedKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl serde::de::Visitor<'_> for KeyVisitor {
            type Value = WrappedKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WrappedKey, E> {
                Ok(if v == "Value" || v == "value" {
                    WrappedKey::Value
                } else {
                    WrappedKey::Other
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// Plexy's error `code`: an integer on the API Errors page, a numeric string (`"1"`) on
/// test-docs.plexypay.com (§1.4, §5.3). Both are accepted and written back as they came.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum IntOrString {
    /// `"code": 4`
    Int(i64),
    /// `"code": "4"` (or any other string, kept as is)
    String(String),
}

impl IntOrString {
    /// Whether this is exactly the code `n`: the integer `n`, or the string of its decimal
    /// digits (no sign, leading zero or white space: `"4"`, not `"04"` or `" 4"`).
    pub(crate) fn is(&self, n: i64) -> bool {
        match self {
            IntOrString::Int(code) => *code == n,
            IntOrString::String(code) => *code == n.to_string(),
        }
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(n) => write!(f, "{n}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

/// Every fixture of contract §1.7, plus the OBSERVED variants of §1.4 and the tolerance rules
/// of §0.6.
#[cfg(test)]
mod tests {
    use refund_core::{Decimal, JsonDecimal};

    use super::*;

    const ORIGINAL: &str = "1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae";

    fn dec(text: &str) -> Option<JsonDecimal> {
        Some(JsonDecimal::new(text.parse::<Decimal>().unwrap()))
    }

    #[test]
    fn full_refund_body_is_the_fixture() {
        let body = RefundRequest::Full(FullRefundRequest {
            order_reference: "rf-7f3c2a".into(),
            description: None,
        });
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"orderReference":"rf-7f3c2a"}"#
        );
    }

    #[test]
    fn partial_refund_body_is_the_fixture() {
        let body = RefundRequest::Partial(PartialRefundRequest {
            amount: JsonDecimal::new("10.50".parse().unwrap()),
            minor_amount: 1050,
            order_reference: "rf-7f3c2b".into(),
            description: None,
        });
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b"}"#
        );
    }

    #[test]
    fn description_goes_last_and_only_when_given() {
        let body = FullRefundRequest {
            order_reference: "rf-1".into(),
            description: Some("customer request".into()),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"orderReference":"rf-1","description":"customer request"}"#
        );
    }

    #[test]
    fn request_bodies_decode_into_the_right_shape() {
        let partial: RefundRequest = serde_json::from_str(
            r#"{"amount":10.50,"minorAmount":1050,"orderReference":"rf-7f3c2b"}"#,
        )
        .unwrap();
        let RefundRequest::Partial(p) = partial else {
            panic!("expected Partial, got {partial:?}");
        };
        assert_eq!(p.amount.value().to_string(), "10.50");
        let full: RefundRequest =
            serde_json::from_str(r#"{"orderReference":"rf-7f3c2a"}"#).unwrap();
        assert!(matches!(full, RefundRequest::Full(_)), "{full:?}");
    }

    #[test]
    fn succeeded_response() {
        let r: RefundResponse = serde_json::from_str(
            r#"{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","responseCode":"00","networkTransactionReference":"927462819374","authCode":"A64192","amount":10.50,"orderReference":"rf-7f3c2b","remainingBalance":189.50,"success":true,"message":"approved","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#,
        )
        .unwrap();
        assert_eq!(
            r.id,
            Some(FlexId::new("3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2"))
        );
        assert_eq!(r.response_code, Some(ResponseCode::Approved));
        assert_eq!(
            r.network_transaction_reference.as_deref(),
            Some("927462819374")
        );
        assert_eq!(r.auth_code.as_deref(), Some("A64192"));
        assert_eq!(r.amount, dec("10.50"));
        assert_eq!(
            r.amount.unwrap().value().to_string(),
            "10.50",
            "scale is kept"
        );
        assert_eq!(r.order_reference.as_deref(), Some("rf-7f3c2b"));
        assert_eq!(r.remaining_balance, dec("189.50"));
        assert_eq!(r.success, Some(true));
        assert_eq!(r.message.as_deref(), Some("approved"));
        assert_eq!(r.original_transaction_id, Some(FlexId::new(ORIGINAL)));
    }

    #[test]
    fn declined_response() {
        let r: RefundResponse = serde_json::from_str(
            r#"{"id":"9a1d7c44-2b6e-4f0a-8d3c-5e7f9b1a2c3d","responseCode":"05","amount":10.50,"orderReference":"rf-7f3c2b","remainingBalance":200.00,"success":false,"message":"Authorization declined","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#,
        )
        .unwrap();
        assert_eq!(r.response_code, Some(ResponseCode::DoNotHonour));
        assert_eq!(r.success, Some(false));
        assert_eq!(r.remaining_balance.unwrap().value().to_string(), "200.00");
        assert_eq!(r.message.as_deref(), Some("Authorization declined"));
        assert_eq!(r.auth_code, None);
    }

    #[test]
    fn pending_response() {
        let r: RefundResponse = serde_json::from_str(
            r#"{"id":"b7e2f1a0-6c5d-4e3b-9a8f-0d1c2b3a4e5f","responseCode":"09","amount":10.50,"orderReference":"rf-7f3c2b","success":false,"message":"wait","originalTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae"}"#,
        )
        .unwrap();
        assert_eq!(r.response_code, Some(ResponseCode::Wait));
        assert_eq!(r.remaining_balance, None);
    }

    #[test]
    fn response_codes_of_the_table_and_unlisted_ones() {
        for (raw, code) in [
            ("13", ResponseCode::InvalidAmount),
            ("51", ResponseCode::InsufficientFunds),
            ("64", ResponseCode::AmountExceedsOriginal),
            ("80", ResponseCode::AmountNoLongerAvailable),
            ("1A", ResponseCode::ScaRequired),
            ("99", ResponseCode::GeneralDecline),
            ("Z9", ResponseCode::Other("Z9".into())),
            ("1a", ResponseCode::Other("1a".into())),
        ] {
            let json = format!("\"{raw}\"");
            let decoded: ResponseCode = serde_json::from_str(&json).unwrap();
            assert_eq!(decoded, code, "{raw}");
            assert_eq!(decoded.as_str(), raw);
            assert_eq!(serde_json::to_string(&decoded).unwrap(), json, "round trip");
        }
    }

    #[test]
    fn error_bodies() {
        let e: ErrorBody = serde_json::from_str(
            r#"{"code":5,"message":"Unprocessable Entity","source":"refund","type":"validationError"}"#,
        )
        .unwrap();
        assert_eq!(e.code, Some(IntOrString::Int(5)));
        assert_eq!(e.source.as_deref(), Some("refund"));
        assert_eq!(e.type_, Some(ErrorType::ValidationError));

        let e: ErrorBody =
            serde_json::from_str(r#"{"message":"unauthorized","type":"apiError"}"#).unwrap();
        assert_eq!(e.code, None);
        assert_eq!(e.message.as_deref(), Some("unauthorized"));
        assert_eq!(e.type_, Some(ErrorType::ApiError));

        let e: ErrorBody = serde_json::from_str(
            r#"{"code":4,"message":"Not Found","source":"transactions","type":"apiError"}"#,
        )
        .unwrap();
        assert!(e.code.as_ref().is_some_and(|c| c.is(4)));

        let e: ErrorBody = serde_json::from_str(
            r#"{"code":2,"message":"Something Went Wrong","source":"payments","type":"apiError"}"#,
        )
        .unwrap();
        assert_eq!(e.code, Some(IntOrString::Int(2)));

        let e: ErrorBody = serde_json::from_str(
            r#"{"message":"failed to handle command: something went wrong, transaction can not be refunded: already refunded"}"#,
        )
        .unwrap();
        assert!(e.message.unwrap().ends_with("already refunded"));
        assert_eq!(e.code, None);
    }

    #[test]
    fn error_code_as_a_numeric_string() {
        let e: ErrorBody =
            serde_json::from_str(r#"{"code":"1","message":"service unavailable"}"#).unwrap();
        assert_eq!(e.code, Some(IntOrString::String("1".into())));
        assert!(e.code.as_ref().is_some_and(|c| c.is(1)));
        assert!(!IntOrString::String("01".into()).is(1));
        assert_eq!(e.code.unwrap().to_string(), "1");
        let e: ErrorBody = serde_json::from_str(r#"{"type":"somethingNew"}"#).unwrap();
        assert_eq!(e.type_, Some(ErrorType::Other("somethingNew".into())));
    }

    #[test]
    fn lookup_of_the_original() {
        let t: Transaction = serde_json::from_str(
            r#"{"id":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","type":"payment","status":"refunded","amount":200.00,"currency":"KZT","orderReference":"ORDER-784512","parentTransactionId":null,"remainingBalance":189.50,"responseCode":"00","message":"approved","createdAt":"2025-12-15T07:30:00Z","updatedAt":"2025-12-15T07:41:24Z"}"#,
        )
        .unwrap();
        assert_eq!(t.id, Some(FlexId::new(ORIGINAL)));
        assert_eq!(t.type_, Some(TransactionType::Payment));
        assert_eq!(t.status, Some(TransactionStatus::Refunded));
        assert_eq!(t.amount.unwrap().value().to_string(), "200.00");
        assert_eq!(t.currency.as_deref(), Some("KZT"));
        assert_eq!(t.order_reference.as_deref(), Some("ORDER-784512"));
        assert_eq!(t.parent_transaction_id, None, "null means not provided");
        assert_eq!(t.remaining_balance, dec("189.50"));
        assert_eq!(t.created_at.as_deref(), Some("2025-12-15T07:30:00Z"));
        assert_eq!(t.updated_at.as_deref(), Some("2025-12-15T07:41:24Z"));
    }

    const REFUND_TRANSACTION: &str = r#"{"id":"3f8c2c5e-5f0b-4fc3-a1c4-7edfe91c5ab2","type":"refund","status":"refunded","amount":10.50,"currency":"KZT","orderReference":"rf-7f3c2b","parentTransactionId":"1c4b2ce1-bd0b-4a48-94fb-d6b81c36fcae","responseCode":"00","message":"approved","createdAt":"2025-12-15T07:41:24Z","updatedAt":"2025-12-15T07:41:24Z"}"#;

    #[test]
    fn lookup_of_the_refund_by_reference() {
        let lookup: TransactionLookup = serde_json::from_str(REFUND_TRANSACTION).unwrap();
        let TransactionLookup::Single(t) = lookup else {
            panic!("expected a single transaction, got {lookup:?}");
        };
        assert_eq!(t.type_, Some(TransactionType::Refund));
        assert_eq!(t.parent_transaction_id, Some(FlexId::new(ORIGINAL)));
        assert_eq!(t.order_reference.as_deref(), Some("rf-7f3c2b"));
        assert_eq!(t.amount, dec("10.50"));
        assert_eq!(t.response_code, Some(ResponseCode::Approved));
    }

    #[test]
    fn lookup_as_a_list_or_wrapped_list() {
        let array = format!("[{REFUND_TRANSACTION}]");
        let lookup: TransactionLookup = serde_json::from_str(&array).unwrap();
        let TransactionLookup::Array(items) = lookup else {
            panic!("expected an array, got {lookup:?}");
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].amount.unwrap().value().to_string(), "10.50");

        let wrapped = format!(r#"{{"data":[{REFUND_TRANSACTION}],"total":1}}"#);
        let lookup: TransactionLookup = serde_json::from_str(&wrapped).unwrap();
        let TransactionLookup::List(list) = lookup else {
            panic!("expected a wrapped list, got {lookup:?}");
        };
        assert_eq!(
            list.data[0].parent_transaction_id,
            Some(FlexId::new(ORIGINAL))
        );

        assert!(serde_json::from_str::<TransactionLookup>("42").is_err());
    }

    #[test]
    fn observed_variants_are_accepted() {
        let t: Transaction = serde_json::from_str(
            r#"{"transactionId":{"Value":"3f8c"},"type":"refund","status":"TRANSACTION_STATUS_CHARGED","merchantReference":"rf-7f3c2b","originalTransactionId":{"Value":"1c4b"},"amount":10.50}"#,
        )
        .unwrap();
        assert_eq!(t.id, Some(FlexId::new("3f8c")));
        assert_eq!(t.order_reference.as_deref(), Some("rf-7f3c2b"));
        assert_eq!(t.parent_transaction_id, Some(FlexId::new("1c4b")));
        assert_eq!(
            t.status,
            Some(TransactionStatus::Other(
                "TRANSACTION_STATUS_CHARGED".into()
            )),
            "the client normalizes the prefix"
        );
        let t: Transaction =
            serde_json::from_str(r#"{"parentTransactionId":{"Value":"1c4b"}}"#).unwrap();
        assert_eq!(
            t.parent_transaction_id.map(FlexId::into_string).as_deref(),
            Some("1c4b")
        );
    }

    #[test]
    fn two_spellings_of_one_field_do_not_fail_the_body() {
        // The last non-null value wins; `null` counts as absent.
        let t: Transaction = serde_json::from_str(
            r#"{"id":"a","transactionId":"b","orderReference":"rf-1","merchantReference":null}"#,
        )
        .unwrap();
        assert_eq!(t.id, Some(FlexId::new("b")));
        assert_eq!(t.order_reference.as_deref(), Some("rf-1"));
    }

    #[test]
    fn a_missing_required_field_is_an_error() {
        let err = serde_json::from_str::<PartialRefundRequest>(
            r#"{"amount":1.00,"orderReference":"rf-1"}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("missing field `minorAmount`"),
            "{err}"
        );
        let err =
            serde_json::from_str::<FullRefundRequest>(r#"{"orderReference":null}"#).unwrap_err();
        assert!(err.to_string().contains("orderReference"), "{err}");
    }

    #[test]
    fn flex_id_is_written_plain_and_refuses_other_shapes() {
        assert_eq!(serde_json::to_string(&FlexId::new("a")).unwrap(), r#""a""#);
        let id: FlexId = serde_json::from_str(r#"{"value":"x"}"#).unwrap();
        assert_eq!(id.as_str(), "x");
        assert!(serde_json::from_str::<FlexId>("12").is_err());
        assert!(serde_json::from_str::<FlexId>(r#"{"Id":"x"}"#).is_err());

        let id: FlexId = serde_json::from_str(r#"{"Kind":1,"Value":"w","x":[{}]}"#).unwrap();
        assert_eq!(id.as_str(), "w");
        let escaped: FlexId = serde_json::from_str(r#""a\"b\u00e9""#).unwrap();
        assert_eq!(escaped.as_str(), "a\"b\u{e9}");
        for bad in [
            r#"{"Value":"a","value":"b"}"#,
            r#"{"Value":5}"#,
            r#"{"Value":null}"#,
            "null",
            "[]",
            "true",
        ] {
            let err = serde_json::from_str::<FlexId>(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(r#"expected an id string or {"Value": string}"#),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unknown_values_extra_fields_and_missing_fields() {
        let t: Transaction = serde_json::from_str(
            r#"{"type":"chargeback","status":"disputed","extra":{"nested":[1,2]},"amount":1e2}"#,
        )
        .unwrap();
        assert_eq!(t.type_, Some(TransactionType::Other("chargeback".into())));
        assert_eq!(
            t.status.as_ref().map(TransactionStatus::as_str),
            Some("disputed")
        );
        assert_eq!(t.amount.unwrap().value(), Decimal::from(100));
        let out = serde_json::to_string(&t).unwrap();
        assert_eq!(
            out,
            r#"{"type":"chargeback","status":"disputed","amount":100}"#
        );

        let empty: RefundResponse = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, RefundResponse::default());
        let nulls: RefundResponse =
            serde_json::from_str(r#"{"id":null,"success":null,"amount":null}"#).unwrap();
        assert_eq!(nulls, RefundResponse::default());
    }

    #[test]
    fn wrong_types_fail_to_decode_without_panicking() {
        for body in [
            r#"{"amount":"ten"}"#,
            r#"{"success":"yes"}"#,
            r#"{"responseCode":0}"#,
            "[]",
            "<html>",
            r#"{"amount":10.50"#,
        ] {
            assert!(
                serde_json::from_str::<RefundResponse>(body).is_err(),
                "{body}"
            );
        }
    }
}
