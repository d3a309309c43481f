//! Raw-HTTP helpers shared by the tests.

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::HeaderMap;
use serde_json::Value;
use serde_json::value::RawValue;

use refund_sandbox::{PayNextSandbox, PayabliSandbox, PlexySandbox};

/// Contract §0.2: every byte outside `A–Z a–z 0–9 - . _ ~` is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment, encoded as the contract says.
pub(crate) fn enc(value: &str) -> String {
    utf8_percent_encode(value, PATH_SEGMENT).to_string()
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An answer read completely.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        Answer {
            status,
            headers,
            text,
        }
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The raw JSON literal of a top-level field (exact amounts: `189.50`, not `189.5`).
    pub(crate) fn raw(&self, field: &str) -> String {
        raw_field(&self.text, field)
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

/// The raw JSON literal of a top-level field of an object.
pub(crate) fn raw_field(json: &str, field: &str) -> String {
    let map: HashMap<String, Box<RawValue>> = serde_json::from_str(json).unwrap();
    map.get(field)
        .unwrap_or_else(|| panic!("no field {field} in {json}"))
        .get()
        .to_owned()
}

/// The raw literal at a path of object keys.
pub(crate) fn raw_path(json: &str, path: &[&str]) -> String {
    let mut current = json.to_owned();
    for key in path {
        current = raw_field(&current, key);
    }
    current
}

// ---- Plexy ----

pub(crate) async fn plexy_refund(sb: &PlexySandbox, payment: &str, body: &str) -> Answer {
    let r = client()
        .post(format!(
            "{}/payments/{}/refund",
            sb.base_url(),
            enc(payment)
        ))
        .header("Authorization", sb.api_key().expose_secret())
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    Answer::read(r).await
}

pub(crate) async fn plexy_get(sb: &PlexySandbox, path: &str) -> Answer {
    let r = client()
        .get(format!("{}{}", sb.base_url(), path))
        .header("Authorization", sb.api_key().expose_secret())
        .send()
        .await
        .unwrap();
    Answer::read(r).await
}

// ---- PayNext ----

pub(crate) async fn paynext_refund(sb: &PayNextSandbox, payment: &str) -> Answer {
    let r = client()
        .post(format!(
            "{}/payments/refund/{}",
            sb.base_url(),
            enc(payment)
        ))
        .header(
            "Authorization",
            format!("Bearer {}", sb.api_key().expose_secret()),
        )
        .header("X-API-Version", "1.0.0")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    Answer::read(r).await
}

pub(crate) async fn paynext_get(sb: &PayNextSandbox, payment: &str) -> Answer {
    let r = client()
        .get(format!("{}/payments/{}", sb.base_url(), enc(payment)))
        .header(
            "Authorization",
            format!("Bearer {}", sb.api_key().expose_secret()),
        )
        .header("X-API-Version", "1.0.0")
        .send()
        .await
        .unwrap();
    Answer::read(r).await
}

// ---- Payabli ----

/// `POST /v2/MoneyIn/refund/{transId}[/{amount}]` with `requestToken` and `idempotencyKey`.
pub(crate) async fn payabli_refund(
    sb: &PayabliSandbox,
    trans_id: &str,
    amount: Option<&str>,
    key: &str,
) -> Answer {
    let mut url = format!("{}/v2/MoneyIn/refund/{}", sb.base_url(), enc(trans_id));
    if let Some(a) = amount {
        url.push('/');
        url.push_str(&enc(a));
    }
    let r = client()
        .post(url)
        .header("requestToken", sb.api_key().expose_secret())
        .header("idempotencyKey", key)
        .send()
        .await
        .unwrap();
    Answer::read(r).await
}

pub(crate) async fn payabli_details(sb: &PayabliSandbox, trans_id: &str) -> Answer {
    let r = client()
        .get(format!(
            "{}/MoneyIn/details/{}",
            sb.base_url(),
            enc(trans_id)
        ))
        .header("requestToken", sb.api_key().expose_secret())
        .send()
        .await
        .unwrap();
    Answer::read(r).await
}
