//! PayNext's JSON, exactly as the wire contract §2 describes it; private to this crate.
//!
//! `generated.rs` is written by `cargo xtask codegen` from `specs/paynext.yaml` (never edit it
//! by hand). PayNext amounts are integers in minor units, so no hand-written helper types are
//! needed here.

#[rustfmt::skip] // printed by prettyplease; `cargo xtask codegen --check` keeps it byte-exact
mod generated;
pub(crate) use generated::*;

/// Every fixture of contract §2.7, plus the tolerance rules of §0.6.
#[cfg(test)]
mod tests {
    use super::*;

    const PAYMENT_ID: &str = "pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789";

    #[test]
    fn pending_refund() {
        let p: Payment = serde_json::from_str(
            r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","payment_type":"CIT","refunded_amount":0,"refund":{"amount":15000,"amount_usd":15000,"status":"PENDING","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:00Z"},"status_reason":null,"metadata":{"order_id":"ord_123"},"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:00Z"}"#,
        )
        .unwrap();
        assert_eq!(p.id.as_deref(), Some(PAYMENT_ID));
        assert_eq!(p.amount, Some(15000));
        assert_eq!(p.currency_code.as_deref(), Some("USD"));
        assert_eq!(p.payment_status, Some(PaymentStatus::Settled));
        assert_eq!(p.refunded_amount, Some(0));
        assert_eq!(p.status_reason, None);
        assert_eq!(p.metadata, Some(serde_json::json!({"order_id": "ord_123"})));
        assert_eq!(p.created_at.as_deref(), Some("2025-05-25T14:30:00Z"));
        assert_eq!(p.updated_at.as_deref(), Some("2025-05-26T10:15:00Z"));
        let refund = p.refund.unwrap();
        assert_eq!(refund.amount, Some(15000));
        assert_eq!(refund.amount_usd, Some(15000));
        assert_eq!(refund.status, Some(RefundStatus::Pending));
        assert_eq!(
            refund.processor_transaction_id.as_deref(),
            Some("re_3RgN6TJVVBuowJOx1a2b3c4d")
        );
        assert_eq!(refund.created_at.as_deref(), Some("2025-05-26T10:15:00Z"));
    }

    #[test]
    fn succeeded_refund() {
        let p: Payment = serde_json::from_str(
            r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"amount_usd":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":15000,"refund":{"amount":15000,"amount_usd":15000,"status":"SUCCEEDED","processor_transaction_id":"re_3RgN6TJVVBuowJOx1a2b3c4d","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:16:10Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:16:10Z"}"#,
        )
        .unwrap();
        assert_eq!(p.refunded_amount, Some(15000));
        assert_eq!(p.metadata, None);
        let refund = p.refund.unwrap();
        assert_eq!(refund.status, Some(RefundStatus::Succeeded));
        assert_eq!(refund.updated_at.as_deref(), Some("2025-05-26T10:16:10Z"));
    }

    #[test]
    fn declined_refund() {
        let p: Payment = serde_json::from_str(
            r#"{"id":"pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789","amount":15000,"currency_code":"USD","payment_status":"SETTLED","refunded_amount":0,"refund":{"amount":15000,"status":"FAILED","processor_transaction_id":"","created_at":"2025-05-26T10:15:00Z","updated_at":"2025-05-26T10:15:02Z"},"status_reason":null,"created_at":"2025-05-25T14:30:00Z","updated_at":"2025-05-26T10:15:02Z"}"#,
        )
        .unwrap();
        let refund = p.refund.unwrap();
        assert_eq!(refund.status, Some(RefundStatus::Failed));
        assert_eq!(refund.processor_transaction_id.as_deref(), Some(""));
        assert_eq!(refund.amount_usd, None);
    }

