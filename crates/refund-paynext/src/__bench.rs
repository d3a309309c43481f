//! Benchmark and fuzzing hooks: the private decode-and-map functions, callable from the
//! workspace's `refund-bench` crate. **Not part of the API**: hidden from the docs, not covered
//! by semver, and may change or disappear in any release.
//!
//! Each hook is exactly the code the [`Client`](crate::Client) runs on an answer, minus the
//! sending: it takes a [`Response`](refund_core::http::Response) (build one with
//! [`Response::new`](refund_core::http::Response::new)) and returns what the
//! client would return.

use refund_core::http::Response;
use refund_core::{Error, Lookup, PaymentId, Refund, RefundQuery, RefundRequest};

use crate::client;
use crate::convert;
use crate::payment::Payment;

/// The answer to N-R1, as [`RefundProvider::refund`](refund_core::RefundProvider::refund) reads
/// it.
///
/// # Errors
/// As the client's `refund`.
pub fn refund(response: &Response, request: &RefundRequest) -> Result<Refund, Error> {
    client::refund_answer(response, request)
}

/// The answer to N-L1 read for reconciliation, as
/// [`RefundProvider::find_refund`](refund_core::RefundProvider::find_refund) reads it (for a
/// full-refund query; a partial one is refused before sending).
///
/// # Errors
/// As the client's `find_refund`.
pub fn find_refund(response: &Response, query: &RefundQuery) -> Result<Lookup, Error> {
    client::reconcile_answer(client::lookup_payment(response), query)
}

/// The answer to N-L1, as [`Client::get_payment`](crate::Client::get_payment) reads it.
///
/// # Errors
/// As [`Client::get_payment`](crate::Client::get_payment).
pub fn get_payment(response: &Response, payment_id: &PaymentId) -> Result<Payment, Error> {
    let payment = client::lookup_payment(response)?;
    convert::payment_view(&payment, payment_id).map_err(|e| response.decorate(e))
}
