//! Fuzz targets and their generator.
//!
//! A target takes arbitrary bytes, never panics, and checks properties that must hold whatever
//! a provider or a user sends: for example, a 5xx or an unreadable 2xx answer to a refund POST is
//! always `OutcomeUnknown` (never "not applied"), and "no refund exists" (`Lookup::Absent`) is
//! only ever read from the one answer that the contract says proves it (§0.5), checked here
//! against an independent reading of the same bytes with `serde_json::Value`.
//!
//! Inputs come from a seeded generator ([`Target::generate`]): the contract's fixtures mutated
//! structurally ([`Json`]: replaced values, numbers that do not fit, duplicated keys in other
//! cases, deleted and unknown fields, deep nesting, wrapped ids) and then, sometimes, byte by
//! byte. The same targets run three ways: the stored corpus replayed and a few thousand
//! generated inputs in `cargo test` (`tests/fuzz.rs`), and millions in `cargo xtask fuzz`
//! (`REFUND_FUZZ_EXECS`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use refund_core::http::{BaseUrl, HeaderValue, Segment, encode_path_param};
use refund_core::{
    Currency, Decimal, ErrorKind, JsonDecimal, Lookup, Money, PaymentId, RefundQuery,
    RefundReference, RefundRequest, RefundStatus, Snapshot,
};
use serde_json::value::RawValue;

use crate::fixtures::{self, Vendor};

// ---------------------------------------------------------------------------------------------
// Random numbers

/// A small deterministic generator (SplitMix64): the same seed gives the same inputs on every
/// machine, so a finding is reproduced by its seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        usize::try_from(self.next_u64() % u64::try_from(n).unwrap_or(u64::MAX)).unwrap_or(0)
    }

    /// True once in `n` times.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A random element of a non-empty slice (the first one for an empty slice is impossible:
    /// callers pass constants).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

// ---------------------------------------------------------------------------------------------
// Structure-aware JSON

/// A JSON document that keeps number literals as written (`10.50`, `1e400`) and may hold
/// duplicate keys, so that mutations can produce what `serde_json::Value` cannot.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number literal, written as is (it may be invalid on purpose).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in order, duplicates allowed.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses a well-formed document, keeping number literals as written.
    pub fn parse(text: &str) -> Option<Json> {
        let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
        Json::from_raw(&raw)
    }

    fn from_raw(raw: &RawValue) -> Option<Json> {
        let text = raw.get();
        Some(match text.as_bytes().first()? {
            b'{' => {
                let map: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).ok()?;
                Json::Obj(
                    map.iter()
                        .map(|(k, v)| Json::from_raw(v).map(|v| (k.clone(), v)))
                        .collect::<Option<_>>()?,
                )
            }
            b'[' => {
                let items: Vec<Box<RawValue>> = serde_json::from_str(text).ok()?;
                Json::Arr(
                    items
                        .iter()
                        .map(|v| Json::from_raw(v))
                        .collect::<Option<_>>()?,
                )
            }
            b'"' => Json::Str(serde_json::from_str(text).ok()?),
            b't' => Json::Bool(true),
            b'f' => Json::Bool(false),
            b'n' => Json::Null,
            _ => Json::Num(text.to_owned()),
        })
    }

    /// The compact text.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(n),
            Json::Str(s) => out.push_str(&quote(s)),
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&quote(k));
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The compact text as a new string.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// Applies one random mutation somewhere in the document.
    pub fn mutate(&mut self, rng: &mut Rng) {
        let descend = rng.below(4) != 0;
        match self {
            Json::Obj(fields) if descend && !fields.is_empty() => {
                let i = rng.below(fields.len());
                if let Some((_, v)) = fields.get_mut(i) {
                    v.mutate(rng);
                }
            }
            Json::Arr(items) if descend && !items.is_empty() => {
                let i = rng.below(items.len());
                if let Some(v) = items.get_mut(i) {
                    v.mutate(rng);
                }
            }
            Json::Obj(fields) if rng.below(3) != 0 => mutate_object(fields, rng),
            Json::Arr(items) if rng.one_in(2) => mutate_array(items, rng),
            _ => self.replace(rng),
        }
    }

    /// Replaces this node by another value, often of another type.
    fn replace(&mut self, rng: &mut Rng) {
        let old = std::mem::replace(self, Json::Null);
        *self = match rng.below(12) {
            0 => Json::Null,
            1 => Json::Bool(rng.one_in(2)),
            2 | 3 => Json::Num(random_number(rng)),
            4 | 5 => Json::Str(random_string(rng)),
            // Observed Plexy quirk: ids wrapped as {"Value": …}.
            6 => Json::Obj(vec![("Value".to_owned(), old)]),
            7 => Json::Arr(vec![old]),
            8 => Json::Obj(Vec::new()),
            9 => nested(rng.below(300)),
            10 => match old {
                Json::Num(n) => Json::Str(n),
                Json::Str(s) if JsonDecimal::parse_literal(&s).is_some() => Json::Num(s),
                Json::Str(s) => Json::Str(mutate_text(&s, rng)),
                other => other,
            },
            _ => match old {
                Json::Num(n) => Json::Num(mutate_number(&n, rng)),
                Json::Str(s) => Json::Str(mutate_text(&s, rng)),
                _ => Json::Str(random_string(rng)),
            },
        };
    }
}

