//! Benchmark and fuzzing hooks: the private decode-and-map functions, callable from the
//! workspace's `refund-bench` crate. **Not part of the API**: hidden from the docs, not covered
//! by semver, and may change or disappear in any release.
//!
//! Each hook is exactly the code the [`Client`](crate::Client) runs on an answer, minus the
//! sending: it takes a [`Response`](refund_core::http::Response) (build one with
//! [`Response::new`](refund_core::http::Response::new)) and returns what the
//! client would return.

use refund_core::http::Response;
use refund_core::{Error, Lookup, PaymentId, Refund, RefundQuery, RefundRequest, Snapshot};

use crate::convert;
use crate::types::TransactionDetails;

/// The answer to a refund POST (Y-R1/Y-R2), as [`RefundProvider::refund`](refund_core::RefundProvider::refund)
/// reads it.
///
/// # Errors
/// As the client's `refund`.
pub fn refund(response: &Response, request: &RefundRequest) -> Result<Refund, Error> {
    convert::refund_outcome(response, request)
}

/// The answer to Y-L1 read for reconciliation, as
/// [`RefundProvider::find_refund`](refund_core::RefundProvider::find_refund) reads it.
///
/// # Errors
/// As the client's `find_refund`.
pub fn find_refund(response: &Response, query: &RefundQuery) -> Result<Lookup, Error> {
    convert::lookup(response, query)
}

/// The answer to Y-L1 read as a snapshot, as
/// [`RefundProvider::snapshot`](refund_core::RefundProvider::snapshot) reads it.
///
/// # Errors
/// As the client's `snapshot`.
pub fn snapshot(response: &Response, trans_id: &PaymentId) -> Result<Snapshot, Error> {
    convert::snapshot(response, trans_id)
}

/// The answer to Y-L1, as [`Client::transaction_details`](crate::Client::transaction_details)
/// reads it.
///
/// # Errors
/// As [`Client::transaction_details`](crate::Client::transaction_details).
pub fn transaction_details(response: &Response) -> Result<TransactionDetails, Error> {
    convert::details(response)
}
