//! Payabli's JSON, exactly as the wire contract §3 describes it; private to this crate.
//!
//! `generated.rs` is written by `cargo xtask codegen` from `specs/payabli.yaml` (never edit it
//! by hand). The v2 `data` object and the details record match property names in any case
//! (`x-case-insensitive`, §3.4), so one casing or the other, or a mix, decodes the same.
//! Decode with `serde_json::from_slice`/`from_str`: amounts are exact `JsonDecimal`s read through
//! `RawValue`, which needs the `serde_json` deserializer itself (not a `serde_json::Value`).

#[rustfmt::skip] // printed by prettyplease; `cargo xtask codegen --check` keeps it byte-exact
mod generated;
pub(crate) use generated::*;

/// Every fixture of contract §3.7, both casings of §3.4, and the tolerance rules of §0.6.
#[cfg(test)]
mod tests {
    use refund_core::{Decimal, JsonDecimal};

    use super::*;

    fn dec(text: &str) -> Option<JsonDecimal> {
        Some(JsonDecimal::new(text.parse::<Decimal>().unwrap()))
    }

    const SUCCEEDED: &str = r#"{"code":"A0004","reason":"Refunded","explanation":"Transaction refunded","action":"No action required","data":{"paymentTransId":"3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b","operation":"Refund","method":"card","gatewayTransId":"TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I","orderId":"","totalAmount":-10.50,"netAmount":-10.50,"feeAmount":0,"transStatus":1,"settlementStatus":0,"refundId":1279666,"returnedId":0,"transactionTime":"2025-12-02T09:50:03.559","paymentData":{"maskedAccount":"4XXXXXXXXXXX5439","accountType":"visa","paymentDetails":{"totalAmount":105,"serviceFee":5,"currency":"USD"}},"responseData":{"resultCode":"A0004","resultCodeText":"Refunded","responsetext":"CAPTURED","authcode":"","transactionid":"TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I","response_code":"100","response_code_text":"Operation successful"}},"token":null}"#;

    const DETAILS: &str = r#"{"PaymentTransId":"10-3ffa27df-b171-44e0-b251-e95fbfc7a723","Operation":"Sale","Method":"card","OrderId":"DUES-123","TotalAmount":105.00,"NetAmount":100.00,"FeeAmount":5.00,"TransStatus":1,"SettlementStatus":3,"RefundId":0,"ReturnedId":0,"TransactionTime":"2025-12-01T09:50:03.559","PaymentData":{"MaskedAccount":"4XXXXXXXXXXX5439","AccountType":"visa","paymentDetails":{"totalAmount":105.00,"serviceFee":5.00,"currency":"USD"}},"ResponseData":{"resultCode":"A0000","resultCodeText":"Approved","responsetext":"CAPTURED","response_code":"100","response_code_text":"Operation successful"},"TransactionEvents":[{"TransEvent":"Created","EventTime":"2025-12-01T09:50:02.558Z"},{"TransEvent":"Approved","EventTime":"2025-12-01T09:50:03.609Z"}]}"#;