/// `depth` nested arrays around a number (serde_json refuses more than 128 levels).
fn nested(depth: usize) -> Json {
    let mut node = Json::Num("1".to_owned());
    for _ in 0..depth {
        node = Json::Arr(vec![node]);
    }
    node
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn mutate_object(fields: &mut Vec<(String, Json)>, rng: &mut Rng) {
    let i = rng.below(fields.len().max(1));
    match rng.below(7) {
        0 if !fields.is_empty() => {
            fields.remove(i.min(fields.len() - 1));
        }
        // The same key again, with another value: a decoder must not read one spelling for a
        // check and the other for the outcome.
        1 if !fields.is_empty() => {
            if let Some((k, v)) = fields.get(i).cloned() {
                let mut v = v;
                v.replace(rng);
                fields.push((k, v));
            }
        }
        // The same key in another case (Payabli matches names case-insensitively, §3.4).
        2 if !fields.is_empty() => {
            if let Some((k, v)) = fields.get(i).cloned() {
                let k = match rng.below(3) {
                    0 => k.to_ascii_lowercase(),
                    1 => k.to_ascii_uppercase(),
                    _ => flip_first_case(&k),
                };
                let mut v = v;
                if rng.one_in(2) {
                    v.replace(rng);
                }
                fields.insert(rng.below(fields.len() + 1), (k, v));
            }
        }
        3 => {
            let name = rng.pick(FIELD_NAMES).copied().unwrap_or("x").to_owned();
            let mut v = Json::Null;
            v.replace(rng);
            fields.insert(rng.below(fields.len() + 1), (name, v));
        }
        4 if fields.len() >= 2 => {
            let j = rng.below(fields.len());
            let (a, b) = (i.min(fields.len() - 1), j);
            if let (Some(va), Some(vb)) = (
                fields.get(a).map(|f| f.1.clone()),
                fields.get(b).map(|f| f.1.clone()),
            ) {
                if let Some(f) = fields.get_mut(a) {
                    f.1 = vb;
                }
                if let Some(f) = fields.get_mut(b) {
                    f.1 = va;
                }
            }
        }
        5 if !fields.is_empty() => {
            let name = rng.pick(FIELD_NAMES).copied().unwrap_or("x").to_owned();
            if let Some(f) = fields.get_mut(i) {
                f.0 = name;
            }
        }
        _ => {
            if let Some(f) = fields.get_mut(i) {
                f.1.replace(rng);
            }
        }
    }
}

fn mutate_array(items: &mut Vec<Json>, rng: &mut Rng) {
    let i = rng.below(items.len().max(1));
    match rng.below(3) {
        0 if !items.is_empty() => {
            items.remove(i.min(items.len() - 1));
        }
        1 if !items.is_empty() => {
            if let Some(v) = items.get(i).cloned() {
                items.push(v);
            }
        }
        _ => {
            let mut v = Json::Null;
            v.replace(rng);
            items.insert(rng.below(items.len() + 1), v);
        }
    }
}

fn flip_first_case(k: &str) -> String {
    let mut chars = k.chars();
    match chars.next() {
        Some(c) if c.is_ascii_uppercase() => c.to_ascii_lowercase().to_string() + chars.as_str(),
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Field names of the three providers' answers, for renamed and added fields.
const FIELD_NAMES: &[&str] = &[
    "id",
    "success",
    "responseCode",
    "amount",
    "remainingBalance",
    "orderReference",
    "originalTransactionId",
    "parentTransactionId",
    "transactionId",
    "merchantReference",
    "type",
    "status",
    "currency",
    "message",
    "code",
    "source",
    "data",
    "refund",
    "refunded_amount",
    "currency_code",
    "payment_status",
    "processor_transaction_id",
    "status_reason",
    "error",
    "paymentTransId",
    "PaymentTransId",
    "totalAmount",
    "TotalAmount",
    "refundId",
    "RefundId",
    "transStatus",
    "TransStatus",
    "paymentData",
    "PaymentData",
    "paymentDetails",
    "serviceFee",
    "reason",
    "explanation",
    "action",
    "token",
    "isSuccess",
    "responseText",
    "Value",
];

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "10.50",
    "-10.50",
    "0.005",
    "0.015",
    "10.505",
    "1e2",
    "1E-2",
    "-1e-2",
    "1.05E+2",
    "1e400",
    "1e-400",
    "1e28",
    "1e-28",
    "1e29",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "79228162514264337593543950335",
    "79228162514264337593543950336",
    "0.0000000000000000000000000001",
    "0.00000000000000000000000000001",
    "3.14159265358979323846264338327950288",
    "92233720368547758.07",
    "92233720368547758.08",
    "1.7976931348623157e308",
    "4",
    "5",
    "15000",
    "1279666",
    "-2",
    "10",
    "11",
];

const STRINGS: &[&str] = &[
    "",
    " ",
    "00",
    "09",
    "05",
    " 00 ",
    "A0004",
    "A0001",
    "A0050",
    "A",
    "D0100",
    "E3012",
    "Z9999",
    "refunded",
    "REFUNDED",
    "charged",
    "rejected",
    "created",
    "TRANSACTION_STATUS_REFUNDED",
    "TRANSACTION_STATUS_AUTHED",
    "succeeded",
    "SUCCEEDED",
    "FAILED",
    "PENDING",
    "refund",
    "payment",
    "Refund",
    "10.50",
    "-10.50",
    "1e3",
    "USD",
    "usd",
    "KZT",
    "JPY",
    "KWD",
    "XAU",
    "ZZZ",
    "US",
    fixtures::PLEXY_PAYMENT,
    fixtures::PAYNEXT_PAYMENT,
    fixtures::PAYABLI_TRANS,
    "rf-7f3c2b",
    "rf-9c01",
    "\u{0}",
    "\n",
    "\u{7f}",
    "é",
    "🦀",
    "\u{202e}",
    "%2F",
    "../",
    "Bearer sk_live_canary",
];

fn random_number(rng: &mut Rng) -> String {
    if rng.below(3) != 0 {
        return rng.pick(NUMBERS).copied().unwrap_or("0").to_owned();
    }
    let mut s = String::new();
    if rng.one_in(3) {
        s.push('-');
    }
    let digits = 1 + rng.below(40);
    for i in 0..digits {
        let d = if i == 0 {
            1 + rng.below(9)
        } else {
            rng.below(10)
        };
        let _ = write!(s, "{d}");
    }
    if rng.one_in(2) {
        s.push('.');
        for _ in 0..1 + rng.below(32) {
            let _ = write!(s, "{}", rng.below(10));
        }
    }
    if rng.one_in(3) {
        s.push(if rng.one_in(2) { 'e' } else { 'E' });
        match rng.below(3) {
            0 => s.push('-'),
            1 => s.push('+'),
            _ => {}
        }
        let _ = write!(s, "{}", rng.below(1200));
    }
    s
}

fn random_string(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => "x".repeat(rng.below(2000)),
        1 => {
            let len = rng.below(70);
            random_chars(rng, len)
        }
        _ => rng.pick(STRINGS).copied().unwrap_or("").to_owned(),
    }
}

/// Characters from an alphabet that mixes the allowed and the forbidden.
fn random_chars(rng: &mut Rng, len: usize) -> String {
    const ALPHABET: &[char] = &[
        'a', 'Z', '0', '9', '-', '_', '.', ':', '~', '/', '%', ' ', '\t', '\n', '\r', '\u{0}',
        '\u{7f}', '?', '#', '&', '=', '+', '"', '\\', 'é', 'ß', '\u{a0}', '\u{200b}', '\u{202e}',
        '🦀', ',', ';', '@', '*', '\'', '<', '>', '{', '}',
    ];
    (0..len)
        .map(|_| {
            if rng.one_in(2) {
                char::from(b'a' + u8::try_from(rng.below(26)).unwrap_or(0))
            } else {
                rng.pick(ALPHABET).copied().unwrap_or('a')
            }
        })
        .collect()
}

fn mutate_number(n: &str, rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("-{n}"),
        1 => format!("{n}{}", rng.below(10)),
        2 => format!("{n}e{}", rng.below(60)),
        3 => n.trim_start_matches('-').to_owned(),
        _ => format!("{n}.{}", rng.below(1000)),
    }
}

