//! Fault injection: the failures that cause double refunds in real life, on demand.
//!
//! A [`Fault`] is queued on one emulator (Rust: `inject`; HTTP: `POST /_sandbox/faults`). Each
//! provider request that is routed to an operation takes the first queued fault that matches it
//! (payment and operation filters), which then fires on that request and counts one of its
//! `times`; a fault is gone when its count reaches zero. Admin requests and unknown routes never
//! take a fault.
//!
//! "Before applying" faults answer without processing the request: nothing is checked, recorded or
//! refunded (and Payabli does not record the `idempotencyKey`). "After applying" faults let the
//! request be processed completely (auth, validation, the refund applied when the request is
//! valid), then change or withhold the answer.

use std::time::Duration;

use refund_core::Error;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::record::Operation;

/// The largest oversized body the sandbox builds (64 MiB).
pub const MAX_OVERSIZED_BODY: usize = 64 * 1024 * 1024;

/// The default size of [`FaultKind::OversizedBody`] in the admin endpoint: 2 MiB.
pub const DEFAULT_OVERSIZED_BODY: usize = 2 * 1024 * 1024;

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Process the request (apply the refund), then wait this long before answering normally.
    /// With a client timeout shorter than the delay, the refund is applied but the client never
    /// sees the answer. Admin name `delay`, field `delay_ms`.
    Delay(Duration),
    /// Close the connection without an answer and without processing the request. Admin name
    /// `close_before_applying`.
    CloseBeforeApplying,
    /// Process the request (apply the refund), then close the connection without an answer.
    /// Admin name `close_after_applying`.
    CloseAfterApplying,
    /// Answer this 5xx status with the provider's server-error body, without processing the
    /// request. Admin name `server_error_before_applying`, field `status` (default 500).
    ServerErrorBeforeApplying(u16),
    /// Process the request (apply the refund), then answer this 5xx status with the provider's
    /// server-error body instead of the real answer. Admin name `server_error_after_applying`,
    /// field `status` (default 500).
    ServerErrorAfterApplying(u16),
    /// Answer 429 with the provider's body and `Retry-After: <whole seconds>`, without processing
    /// the request. Admin name `too_many_requests`, field `retry_after_secs` (default 1).
    TooManyRequests {
        /// The `Retry-After` delay, sent in whole seconds (rounded up).
        retry_after: Duration,
    },
    /// Process the request (apply the refund), then send the real status with only the first half
    /// of the real body (a complete HTTP message whose JSON is cut). Admin name
    /// `truncated_json_after_applying`.
    TruncatedJsonAfterApplying,
    /// Answer this status (4xx or 5xx) with an HTML error page, as a gateway in front of the
    /// provider would, without processing the request. Admin name `html_error_page`, field
    /// `status` (default 502).
    HtmlErrorPage(u16),
    /// Process the request (apply the refund), then send the real answer padded to at least this
    /// many bytes: JSON objects get a `"sandbox_padding"` string field, so the body stays valid
    /// JSON. Admin name `oversized_body`, field `bytes` (default 2 MiB, at most 64 MiB).
    OversizedBody(usize),
    /// Process the request (apply the refund), then answer normally except for one field that
    /// carries an enum value the contract does not list:
    /// - Plexy refund answer, when approved: `responseCode` `"Z9"` (`success` stays `true`);
    ///   Plexy transaction (P-L1, P-L2): `status` `"on_hold"`;
    /// - PayNext payment object (refund and N-L1): `payment_status` `"UNDER_REVIEW"`;
    /// - Payabli refund answer, when approved: `code` `"A0099"`; details record (Y-L1):
    ///   `Operation` `"Adjustment"`.
    ///
    /// Other answers are sent unchanged. Admin name `unknown_enum_value`.
    UnknownEnumValue,
}

/// When a fault acts relative to processing the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Before,
    After,
}