    #[test]
    fn request_body_is_the_fixture() {
        let body = RefundRequest {
            order_id: Some("rf-9c02".into()),
            source: Some("api".into()),
            ..RefundRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"orderId":"rf-9c02","source":"api"}"#
        );
        assert_eq!(
            serde_json::to_string(&RefundRequest::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn refund_details_amounts_are_exact_numbers() {
        let body = RefundRequest {
            ipaddress: Some("127.0.0.1".into()),
            order_description: Some("dues".into()),
            refund_details: Some(RefundDetails {
                categories: Some(vec![RefundCategory {
                    label: Some("dues".into()),
                    description: None,
                    amount: dec("10.50"),
                    qty: Some(1),
                }]),
                split_refunding: Some(vec![SplitRefundingInstruction {
                    origination_entry_point: Some("entry".into()),
                    account_id: Some("acct-1".into()),
                    description: None,
                    amount: dec("0.05"),
                }]),
            }),
            ..RefundRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"orderDescription":"dues","ipaddress":"127.0.0.1","refundDetails":{"categories":[{"label":"dues","amount":10.50,"qty":1}],"splitRefunding":[{"originationEntryPoint":"entry","accountId":"acct-1","amount":0.05}]}}"#
        );
    }

    #[test]
    fn succeeded_refund() {
        let w: RefundResponseWrapper = serde_json::from_str(SUCCEEDED).unwrap();
        assert_eq!(w.code, Some(ResultCode::Refunded));
        assert_eq!(w.reason.as_deref(), Some("Refunded"));
        assert_eq!(w.explanation.as_deref(), Some("Transaction refunded"));
        assert_eq!(w.action.as_deref(), Some("No action required"));
        assert_eq!(w.token, None);
        let d = w.data.unwrap();
        assert_eq!(
            d.payment_trans_id.as_deref(),
            Some("3040-7b1e6f0a2c9d4e11a0b5c6d7e8f90a1b")
        );
        assert_eq!(d.operation, Some(Operation::Refund));
        assert_eq!(d.method.as_deref(), Some("card"));
        assert_eq!(
            d.gateway_trans_id.as_deref(),
            Some("TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I")
        );
        assert_eq!(d.order_id.as_deref(), Some(""));
        assert_eq!(d.total_amount, dec("-10.50"));
        assert_eq!(d.total_amount.unwrap().value().to_string(), "-10.50");
        assert_eq!(d.net_amount, dec("-10.50"));
        assert_eq!(d.fee_amount, dec("0"));
        assert_eq!(d.trans_status, Some(1));
        assert_eq!(d.settlement_status, Some(0));
        assert_eq!(d.refund_id, Some(1_279_666));
        assert_eq!(d.returned_id, Some(0));
        assert_eq!(
            d.transaction_time.as_deref(),
            Some("2025-12-02T09:50:03.559")
        );
        let pd = d.payment_data.unwrap();
        assert_eq!(pd.masked_account.as_deref(), Some("4XXXXXXXXXXX5439"));
        assert_eq!(pd.account_type.as_deref(), Some("visa"));
        let details = pd.payment_details.unwrap();
        assert_eq!(details.total_amount, dec("105"));
        assert_eq!(details.service_fee, dec("5"));
        assert_eq!(details.currency.as_deref(), Some("USD"));
        let rd = d.response_data.unwrap();
        assert_eq!(rd.result_code, Some(ResultCode::Refunded));
        assert_eq!(rd.result_code_text.as_deref(), Some("Refunded"));
        assert_eq!(rd.responsetext.as_deref(), Some("CAPTURED"));
        assert_eq!(rd.authcode.as_deref(), Some(""));
        assert_eq!(
            rd.transactionid.as_deref(),
            Some("TRN_Xo4dpKfmx3OxSc9svd2ccI6OOnyB2I")
        );
        assert_eq!(rd.response_code.as_deref(), Some("100"));
        assert_eq!(
            rd.response_code_text.as_deref(),
            Some("Operation successful")
        );
    }

    #[test]
    fn declined_refund() {
        let w: RefundResponseWrapper = serde_json::from_str(
            r#"{"code":"D0100","reason":"Declined","explanation":"The processor declined the refund","action":"Contact support or refund by another method","data":{"paymentTransId":"3040-c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f1","operation":"Refund","totalAmount":-10.50,"netAmount":-10.50,"feeAmount":0,"transStatus":2,"settlementStatus":0,"refundId":0,"responseData":{"resultCode":"D0100","resultCodeText":"Declined","responsetext":"DECLINED","response_code":"200","response_code_text":"Transaction was declined by processor."},"paymentData":{"paymentDetails":{"currency":"USD"}}},"token":null}"#,
        )
        .unwrap();
        assert_eq!(w.code, Some(ResultCode::Other("D0100".into())));
        assert_eq!(w.code.as_ref().map(ResultCode::as_str), Some("D0100"));
        assert_eq!(
            w.action.as_deref(),
            Some("Contact support or refund by another method")
        );
        let d = w.data.unwrap();
        assert_eq!(d.trans_status, Some(2));
        assert_eq!(d.refund_id, Some(0));
        assert_eq!(d.method, None);
        assert_eq!(
            d.response_data.unwrap().result_code,
            Some(ResultCode::Other("D0100".into()))
        );
        assert_eq!(
            d.payment_data
                .unwrap()
                .payment_details
                .unwrap()
                .currency
                .as_deref(),
            Some("USD")
        );
    }

    #[test]
    fn pending_codes() {
        for (raw, code) in [
            ("A0001", ResultCode::Initiated),
            ("A0050", ResultCode::PendingApproval),
            ("A0000", ResultCode::Approved),
            ("A0010", ResultCode::PartialAmountApproved),
            ("E9999", ResultCode::UnexpectedError),
            ("A0099", ResultCode::Other("A0099".into())),
        ] {
            let w: RefundResponseWrapper =
                serde_json::from_str(&format!(r#"{{"code":"{raw}"}}"#)).unwrap();
            assert_eq!(w.code, Some(code), "{raw}");
        }
    }

    #[test]
    fn bad_request() {
        let e: V2BadRequestError = serde_json::from_str(
            r#"{"type":"https://docs.payabli.com/developers/references/pay-in-unified-response-codes","title":"Bad Request","status":400,"detail":"Amount value is greater than available amount for action","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723/500.00","code":"E3012","errors":{"amount":[{"message":"Amount exceeds the refundable amount","suggestion":"Use at most the original total minus service fees"}]},"token":null}"#,
        )
        .unwrap();
        assert_eq!(e.title.as_deref(), Some("Bad Request"));
        assert_eq!(e.status, Some(400));
        assert_eq!(
            e.type_.as_deref(),
            Some("https://docs.payabli.com/developers/references/pay-in-unified-response-codes")
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("Amount value is greater than available amount for action")
        );
        assert!(e.instance.unwrap().ends_with("/500.00"));
        assert_eq!(e.code, Some(ResultCode::Other("E3012".into())));
        let errors = e.errors.unwrap();
        let amount = &errors["amount"];
        assert_eq!(amount.len(), 1);
        assert_eq!(
            amount[0].message.as_deref(),
            Some("Amount exceeds the refundable amount")
        );
        assert_eq!(
            amount[0].suggestion.as_deref(),
            Some("Use at most the original total minus service fees")
        );
        assert_eq!(e.token, None);
    }

    #[test]
    fn unauthorized_and_internal_error() {
        let e: PayabliErrorBody = serde_json::from_str(
            r#"{"isSuccess":false,"responseCode":401,"responseText":"Unauthorized","responseData":{"explanation":"The requestToken is missing, invalid, or expired","todoAction":"Send a valid API token in the requestToken header"}}"#,
        )
        .unwrap();
        assert_eq!(e.is_success, Some(false));
        assert_eq!(e.response_code, Some(401));
        assert_eq!(e.response_text.as_deref(), Some("Unauthorized"));
        let data = e.response_data.unwrap();
        assert_eq!(
            data.explanation.as_deref(),
            Some("The requestToken is missing, invalid, or expired")
        );
        assert_eq!(
            data.todo_action.as_deref(),
            Some("Send a valid API token in the requestToken header")
        );

        let e: V2InternalServerError = serde_json::from_str(
            r#"{"title":"Internal Server Error","status":500,"detail":"An unexpected error occurred","instance":"/api/v2/MoneyIn/refund/10-3ffa27df-b171-44e0-b251-e95fbfc7a723"}"#,
        )
        .unwrap();
        assert_eq!(e.title.as_deref(), Some("Internal Server Error"));
        assert_eq!(e.status, Some(500));
        assert_eq!(e.detail.as_deref(), Some("An unexpected error occurred"));
        assert!(e.instance.unwrap().starts_with("/api/v2/MoneyIn/refund/"));
    }

    #[test]
    fn the_409_text_is_not_json() {
        // The 409 answer is text/plain (§3.7); no wire type decodes it, and it must not be
        // mistaken for a refund answer.
        let text = "Duplicated idempotencyKey: rf-9c01";
        assert!(serde_json::from_str::<RefundResponseWrapper>(text).is_err());
    }

    #[test]
    fn details_record_in_pascal_case() {
        let d: TransactionDetails = serde_json::from_str(DETAILS).unwrap();
        assert_eq!(
            d.payment_trans_id.as_deref(),
            Some("10-3ffa27df-b171-44e0-b251-e95fbfc7a723")
        );
        assert_eq!(d.operation, Some(Operation::Sale));
        assert_eq!(d.method.as_deref(), Some("card"));
        assert_eq!(d.order_id.as_deref(), Some("DUES-123"));
        assert_eq!(d.total_amount.unwrap().value().to_string(), "105.00");
        assert_eq!(d.net_amount, dec("100.00"));
        assert_eq!(d.fee_amount, dec("5.00"));
        assert_eq!(d.trans_status, Some(1));
        assert_eq!(d.settlement_status, Some(3));
        assert_eq!(d.refund_id, Some(0));
        assert_eq!(d.returned_id, Some(0));
        assert_eq!(
            d.transaction_time.as_deref(),
            Some("2025-12-01T09:50:03.559")
        );
        let pd = d.payment_data.unwrap();
        assert_eq!(pd.masked_account.as_deref(), Some("4XXXXXXXXXXX5439"));
        assert_eq!(pd.account_type.as_deref(), Some("visa"));
        let details = pd.payment_details.unwrap();
        assert_eq!(details.total_amount, dec("105.00"));
        assert_eq!(details.service_fee.unwrap().value().to_string(), "5.00");
        let rd = d.response_data.unwrap();
        assert_eq!(rd.result_code, Some(ResultCode::Approved));
        assert_eq!(rd.responsetext.as_deref(), Some("CAPTURED"));
        let events = d.transaction_events.unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].trans_event.as_deref(), Some("Created"));
        assert_eq!(
            events[1].event_time.as_deref(),
            Some("2025-12-01T09:50:03.609Z")
        );
        assert_eq!(events[1].event_data, None);
    }

    #[test]
    fn both_casings_decode_the_same() {
        // The v2 `data` in PascalCase and the details record in camelCase (§3.4, §5.8).
        let camel = r#"{"paymentTransId":"t-1","operation":"Refund","totalAmount":-10.50,"transStatus":1,"refundId":7,"paymentData":{"maskedAccount":"4X","paymentDetails":{"serviceFee":5}},"responseData":{"resultCode":"A0004"}}"#;
        let pascal = r#"{"PaymentTransId":"t-1","Operation":"Refund","TotalAmount":-10.50,"TransStatus":1,"RefundId":7,"PaymentData":{"MaskedAccount":"4X","PaymentDetails":{"ServiceFee":5}},"ResponseData":{"ResultCode":"A0004"}}"#;
        let shouting = r#"{"PAYMENTTRANSID":"t-1","operation":"Refund","totalamount":-10.50,"TRANSSTATUS":1,"refundid":7,"paymentdata":{"MASKEDACCOUNT":"4X","paymentdetails":{"SERVICEFEE":5}},"RESPONSEDATA":{"RESULTCODE":"A0004"}}"#;
        let v2: Vec<V2TransactionDetails> = [camel, pascal, shouting]
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        assert_eq!(v2[0], v2[1]);
        assert_eq!(v2[0], v2[2]);
        assert_eq!(v2[0].total_amount, dec("-10.50"));
        assert_eq!(v2[0].refund_id, Some(7));
        assert_eq!(
            v2[0]
                .payment_data
                .as_ref()
                .unwrap()
                .payment_details
                .as_ref()
                .unwrap()
                .service_fee,
            dec("5")
        );
        assert_eq!(
            v2[0].response_data.as_ref().unwrap().result_code,
            Some(ResultCode::Refunded)
        );
        let records: Vec<TransactionDetails> = [camel, pascal, shouting]
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        assert_eq!(records[0], records[1]);
        assert_eq!(records[0], records[2]);
        assert_eq!(records[0].payment_trans_id.as_deref(), Some("t-1"));
        assert_eq!(records[0].refund_id, Some(7));

        // Written back in the casing the spec documents for each source.
        let written = serde_json::to_string(&v2[0]).unwrap();
        assert!(
            written.starts_with(
                r#"{"paymentTransId":"t-1","operation":"Refund","totalAmount":-10.50"#
            ),
            "{written}"
        );
        let written = serde_json::to_string(&records[0]).unwrap();
        assert!(
            written.starts_with(
                r#"{"PaymentTransId":"t-1","Operation":"Refund","TotalAmount":-10.50"#
            ),
            "{written}"
        );
    }

    #[test]
    fn null_never_hides_a_value_given_in_another_casing() {
        let d: TransactionDetails =
            serde_json::from_str(r#"{"RefundId":5,"refundId":null,"Extra":{"a":[1]}}"#).unwrap();
        assert_eq!(d.refund_id, Some(5));
    }

    /// Found by fuzzing (refund-bench corpus `payabli_find_refund/finding-fc0ed81122229feb`):
    /// `{"refundId":1279666,…,"RefundId":0}` read as `RefundId` 0, so reconciliation saw "no
    /// refund" and would re-send. Two spellings that disagree now make the record unreadable
    /// (an inconclusive lookup); two that agree are still fine.
    #[test]
    fn two_spellings_with_different_values_are_refused() {
        let err = serde_json::from_str::<TransactionDetails>(
            r#"{"refundId":1279666,"PaymentTransId":"t-1","RefundId":0}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("`RefundId` is given twice"),
            "{err}"
        );
        let d: TransactionDetails =
            serde_json::from_str(r#"{"refundId":7,"RefundId":7,"REFUNDID":null}"#).unwrap();
        assert_eq!(d.refund_id, Some(7));
        assert!(
            serde_json::from_str::<RefundResponseWrapper>(
                r#"{"code":"A0004","data":{"totalAmount":-10.50,"TotalAmount":-1.05}}"#
            )
            .is_err()
        );
    }

    #[test]
    fn absence_extra_fields_and_wrong_types() {
        let w: RefundResponseWrapper =
            serde_json::from_str(r#"{"code":"A0004","data":null,"token":"abc","extra":[1,2]}"#)
                .unwrap();
        assert_eq!(w.data, None);
        assert_eq!(w.token.as_deref(), Some("abc"));
        assert_eq!(
            serde_json::from_str::<TransactionDetails>("{}").unwrap(),
            TransactionDetails::default()
        );
        for body in [
            r#"{"TotalAmount":"abc"}"#,
            r#"{"TransStatus":"1"}"#,
            r#"{"RefundId":1.5}"#,
            "[]",
            "null",
            r#"{"RefundId":1"#,
        ] {
            assert!(
                serde_json::from_str::<TransactionDetails>(body).is_err(),
                "{body}"
            );
        }
    }
}