fn mutate_text(s: &str, rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => s.to_ascii_lowercase(),
        1 => s.to_ascii_uppercase(),
        2 => s.chars().take(rng.below(s.chars().count() + 1)).collect(),
        3 => {
            let len = 1 + rng.below(4);
            format!("{s}{}", random_chars(rng, len))
        }
        _ => format!(" {s} "),
    }
}

/// Byte-level damage: flipped, inserted, deleted bytes, truncation.
fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut Rng) {
    const INSERTS: &[&[u8]] = &[
        b"\"", b"}", b"]", b",", b"\\u0000", b"\xff", b"\xc3", b"\\", b"0",
    ];
    for _ in 0..1 + rng.below(3) {
        let len = bytes.len();
        match rng.below(5) {
            0 if len > 0 => {
                let i = rng.below(len);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
            1 => {
                let ins = rng.pick(INSERTS).copied().unwrap_or(b"");
                let at = rng.below(len + 1);
                bytes.splice(at..at, ins.iter().copied());
            }
            2 if len > 0 => bytes.truncate(rng.below(len)),
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(16)).min(len);
                bytes.drain(at..end);
            }
            _ => {
                let at = rng.below(len + 1);
                let b = u8::try_from(rng.below(256)).unwrap_or(0);
                bytes.insert(at, b);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Targets

/// The HTTP statuses a vendor target picks from (first input byte).
pub const STATUSES: [u16; 24] = [
    200, 201, 202, 204, 299, 301, 400, 401, 402, 403, 404, 405, 408, 409, 410, 422, 429, 499, 500,
    502, 503, 504, 599, 200,
];

/// A fuzz target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A vendor's decoder: the answer to a refund POST, the reconciliation lookup, or the native
    /// lookup. Input: status byte, request byte, body.
    Vendor(Vendor, fixtures::Op),
    /// `Money::parse` against an exact oracle. Input: currency byte, text.
    Money,
    /// `JsonDecimal::parse_literal` and its serde round trip, against serde_json and
    /// rust_decimal. Input: text.
    JsonNumber,
    /// `RefundReference::new`, `PaymentId::new` and path-segment encoding. Input: text.
    Ids,
    /// `BaseUrl::parse`: https only, except loopback. Input: text.
    BaseUrl,
}

/// Every target, in a stable order.
pub const TARGETS: [Target; 13] = {
    use Vendor::*;
    use fixtures::Op::*;
    [
        Target::Vendor(Plexy, Refund),
        Target::Vendor(Plexy, FindRefund),
        Target::Vendor(Plexy, Lookup),
        Target::Vendor(PayNext, Refund),
        Target::Vendor(PayNext, FindRefund),
        Target::Vendor(PayNext, Lookup),
        Target::Vendor(Payabli, Refund),
        Target::Vendor(Payabli, FindRefund),
        Target::Vendor(Payabli, Lookup),
        Target::Money,
        Target::JsonNumber,
        Target::Ids,
        Target::BaseUrl,
    ]
};

/// A property that did not hold, or a panic.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The target's name.
    pub target: String,
    /// What went wrong.
    pub message: String,
    /// The input, to be kept in the corpus as a regression test.
    pub input: Vec<u8>,
}

/// What a campaign did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Inputs run.
    pub execs: u64,
    /// Inputs the code under test accepted (`Ok`).
    pub accepted: u64,
    /// Properties that failed (at most the first 20 are kept).
    pub findings: Vec<Finding>,
}