impl FaultKind {
    /// The admin endpoint's name of this kind (`"close_after_applying"`), also used in the
    /// request log.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Delay(_) => "delay",
            FaultKind::CloseBeforeApplying => "close_before_applying",
            FaultKind::CloseAfterApplying => "close_after_applying",
            FaultKind::ServerErrorBeforeApplying(_) => "server_error_before_applying",
            FaultKind::ServerErrorAfterApplying(_) => "server_error_after_applying",
            FaultKind::TooManyRequests { .. } => "too_many_requests",
            FaultKind::TruncatedJsonAfterApplying => "truncated_json_after_applying",
            FaultKind::HtmlErrorPage(_) => "html_error_page",
            FaultKind::OversizedBody(_) => "oversized_body",
            FaultKind::UnknownEnumValue => "unknown_enum_value",
        }
    }

    pub(crate) fn stage(&self) -> Stage {
        match self {
            FaultKind::CloseBeforeApplying
            | FaultKind::ServerErrorBeforeApplying(_)
            | FaultKind::TooManyRequests { .. }
            | FaultKind::HtmlErrorPage(_) => Stage::Before,
            FaultKind::Delay(_)
            | FaultKind::CloseAfterApplying
            | FaultKind::ServerErrorAfterApplying(_)
            | FaultKind::TruncatedJsonAfterApplying
            | FaultKind::OversizedBody(_)
            | FaultKind::UnknownEnumValue => Stage::After,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |why: String| Err(Error::invalid_input(why));
        match self {
            FaultKind::ServerErrorBeforeApplying(s) | FaultKind::ServerErrorAfterApplying(s)
                if !(500..=599).contains(s) =>
            {
                bad(format!("server error status must be 500..=599, got {s}"))
            }
            FaultKind::HtmlErrorPage(s) if !(400..=599).contains(s) => {
                bad(format!("html error page status must be 400..=599, got {s}"))
            }
            FaultKind::OversizedBody(n) if *n > MAX_OVERSIZED_BODY => bad(format!(
                "oversized body must be at most {MAX_OVERSIZED_BODY} bytes, got {n}"
            )),
            FaultKind::Delay(d) if *d > Duration::from_secs(600) => {
                bad("delay must be at most 600 s".to_owned())
            }
            FaultKind::TooManyRequests { retry_after }
                if *retry_after > Duration::from_secs(86_400) =>
            {
                bad("retry_after must be at most one day".to_owned())
            }
            _ => Ok(()),
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "kind": self.name() });
        if let Some(obj) = v.as_object_mut() {
            match self {
                FaultKind::Delay(d) => {
                    obj.insert("delay_ms".into(), json!(d.as_millis()));
                }
                FaultKind::ServerErrorBeforeApplying(s)
                | FaultKind::ServerErrorAfterApplying(s)
                | FaultKind::HtmlErrorPage(s) => {
                    obj.insert("status".into(), json!(s));
                }
                FaultKind::TooManyRequests { retry_after } => {
                    obj.insert(
                        "retry_after_secs".into(),
                        json!(retry_after_secs(*retry_after)),
                    );
                }
                FaultKind::OversizedBody(n) => {
                    obj.insert("bytes".into(), json!(n));
                }
                _ => {}
            }
        }
        v
    }
}

/// Whole seconds for `Retry-After`, rounded up.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A queued fault: what goes wrong, for which requests, how many times.
///
/// ```
/// use std::time::Duration;
/// use refund_sandbox::{Fault, FaultKind, Operation};
///
/// // The next refund of payment "plexy-usd-refundable" is applied, but the connection is
/// // closed before the answer.
/// let fault = Fault::new(FaultKind::CloseAfterApplying)
///     .for_payment("plexy-usd-refundable")
///     .only(Operation::Refund);
/// // The next three requests of any kind wait 2 s before answering.
/// let slow = Fault::new(FaultKind::Delay(Duration::from_secs(2))).times(3);
/// # let _ = (fault, slow);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    payment_id: Option<String>,
    operation: Option<Operation>,
    times: u32,
}