    #[test]
    fn refund_statuses_match_in_any_case_and_stay_open() {
        for (raw, status) in [
            ("SUCCEEDED", RefundStatus::Succeeded),
            ("succeeded", RefundStatus::Succeeded),
            ("Completed", RefundStatus::Completed),
            ("canceled", RefundStatus::Canceled),
            ("CANCELLED", RefundStatus::Cancelled),
            ("processing", RefundStatus::Processing),
            (
                "requires_action",
                RefundStatus::Other("requires_action".into()),
            ),
        ] {
            let decoded: RefundStatus = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
            assert_eq!(decoded, status, "{raw}");
        }
        assert_eq!(RefundStatus::Succeeded.as_str(), "SUCCEEDED");
        assert_eq!(
            serde_json::to_string(&RefundStatus::Other("weird".into())).unwrap(),
            r#""weird""#
        );
    }

    #[test]
    fn payment_statuses_are_open() {
        for raw in [
            "PENDING",
            "AUTHORIZED",
            "SETTLING",
            "SETTLED",
            "DECLINED",
            "FAILED",
            "BLOCKED",
            "CANCELLED",
            "INCOMPLETE",
        ] {
            let decoded: PaymentStatus = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
            assert!(!matches!(decoded, PaymentStatus::Other(_)), "{raw}");
            assert_eq!(decoded.as_str(), raw);
        }
        let p: Payment = serde_json::from_str(r#"{"payment_status":"REFUNDED"}"#).unwrap();
        assert_eq!(
            p.payment_status,
            Some(PaymentStatus::Other("REFUNDED".into()))
        );
    }

    #[test]
    fn status_reason() {
        let p: Payment = serde_json::from_str(
            r#"{"status_reason":{"status":"declined","status_reason":{"advice_code":"do_not_try_again","decline_code":"insufficient_funds","message":"no money"}}}"#,
        )
        .unwrap();
        let reason = p.status_reason.unwrap();
        assert_eq!(reason.status.as_deref(), Some("declined"));
        let details = reason.status_reason.unwrap();
        assert_eq!(details.advice_code, Some(AdviceCode::DoNotTryAgain));
        assert_eq!(details.decline_code, Some(DeclineCode::InsufficientFunds));
        assert_eq!(details.message.as_deref(), Some("no money"));
        let d: StatusReasonDetails =
            serde_json::from_str(r#"{"decline_code":"velocity_exceeded"}"#).unwrap();
        assert_eq!(
            d.decline_code,
            Some(DeclineCode::Other("velocity_exceeded".into()))
        );
    }

    #[test]
    fn error_bodies() {
        for (body, message) in [
            (
                r#"{"error":{"message":"Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 cannot be refunded in status AUTHORIZED"}}"#,
                "Payment pay_e8a1b2c3-d4f5-6789-abcd-ef0123456789 cannot be refunded in status AUTHORIZED",
            ),
            (
                r#"{"error":{"message":"Invalid API key"}}"#,
                "Invalid API key",
            ),
            (
                r#"{"error":{"message":"Payment not found"}}"#,
                "Payment not found",
            ),
            (
                r#"{"error":{"message":"Internal server error","code":"x","more":[1]}}"#,
                "Internal server error",
            ),
        ] {
            let e: ErrorBody = serde_json::from_str(body).unwrap();
            assert_eq!(e.error.unwrap().message.as_deref(), Some(message));
        }
        assert_eq!(
            serde_json::from_str::<ErrorBody>("{}").unwrap(),
            ErrorBody::default()
        );
    }

    #[test]
    fn absence_extra_fields_and_wrong_types() {
        let p: Payment = serde_json::from_str(
            r#"{"id":"pay_1","refund":null,"customer":{"email":"a@b.c"},"tax":{"status":"<unknown>"}}"#,
        )
        .unwrap();
        assert_eq!(p.refund, None);
        assert_eq!(p.refunded_amount, None);
        assert_eq!(
            serde_json::from_str::<Payment>("{}").unwrap(),
            Payment::default()
        );
        for body in [
            r#"{"amount":"15000"}"#,
            r#"{"amount":150.5}"#,
            r#"{"refund":[]}"#,
            "",
        ] {
            assert!(serde_json::from_str::<Payment>(body).is_err(), "{body}");
        }
    }
}