impl Target {
    /// A stable name, used as the corpus directory.
    pub fn name(self) -> String {
        match self {
            Target::Vendor(v, op) => {
                let op = match op {
                    fixtures::Op::Refund => "refund",
                    fixtures::Op::FindRefund => "find_refund",
                    fixtures::Op::Lookup => "lookup",
                };
                format!("{}_{op}", v.name())
            }
            Target::Money => "money".to_owned(),
            Target::JsonNumber => "json_number".to_owned(),
            Target::Ids => "ids".to_owned(),
            Target::BaseUrl => "base_url".to_owned(),
        }
    }

    /// The target with this name.
    pub fn from_name(name: &str) -> Option<Target> {
        TARGETS.into_iter().find(|t| t.name() == name)
    }

    /// Runs one input; `Err` describes a property that failed. A panic is not caught here (see
    /// [`run_caught`]).
    ///
    /// # Errors
    /// A description of the failed property.
    pub fn run(self, data: &[u8]) -> Result<bool, String> {
        match self {
            Target::Vendor(vendor, op) => run_vendor(vendor, op, data),
            Target::Money => run_money(data),
            Target::JsonNumber => run_json_number(data),
            Target::Ids => run_ids(data),
            Target::BaseUrl => run_base_url(data),
        }
    }

    /// The seed inputs: every fixture of the vendor with its own status, or typical texts.
    pub fn seeds(self) -> Vec<Vec<u8>> {
        match self {
            Target::Vendor(vendor, _) => vendor_bodies(vendor)
                .into_iter()
                .map(|(status, body)| vendor_input(status_index(status), 0, body.as_bytes()))
                .collect(),
            Target::Money => [
                "10.50",
                "0",
                "1000",
                "12.345",
                "0.05",
                "92233720368547758.07",
            ]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = vec![b'A' + u8::try_from(i).unwrap_or(0)];
                v.extend_from_slice(t.as_bytes());
                v
            })
            .collect(),
            Target::JsonNumber => NUMBERS.iter().map(|n| n.as_bytes().to_vec()).collect(),
            Target::Ids => STRINGS.iter().map(|s| s.as_bytes().to_vec()).collect(),
            Target::BaseUrl => [
                "https://api.plexypay.com/v1",
                "http://127.0.0.1:8080/v1",
                "http://localhost/api",
                "http://[::1]:9/",
                "http://api.paynext.com",
                "https://user:pw@api.payabli.com/api",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect(),
        }
    }

    /// A new input from the seeds, mutated by `rng`.
    pub fn generate(self, rng: &mut Rng) -> Vec<u8> {
        match self {
            Target::Vendor(vendor, _) => {
                let bodies = vendor_bodies(vendor);
                let (status, body) = bodies
                    .get(rng.below(bodies.len()))
                    .copied()
                    .unwrap_or((200, "{}"));
                let status = if rng.below(4) == 0 {
                    rng.below(STATUSES.len())
                } else {
                    status_index(status)
                };
                let variant = rng.below(REQUEST_VARIANTS);
                let mut text = match Json::parse(body) {
                    Some(mut doc) if rng.below(8) != 0 => {
                        for _ in 0..1 + rng.below(4) {
                            doc.mutate(rng);
                        }
                        doc.to_text()
                    }
                    _ => body.to_owned(),
                }
                .into_bytes();
                if rng.below(5) == 0 {
                    mutate_bytes(&mut text, rng);
                }
                vendor_input(status, variant, &text)
            }
            Target::Money => {
                let mut out = vec![b'A' + u8::try_from(rng.below(CURRENCIES.len())).unwrap_or(0)];
                let text = match rng.below(4) {
                    0 => random_number(rng),
                    1 => {
                        let len = rng.below(12);
                        random_chars(rng, len)
                    }
                    _ => {
                        let mut s = String::new();
                        for _ in 0..rng.below(22) {
                            let _ = write!(s, "{}", rng.below(10));
                        }
                        if rng.below(3) != 0 {
                            s.insert(rng.below(s.len() + 1), '.');
                        }
                        s
                    }
                };
                out.extend_from_slice(text.as_bytes());
                if rng.one_in(8) {
                    mutate_bytes(&mut out, rng);
                }
                out
            }
            Target::JsonNumber => {
                let mut text = if rng.one_in(4) {
                    mutate_number(&random_number(rng), rng)
                } else {
                    random_number(rng)
                }
                .into_bytes();
                if rng.one_in(6) {
                    mutate_bytes(&mut text, rng);
                }
                text
            }
            Target::Ids => {
                let len = match rng.below(4) {
                    0 => *rng
                        .pick(&[0, 1, 2, 63, 64, 65, 255, 256, 257])
                        .unwrap_or(&1),
                    _ => rng.below(80),
                };
                let mut text = if rng.one_in(2) {
                    random_chars(rng, len)
                } else {
                    // Mostly allowed characters, so that acceptance is exercised too.
                    (0..len)
                        .map(|_| {
                            if rng.one_in(12) {
                                rng.pick(&['/', ' ', '%', 'é', '.', ':'])
                                    .copied()
                                    .unwrap_or('a')
                            } else {
                                char::from(b'a' + u8::try_from(rng.below(26)).unwrap_or(0))
                            }
                        })
                        .collect()
                };
                if rng.one_in(10) {
                    text = rng
                        .pick(&[".", "..", "...", ". ", "a/..", "%2e%2e"])
                        .copied()
                        .unwrap_or(".")
                        .to_owned();
                }
                text.into_bytes()
            }
            Target::BaseUrl => {
                const SCHEMES: &[&str] = &[
                    "https://", "http://", "HTTP://", "ftp://", "", "https:", "http:/",
                ];
                const HOSTS: &[&str] = &[
                    "api.plexypay.com",
                    "127.0.0.1",
                    "127.255.0.9",
                    "128.0.0.1",
                    "localhost",
                    "LOCALHOST",
                    "localhost.evil.com",
                    "[::1]",
                    "[::ffff:127.0.0.1]",
                    "0.0.0.0",
                    "0x7f.1",
                    "2130706433",
                    "user:pw@127.0.0.1",
                    "127.0.0.1@evil.com",
                    "evil.com#@127.0.0.1",
                ];
                const TAILS: &[&str] = &[
                    "", "/", "/v1", "/api/", ":8080/v1", "?q=1", "#frag", "/a/../b", "/%2e%2e",
                ];
                let mut s = String::new();
                s.push_str(rng.pick(SCHEMES).copied().unwrap_or(""));
                s.push_str(rng.pick(HOSTS).copied().unwrap_or(""));
                s.push_str(rng.pick(TAILS).copied().unwrap_or(""));
                let mut bytes = s.into_bytes();
                if rng.one_in(5) {
                    mutate_bytes(&mut bytes, rng);
                }
                bytes
            }
        }
    }
}