impl Fault {
    /// A fault of `kind` that fires once, on the next routed request of any payment and
    /// operation.
    #[must_use]
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            kind,
            payment_id: None,
            operation: None,
            times: 1,
        }
    }

    /// Fires only on requests that name this payment (its refund POST and its own lookup;
    /// Plexy's P-L2 names no payment). Default: any payment, and requests naming none.
    #[must_use]
    pub fn for_payment(mut self, payment_id: impl Into<String>) -> Self {
        self.payment_id = Some(payment_id.into());
        self
    }

    /// Fires only on this kind of operation. Default: refunds and lookups alike.
    #[must_use]
    pub fn only(mut self, operation: Operation) -> Self {
        self.operation = Some(operation);
        self
    }

    /// Fires on this many matching requests (the next N). Default 1; 0 is refused by `inject`.
    #[must_use]
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// What goes wrong.
    pub fn kind(&self) -> &FaultKind {
        &self.kind
    }

    /// The payment filter.
    pub fn payment_id(&self) -> Option<&str> {
        self.payment_id.as_deref()
    }

    /// The operation filter.
    pub fn operation(&self) -> Option<Operation> {
        self.operation
    }

    /// How many more times the fault fires.
    pub fn remaining(&self) -> u32 {
        self.times
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.times == 0 {
            return Err(Error::invalid_input("a fault must fire at least once"));
        }
        self.kind.validate()
    }

    pub(crate) fn matches(&self, operation: Operation, payment_id: Option<&str>) -> bool {
        self.operation.is_none_or(|o| o == operation)
            && self
                .payment_id
                .as_deref()
                .is_none_or(|p| Some(p) == payment_id)
    }

    /// Counts one firing; returns whether the fault is used up.
    pub(crate) fn fire(&mut self) -> bool {
        self.times = self.times.saturating_sub(1);
        self.times == 0
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut v = self.kind.to_json();
        if let Some(obj) = v.as_object_mut() {
            obj.insert("payment_id".into(), json!(self.payment_id));
            obj.insert(
                "operation".into(),
                json!(self.operation.map(|o| o.as_str())),
            );
            obj.insert("times".into(), json!(self.times));
        }
        v
    }

    /// Parses the admin endpoint's JSON.
    pub(crate) fn from_admin_json(body: &[u8]) -> Result<Fault, String> {
        let spec: FaultSpec = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let kind = match spec.kind.as_str() {
            "delay" => FaultKind::Delay(Duration::from_millis(
                spec.delay_ms.ok_or("delay needs delay_ms")?,
            )),
            "close_before_applying" => FaultKind::CloseBeforeApplying,
            "close_after_applying" => FaultKind::CloseAfterApplying,
            "server_error_before_applying" => {
                FaultKind::ServerErrorBeforeApplying(spec.status.unwrap_or(500))
            }
            "server_error_after_applying" => {
                FaultKind::ServerErrorAfterApplying(spec.status.unwrap_or(500))
            }
            "too_many_requests" => FaultKind::TooManyRequests {
                retry_after: Duration::from_secs(spec.retry_after_secs.unwrap_or(1)),
            },
            "truncated_json_after_applying" => FaultKind::TruncatedJsonAfterApplying,
            "html_error_page" => FaultKind::HtmlErrorPage(spec.status.unwrap_or(502)),
            "oversized_body" => {
                FaultKind::OversizedBody(spec.bytes.unwrap_or(DEFAULT_OVERSIZED_BODY))
            }
            "unknown_enum_value" => FaultKind::UnknownEnumValue,
            other => return Err(format!("unknown fault kind {other:?}")),
        };
        let operation = match spec.operation.as_deref() {
            None | Some("any") => None,
            Some("refund" | "refunds") => Some(Operation::Refund),
            Some("lookup" | "lookups") => Some(Operation::Lookup),
            Some(other) => return Err(format!("unknown operation {other:?}")),
        };
        let fault = Fault {
            kind,
            payment_id: spec.payment_id,
            operation,
            times: spec.times.unwrap_or(1),
        };
        fault.validate().map_err(|e| e.to_string())?;
        Ok(fault)
    }
}

/// The admin endpoint's fault JSON.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    kind: String,
    payment_id: Option<String>,
    operation: Option<String>,
    times: Option<u32>,
    delay_ms: Option<u64>,
    status: Option<u16>,
    retry_after_secs: Option<u64>,
    bytes: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_json_round_trip() {
        let f = Fault::from_admin_json(
            br#"{"kind":"delay","delay_ms":1500,"payment_id":"a/b","operation":"refund","times":2}"#,
        )
        .unwrap();
        assert_eq!(f.kind(), &FaultKind::Delay(Duration::from_millis(1500)));
        assert_eq!(f.payment_id(), Some("a/b"));
        assert_eq!(f.operation(), Some(Operation::Refund));
        assert_eq!(f.remaining(), 2);
        assert_eq!(
            f.to_json(),
            json!({"kind":"delay","delay_ms":1500,"payment_id":"a/b","operation":"refund","times":2})
        );
        let f = Fault::from_admin_json(br#"{"kind":"oversized_body"}"#).unwrap();
        assert_eq!(f.kind(), &FaultKind::OversizedBody(DEFAULT_OVERSIZED_BODY));
        for bad in [
            r#"{"kind":"nope"}"#,
            r#"{"kind":"delay"}"#,
            r#"{"kind":"html_error_page","status":200}"#,
            r#"{"kind":"server_error_after_applying","status":404}"#,
            r#"{"kind":"close_after_applying","times":0}"#,
            r#"{"kind":"close_after_applying","operation":"post"}"#,
            r#"{"kind":"close_after_applying","extra":1}"#,
        ] {
            assert!(Fault::from_admin_json(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn matching_and_firing() {
        let mut f = Fault::new(FaultKind::CloseAfterApplying)
            .for_payment("p1")
            .only(Operation::Refund)
            .times(2);
        assert!(f.matches(Operation::Refund, Some("p1")));
        assert!(!f.matches(Operation::Lookup, Some("p1")));
        assert!(!f.matches(Operation::Refund, Some("p2")));
        assert!(!f.matches(Operation::Refund, None));
        assert!(!f.fire());
        assert!(f.fire());
        let any = Fault::new(FaultKind::UnknownEnumValue);
        assert!(any.matches(Operation::Lookup, None));
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
