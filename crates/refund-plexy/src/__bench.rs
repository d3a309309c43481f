//! Benchmark and fuzzing hooks: the private decode-and-map functions, callable from the
//! workspace's `refund-bench` crate. **Not part of the API**: hidden from the docs, not covered
//! by semver, and may change or disappear in any release.
//!
//! Each hook is exactly the code the [`Client`](crate::Client) runs on an answer, minus the
//! sending: it takes a [`Response`](refund_core::http::Response) (build one with
//! [`Response::new`](refund_core::http::Response::new)) and returns what the
//! client would return.

use refund_core::http::Response;
use refund_core::{Error, Lookup, Refund, RefundQuery, RefundRequest};

use crate::convert;
use crate::types::Transaction;

/// The answer to a refund POST (P-R1/P-R2), as [`RefundProvider::refund`](refund_core::RefundProvider::refund)
/// reads it.
///
/// # Errors
/// As the client's `refund`.
pub fn refund(response: &Response, request: &RefundRequest) -> Result<Refund, Error> {
    convert::refund_outcome(response, request)
}

/// The answer to P-L2, as [`RefundProvider::find_refund`](refund_core::RefundProvider::find_refund)
/// reads it.
///
/// # Errors
/// As the client's `find_refund`.
pub fn find_refund(response: &Response, query: &RefundQuery) -> Result<Lookup, Error> {
    convert::lookup(response, query)
}

/// The answer to P-L1, as [`Client::transaction`](crate::Client::transaction) reads it.
///
/// # Errors
/// As [`Client::transaction`](crate::Client::transaction).
pub fn transaction(response: &Response) -> Result<Transaction, Error> {
    convert::transaction(response)
}