/// Runs one input and turns a panic into an `Err` too.
///
/// # Errors
/// A failed property or the panic's message.
pub fn run_caught(target: Target, data: &[u8]) -> Result<bool, String> {
    match catch_unwind(AssertUnwindSafe(|| target.run(data))) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(format!("panicked: {message}"))
        }
    }
}

/// Runs `execs` generated inputs of `target` from `seed` (the seeds themselves first).
/// Panics are caught and reported as findings, with the default panic message silenced.
pub fn campaign(target: Target, execs: u64, seed: u64) -> Report {
    let mut report = Report::default();
    let mut rng = Rng::new(seed ^ (target.name().len() as u64).wrapping_mul(0x1000_0000_01B3));
    let seeds = target.seeds();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for i in 0..execs {
        let input = match seeds.get(usize::try_from(i).unwrap_or(usize::MAX)) {
            Some(s) => s.clone(),
            None => target.generate(&mut rng),
        };
        report.execs += 1;
        match run_caught(target, &input) {
            Ok(true) => report.accepted += 1,
            Ok(false) => {}
            Err(message) => {
                if report.findings.len() < 20 {
                    report.findings.push(Finding {
                        target: target.name(),
                        message,
                        input,
                    });
                }
            }
        }
    }
    std::panic::set_hook(hook);
    report
}

/// How many request shapes a vendor input can select (second byte).
const REQUEST_VARIANTS: usize = 6;

fn status_index(status: u16) -> usize {
    STATUSES.iter().position(|s| *s == status).unwrap_or(0)
}

/// A vendor input: a letter for the status, a letter for the request, then the body.
pub fn vendor_input(status: usize, variant: usize, body: &[u8]) -> Vec<u8> {
    let mut out = vec![
        b'A' + u8::try_from(status % STATUSES.len()).unwrap_or(0),
        b'A' + u8::try_from(variant % REQUEST_VARIANTS).unwrap_or(0),
    ];
    out.extend_from_slice(body);
    out
}

fn vendor_bodies(vendor: Vendor) -> Vec<(u16, &'static str)> {
    use fixtures::*;
    let mut out: Vec<(u16, &'static str)> = match vendor {
        Vendor::Plexy => vec![
            (200, PLEXY_REFUND_SUCCEEDED),
            (200, PLEXY_REFUND_DECLINED),
            (200, PLEXY_REFUND_PENDING),
            (200, PLEXY_LOOKUP_PAYMENT),
            (200, PLEXY_LOOKUP_REFUND),
        ],
        Vendor::PayNext => vec![
            (200, PAYNEXT_REFUND_PENDING),
            (200, PAYNEXT_REFUND_SUCCEEDED),
            (200, PAYNEXT_REFUND_DECLINED),
            (200, PAYNEXT_EXAMPLE),
        ],
        Vendor::Payabli => vec![
            (201, PAYABLI_REFUND_SUCCEEDED),
            (402, PAYABLI_REFUND_DECLINED),
            (200, PAYABLI_LOOKUP),
        ],
    };
    let errors: &[(u16, &'static str)] = match vendor {
        Vendor::Plexy => &PLEXY_ERRORS,
        Vendor::PayNext => &PAYNEXT_ERRORS,
        Vendor::Payabli => &PAYABLI_ERRORS,
    };
    out.extend_from_slice(errors);
    out
}

const CURRENCIES: [Currency; 6] = [
    Currency::USD,
    Currency::JPY,
    Currency::KWD,
    Currency::CLF,
    Currency::KZT,
    Currency::EUR,
];

/// The request a vendor input answers: full, or partial in several currencies; Payabli
/// queries may carry a snapshot.
fn vendor_request(vendor: Vendor, variant: u8) -> Option<(RefundRequest, Option<Snapshot>)> {
    let (payment, reference, native) = match vendor {
        Vendor::Plexy => (fixtures::PLEXY_PAYMENT, "rf-7f3c2b", Currency::KZT),
        Vendor::PayNext => (fixtures::PAYNEXT_PAYMENT, "rf-9c01", Currency::USD),
        Vendor::Payabli => (fixtures::PAYABLI_TRANS, "rf-9c01", Currency::USD),
    };
    // PayNext refuses partial refunds before sending, so its answers always answer a full one.
    let variant = if vendor == Vendor::PayNext {
        0
    } else {
        variant
    };
    let amount = match variant % 6 {
        0 | 5 => None,
        1 => Some(("10.50", native)),
        2 => Some(("1000", Currency::JPY)),
        3 => Some(("1.005", Currency::KWD)),
        _ => Some(("0.01", Currency::USD)),
    };
    let request = fixtures::request(payment, reference, amount).ok()?;
    let snapshot = match variant % 6 {
        3 => Some(Snapshot::new("refund_id=0")),
        4 => Some(Snapshot::new("refund_id=1279665")),
        _ => None,
    };
    Some((request, snapshot))
}

/// The longest error message a decoder may produce: errors quote excerpts, never whole bodies.
const MAX_ERROR_DISPLAY: usize = 1024;

fn run_vendor(vendor: Vendor, op: fixtures::Op, data: &[u8]) -> Result<bool, String> {
    let (status, variant, body) = match data {
        [s, v, body @ ..] => (
            STATUSES
                .get(usize::from(s.wrapping_sub(b'A')) % STATUSES.len())
                .copied()
                .unwrap_or(200),
            v.wrapping_sub(b'A'),
            body,
        ),
        _ => (200, 0, data),
    };
    let Some((request, snapshot)) = vendor_request(vendor, variant) else {
        return Err("the fixture request is invalid".to_owned());
    };
    let response = fixtures::response(vendor, status, body.to_vec());
    let success = (200..300).contains(&status);
    match op {
        fixtures::Op::Refund => {
            let result = match vendor {
                Vendor::Plexy => refund_plexy::__bench::refund(&response, &request),
                Vendor::PayNext => refund_paynext::__bench::refund(&response, &request),
                Vendor::Payabli => refund_payabli::__bench::refund(&response, &request),
            };
            match result {
                Ok(refund) => {
                    let readable = success || (vendor == Vendor::Payabli && status == 402);
                    if !readable {
                        return Err(format!("http {status} was read as a refund outcome"));
                    }
                    if refund.provider != vendor.id()
                        || refund.payment_id != *request.payment_id()
                        || refund.reference != *request.reference()
                    {
                        return Err(
                            "the outcome names another provider, payment or reference".to_owned()
                        );
                    }
                    if (refund.status == RefundStatus::Declined) != refund.decline.is_some() {
                        return Err(format!(
                            "status {} with decline {:?}",
                            refund.status, refund.decline
                        ));
                    }
                    if vendor == Vendor::Plexy {
                        let currency = request.amount().partial().map(|m| m.currency());
                        for m in [refund.amount, refund.remaining].into_iter().flatten() {
                            if Some(m.currency()) != currency {
                                return Err(format!("amount {m} in a currency not asked for"));
                            }
                        }
                    }
                    Ok(true)
                }
                Err(e) => {
                    let shown = e.to_string();
                    if shown.len() > MAX_ERROR_DISPLAY {
                        return Err(format!(
                            "an error message of {} bytes: {}",
                            shown.len(),
                            clip(&shown, 300)
                        ));
                    }
                    // §0.4: a 5xx, or a 2xx that cannot be read, may hide an applied refund.
                    let may_be_applied = success || (500..600).contains(&status);
                    if may_be_applied && e.kind() != ErrorKind::OutcomeUnknown {
                        return Err(format!(
                            "http {status} on a refund POST gave {:?}, not OutcomeUnknown: {shown}",
                            e.kind()
                        ));
                    }
                    if status == 429 && e.kind() != ErrorKind::RateLimited {
                        return Err(format!("http 429 gave {:?}", e.kind()));
                    }
                    Ok(false)
                }
            }
        }
        fixtures::Op::FindRefund => {
            let query = RefundQuery::for_request(&request).with_snapshot(snapshot);
            let result = match vendor {
                Vendor::Plexy => refund_plexy::__bench::find_refund(&response, &query),
                Vendor::PayNext => refund_paynext::__bench::find_refund(&response, &query),
                Vendor::Payabli => refund_payabli::__bench::find_refund(&response, &query),
            };
            match result {
                Ok(Lookup::Absent) => {
                    absence_is_proven(vendor, status, body, &query)?;
                    Ok(true)
                }
                Ok(Lookup::Found(refund)) => {
                    if !success {
                        return Err(format!("http {status} was read as a found refund"));
                    }
                    if refund.payment_id != query.payment_id || refund.reference != query.reference
                    {
                        return Err("a found refund names another payment or reference".to_owned());
                    }
                    Ok(true)
                }
                Ok(_) => Ok(true),
                Err(e) => {
                    let shown = e.to_string();
                    if shown.len() > MAX_ERROR_DISPLAY {
                        return Err(format!(
                            "an error message of {} bytes: {}",
                            shown.len(),
                            clip(&shown, 300)
                        ));
                    }
                    Ok(false)
                }
            }
        }
        fixtures::Op::Lookup => {
            let result = fixtures::decode(vendor, op, &response, &request);
            match result {
                Ok(_) if !success => Err(format!("http {status} was read as a lookup answer")),
                Ok(_) => Ok(true),
                Err(e) => {
                    let shown = e.to_string();
                    if shown.len() > MAX_ERROR_DISPLAY {
                        return Err(format!(
                            "an error message of {} bytes: {}",
                            shown.len(),
                            clip(&shown, 300)
                        ));
                    }
                    Ok(false)
                }
            }
        }
    }
}

/// The independent check of §0.5 on the same bytes: `Absent` allows a re-send, so it must come
/// only from the provider's own proof of absence.
fn absence_is_proven(
    vendor: Vendor,
    status: u16,
    body: &[u8],
    query: &RefundQuery,
) -> Result<(), String> {
    // JSON is UTF-8: a body that is not cannot prove anything.
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(format!(
            "absent from http {status} with a body that is not UTF-8"
        ));
    };
    let value = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => Some(v),
        // Valid JSON that `Value` cannot hold (nesting over 128 levels, a number beyond f64):
        // the oracle cannot judge it, so the property is not checked for this input.
        Err(e)
            if e.to_string().contains("recursion limit")
                || e.to_string().contains("number out of range") =>
        {
            return Ok(());
        }
        Err(_) => None,
    };
    let object = value.as_ref().and_then(serde_json::Value::as_object);
    match vendor {
        Vendor::Plexy => {
            // Only Plexy's own error body with code 4 proves absence; a bare
            // `{"message":"Not Found"}` is any unknown route's answer (issue 16).
            let plexy_body =
                object.is_some_and(|o| o.get("code").is_some_and(|c| c == 4 || c == "4"));
            if status != 404 || !plexy_body {
                return Err(format!(
                    "absent from http {status} without Plexy's 404 body"
                ));
            }
        }
        Vendor::PayNext => {
            let Some(o) = object else {
                return Err("absent from a body that is not a JSON object".to_owned());
            };
            let id_ok =
                o.get("id").and_then(serde_json::Value::as_str) == Some(query.payment_id.as_str());
            let no_refund = o.get("refund").is_none_or(serde_json::Value::is_null);
            let nothing_refunded = o
                .get("refunded_amount")
                .is_none_or(|v| v.is_null() || v.as_i64() == Some(0));
            if !(200..300).contains(&status) || !id_ok || !no_refund || !nothing_refunded {
                return Err(format!(
                    "absent from http {status} whose body does not prove it (id {id_ok}, refund null {no_refund}, refunded 0 {nothing_refunded})"
                ));
            }
        }
        Vendor::Payabli => {
            // Payabli field names are matched case-insensitively (§3.4): every spelling present
            // must agree, or the answer is ambiguous and proves nothing. Every member is read in
            // order with duplicates kept (a `Value` keeps only the last one).
            let Ok(Pairs(pairs)) = serde_json::from_str::<Pairs>(text) else {
                return Err("absent from a body that is not a JSON object".to_owned());
            };
            let all = |name: &str| -> Vec<&serde_json::Value> {
                pairs
                    .iter()
                    .map(|(k, v)| (k, v))
                    // `null` counts as "not provided" (§0.6).
                    .filter(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_null())
                    .map(|(_, v)| v)
                    .collect()
            };
            let ids = all("PaymentTransId");
            let refund_ids = all("RefundId");
            let id_ok = !ids.is_empty()
                && ids
                    .iter()
                    .all(|v| v.as_str() == Some(query.payment_id.as_str()));
            let snapshot = query
                .snapshot
                .as_ref()
                .and_then(|s| s.as_str().strip_prefix("refund_id="))
                .and_then(|s| s.parse::<i64>().ok());
            let expected = match query.amount {
                refund_core::RefundAmount::Full => Some(0),
                _ => snapshot,
            };
            let refund_ok = !refund_ids.is_empty()
                && refund_ids
                    .iter()
                    .all(|v| expected.is_some() && v.as_i64() == expected);
            if status != 200 || !id_ok || !refund_ok {
                return Err(format!(
                    "absent from http {status} whose body does not prove it (PaymentTransId {id_ok}, RefundId {refund_ok})"
                ));
            }
        }
    }
    Ok(())
}

/// The first `n` characters of a text, for messages.
pub fn clip(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// A JSON object's members in order, duplicates kept.
struct Pairs(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Pairs {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Pairs, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(Pairs(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn run_money(data: &[u8]) -> Result<bool, String> {
    let (currency, text) = match data {
        [c, rest @ ..] => (
            CURRENCIES
                .get(usize::from(c.wrapping_sub(b'A')) % CURRENCIES.len())
                .copied()
                .unwrap_or(Currency::USD),
            String::from_utf8_lossy(rest).into_owned(),
        ),
        [] => (Currency::USD, String::new()),
    };
    let e = usize::from(currency.exponent());
    // The oracle: digits, optionally `.` and 1..=e digits, and the value fits in i64 minor units.
    let oracle = {
        let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
        let has_point = text.contains('.');
        let shape = !int.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
            && (!has_point || (!frac.is_empty() && frac.len() <= e));
        if shape {
            let padded = format!("{int}{frac}{}", "0".repeat(e.saturating_sub(frac.len())));
            padded.parse::<i64>().ok()
        } else {
            None
        }
    };
    match (Money::parse(&text, currency), oracle) {
        (Ok(m), Some(minor)) if m.minor_units() == minor && m.currency() == currency => {
            let back = m.decimal_text();
            if Money::parse(&back, currency).ok() != Some(m) {
                return Err(format!("{text:?} → {back:?} does not parse back"));
            }
            let frac_digits = back.split_once('.').map_or(0, |(_, f)| f.len());
            if frac_digits != e {
                return Err(format!(
                    "{back:?} has {frac_digits} fraction digits, not {e}"
                ));
            }
            // Through an exact JSON number and back.
            let json = serde_json::to_string(&m.to_json_number()).map_err(|x| x.to_string())?;
            let read: JsonDecimal = serde_json::from_str(&json).map_err(|x| x.to_string())?;
            if Money::from_decimal(read.value(), currency).ok() != Some(m) {
                return Err(format!("{json} does not read back as {m}"));
            }
            Ok(true)
        }
        (Ok(m), oracle) => Err(format!(
            "{text:?} {currency} parsed as {} minor units, oracle {oracle:?}",
            m.minor_units()
        )),
        (Err(e), Some(minor)) => Err(format!(
            "{text:?} {currency} refused ({e}) but is {minor} minor units"
        )),
        (Err(e), None) if e.kind() != ErrorKind::InvalidInput => {
            Err(format!("{text:?} refused with {:?}", e.kind()))
        }
        (Err(_), None) => Ok(false),
    }
}

fn run_json_number(data: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let parsed = JsonDecimal::parse_literal(text);
    let is_json_number = matches!(
        serde_json::from_str::<serde_json::Value>(text),
        Ok(serde_json::Value::Number(_))
    ) && !text.starts_with(char::is_whitespace)
        && !text.ends_with(char::is_whitespace);
    // An exact oracle where rust_decimal has one.
    let oracle = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str_exact(text).ok()
    };
    match parsed {
        Some(d) => {
            if !is_json_number {
                return Err(format!("{text:?} is not a JSON number but parsed as {d}"));
            }
            if !text.contains(['e', 'E']) && oracle.is_some_and(|o| o != d) {
                return Err(format!(
                    "{text:?} parsed as {d}, rust_decimal says {oracle:?}"
                ));
            }
            let written = serde_json::to_string(&JsonDecimal::new(d)).map_err(|e| e.to_string())?;
            let back: JsonDecimal = serde_json::from_str(&written).map_err(|e| e.to_string())?;
            if back.value() != d {
                return Err(format!("{d} written as {written} reads back as {back}"));
            }
            // The same literal inside a document reads the same.
            let wrapped: BTreeMap<String, JsonDecimal> =
                serde_json::from_str(&format!("{{\"a\":{text}}}")).map_err(|e| e.to_string())?;
            if wrapped.get("a").map(JsonDecimal::value) != Some(d) {
                return Err(format!("{text:?} reads differently inside an object"));
            }
            Ok(true)
        }
        None => {
            // Completeness where it is decidable: a plain JSON number that rust_decimal reads
            // exactly (at most 28 fraction digits, 96-bit mantissa) must be accepted.
            let plain = !text.contains(['e', 'E']);
            if is_json_number && plain && oracle.is_some() {
                return Err(format!("{text:?} is an exact decimal but was refused"));
            }
            Ok(false)
        }
    }
}

fn run_ids(data: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let mut accepted = false;

    // RefundReference against its rule (§0.1), both ways.
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    let rule =
        (1..=64).contains(&text.len()) && text.chars().all(allowed) && text != "." && text != "..";
    match RefundReference::new(text) {
        Ok(r) => {
            if !rule {
                return Err(format!("reference {text:?} accepted against §0.1"));
            }
            if HeaderValue::from_str(r.as_str()).is_err() {
                return Err(format!("reference {text:?} is not a header value"));
            }
            if serde_json::to_string(r.as_str()).ok() != Some(format!("\"{text}\"")) {
                return Err(format!("reference {text:?} needs escaping in JSON"));
            }
            check_segment(r.as_str())?;
            accepted = true;
        }
        Err(e) => {
            if rule {
                return Err(format!("reference {text:?} refused: {e}"));
            }
        }
    }

    // PaymentId: 1..=256 bytes, no control characters, no surrounding white space.
    let rule = (1..=256).contains(&text.len())
        && !text.chars().any(char::is_control)
        && text.trim() == text;
    match PaymentId::new(text) {
        Ok(id) => {
            if !rule {
                return Err(format!("payment id {text:?} accepted against its rule"));
            }
            if id.as_str() != "." && id.as_str() != ".." {
                check_segment(id.as_str())?;
            } else if encode_path_param(id.as_str()).is_ok() {
                return Err(format!("{text:?} was accepted as a path segment"));
            }
            accepted = true;
        }
        Err(e) => {
            if rule {
                return Err(format!("payment id {text:?} refused: {e}"));
            }
        }
    }
    Ok(accepted)
}

/// §0.2: a parameter becomes exactly one path segment that decodes back to it.
fn check_segment(value: &str) -> Result<(), String> {
    let base = BaseUrl::parse("https://api.example.com/v1").map_err(|e| e.to_string())?;
    let endpoint = base
        .endpoint(&[
            Segment::Lit("payments"),
            Segment::Param(value),
            Segment::Lit("refund"),
        ])
        .map_err(|e| format!("{value:?}: {e}"))?;
    let segments: Vec<&str> = endpoint
        .url()
        .path_segments()
        .map(Iterator::collect)
        .unwrap_or_default();
    let [v1, payments, encoded, refund] = segments.as_slice() else {
        return Err(format!("{value:?} gave the path {}", endpoint.path()));
    };
    if (*v1, *payments, *refund) != ("v1", "payments", "refund") {
        return Err(format!("{value:?} gave the path {}", endpoint.path()));
    }
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    if !encoded.bytes().all(|b| unreserved(b) || b == b'%') {
        return Err(format!("{value:?} was encoded as {encoded:?}"));
    }
    if percent_decode(encoded).as_deref() != Some(value.as_bytes()) {
        return Err(format!("{encoded:?} does not decode back to {value:?}"));
    }
    if endpoint.url().query().is_some() || endpoint.url().fragment().is_some() {
        return Err(format!("{value:?} made a query or a fragment"));
    }
    Ok(())
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if hex.bytes().any(|h| h.is_ascii_lowercase()) {
                return None; // §0.2: uppercase hex
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

fn run_base_url(data: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(data);
    match BaseUrl::parse(&text) {
        Ok(base) => {
            let url = base.as_url();
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            match url.scheme() {
                "https" => {}
                "http" if loopback => {}
                other => {
                    return Err(format!(
                        "{text:?} accepted with scheme {other} (loopback {loopback})"
                    ));
                }
            }
            if !url.username().is_empty() || url.password().is_some() {
                return Err(format!("{text:?} accepted with credentials"));
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(format!("{text:?} accepted with a query or fragment"));
            }
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::Config || e.kind() == ErrorKind::InvalidInput => Ok(false),
        Err(e) => Err(format!("{text:?} refused with {:?}", e.kind())),
    }
}
