//! Base URLs and request URLs: the https rule, and one path segment per path parameter.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use url::{Host, Url};

use crate::error::{Error, Result};

/// Every byte outside the RFC 3986 unreserved set `A–Z a–z 0–9 - . _ ~` is percent-encoded
/// (contract §0.2). `percent-encoding` writes uppercase hex digits.
const PATH_PARAM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes one path parameter as exactly one path segment (contract §0.2).
///
/// Every UTF-8 byte outside `A–Z a–z 0–9 - . _ ~` becomes `%XX` with uppercase hex, so `/`
/// becomes `%2F`, a space `%20` and `%` itself `%25`: `a/b c` gives `a%2Fb%20c`.
///
/// # Errors
/// [`InvalidInput`](crate::ErrorKind::InvalidInput) when the value is empty, `.` or `..`: a
/// server would read those as "this directory" or "the parent directory", never as an id.
pub fn encode_path_param(value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(Error::invalid_input("a path parameter must not be empty"));
    }
    if value == "." || value == ".." {
        return Err(Error::invalid_input(
            "a path parameter must not be \".\" or \"..\"",
        ));
    }
    Ok(utf8_percent_encode(value, PATH_PARAM).to_string())
}

/// Whether `host` is a loopback host: `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(host: Option<Host<&str>>) -> bool {
    match host {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The root URL of a provider's API, such as `https://api.plexypay.com/v1`.
///
/// Parsed with [`BaseUrl::parse`] (or [`str::parse`]), which enforces:
/// - `https`, or plain `http` only for a loopback host (`localhost`, `127.0.0.0/8`, `::1`), so
///   that an API key never crosses a network in clear text while local test servers still work;
/// - no user name or password, no query and no fragment;
/// - any base path is kept (`/v1`, `/api`), and a trailing slash is ignored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    /// The URL with its path normalized to have no trailing slash (`/` when there is no path).
    url: Url,
    /// The base path without a trailing slash: `""` or `/v1`.
    prefix: String,
}

impl BaseUrl {
    /// Parses and checks a base URL.
    ///
    /// # Errors
    /// [`Config`](crate::ErrorKind::Config) when the text is not an absolute URL, uses a scheme
    /// other than `https` (or `http` on a loopback host), carries credentials, a query or a
    /// fragment. A bad base URL is a configuration mistake, not bad input for one request, hence
    /// `Config` rather than `InvalidInput`. The message never repeats the URL, which could hold
    /// credentials.
    pub fn parse(text: &str) -> Result<BaseUrl> {
        let url = Url::parse(text)
            .map_err(|e| Error::config(format!("the base URL is not a valid URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(url.host()) => {}
            "http" => {
                return Err(Error::config(
                    "the base URL must use https (plain http is allowed only for localhost, \
                     127.0.0.0/8 and ::1)",
                ));
            }
            _ => return Err(Error::config("the base URL must use https")),
        }
        if url.host().is_none() || url.cannot_be_a_base() {
            return Err(Error::config("the base URL has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(
                "the base URL must not contain a user name or password",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(
                "the base URL must not have a query or a fragment",
            ));
        }
        let prefix = url.path().trim_end_matches('/').to_owned();
        let mut url = url;
        url.set_path(if prefix.is_empty() { "/" } else { &prefix });
        Ok(BaseUrl { url, prefix })
    }

    /// The base URL as text (no trailing slash unless there is no path).
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The base URL.
    pub fn as_url(&self) -> &Url {
        &self.url
    }

    /// Whether the host is a loopback host (`localhost`, `127.0.0.0/8`, `::1`): a local
    /// emulator such as `refund-sandbox`, never a provider.
    pub fn is_loopback(&self) -> bool {
        is_loopback(self.url.host())
    }

    /// The URL of an operation: the base path followed by `segments`.
    ///
    /// Each [`Segment::Param`] becomes exactly one percent-encoded segment
    /// ([`encode_path_param`]); each [`Segment::Lit`] is written as it is and may hold several
    /// segments (`"v2/MoneyIn/refund"`).
    ///
    /// ```
    /// use refund_core::http::{BaseUrl, Segment};
    ///
    /// # fn main() -> Result<(), refund_core::Error> {
    /// let base = BaseUrl::parse("https://api.plexypay.com/v1/")?;
    /// let url = base.endpoint(&[Segment::Lit("payments"), Segment::Param("ab/c d"), Segment::Lit("refund")])?;
    /// assert_eq!(url.as_str(), "https://api.plexypay.com/v1/payments/ab%2Fc%20d/refund");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) when a parameter is empty, `.` or `..`;
    /// [`Config`](crate::ErrorKind::Config) when a literal is not made of non-empty segments of
    /// `A–Z a–z 0–9 - . _ ~` (a programming mistake in the caller).
    pub fn endpoint(&self, segments: &[Segment<'_>]) -> Result<Endpoint> {
        let mut path = self.prefix.clone();
        for segment in segments {
            match segment {
                Segment::Lit(text) => {
                    for piece in text.split('/') {
                        check_literal(piece)?;
                        path.push('/');
                        path.push_str(piece);
                    }
                }
                Segment::Param(value) => {
                    path.push('/');
                    path.push_str(&encode_path_param(value)?);
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        let mut url = self.url.clone();
        url.set_path(&path);
        // Our segments only hold unreserved characters and `%XX`, which the URL parser keeps as
        // they are; check anyway, because sending a different path than the one we built could
        // address another resource.
        if url.path() != path {
            return Err(Error::config("the request path could not be built exactly"));
        }
        Ok(Endpoint { url })
    }
}

fn check_literal(piece: &str) -> Result<()> {
    let ok = !piece.is_empty()
        && piece != "."
        && piece != ".."
        && piece
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if ok {
        Ok(())
    } else {
        Err(Error::config(format!(
            "invalid literal path segment {piece:?}"
        )))
    }
}

impl FromStr for BaseUrl {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        BaseUrl::parse(s)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({:?})", self.url.as_str())
    }
}

/// One piece of a request path, for [`BaseUrl::endpoint`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Fixed text from the code, written as it is; may contain `/` between segments.
    Lit(&'static str),
    /// A value (an id, a reference, an amount): percent-encoded into exactly one segment.
    Param(&'a str),
}

/// The full URL of one operation, built by [`BaseUrl::endpoint`]. It never has a query.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    url: Url,
}

impl Endpoint {
    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The percent-encoded path, exactly as it goes on the wire (`/v1/payments/a%2Fb/refund`).
    pub fn path(&self) -> &str {
        self.url.path()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.url.as_str())
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({:?})", self.url.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn encodes_one_segment() {
        for (raw, encoded) in [
            ("a/b c", "a%2Fb%20c"),
            ("ab/c d", "ab%2Fc%20d"),
            ("100%", "100%25"),
            ("A-z_0.9~", "A-z_0.9~"),
            ("...", "..."),
            (".hidden", ".hidden"),
            ("10.50", "10.50"),
            ("a?b#c", "a%3Fb%23c"),
            ("a\\b", "a%5Cb"),
            ("é", "%C3%A9"),
            ("+:@!$&'()*,;=", "%2B%3A%40%21%24%26%27%28%29%2A%2C%3B%3D"),
        ] {
            assert_eq!(encode_path_param(raw).unwrap(), encoded, "{raw:?}");
        }
        for bad in ["", ".", ".."] {
            assert_eq!(
                encode_path_param(bad).unwrap_err().kind(),
                ErrorKind::InvalidInput,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn base_urls() {
        for (text, expected) in [
            ("https://api.plexypay.com/v1", "https://api.plexypay.com/v1"),
            (
                "https://api.plexypay.com/v1/",
                "https://api.plexypay.com/v1",
            ),
            ("https://api.payabli.com/api", "https://api.payabli.com/api"),
            ("https://api.paynext.com", "https://api.paynext.com/"),
            ("https://api.paynext.com/", "https://api.paynext.com/"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/"),
            ("http://127.1.2.3:8080/v1/", "http://127.1.2.3:8080/v1"),
            ("http://localhost:1/x", "http://localhost:1/x"),
            ("http://LOCALHOST:1/x", "http://localhost:1/x"),
            ("http://[::1]:9/", "http://[::1]:9/"),
        ] {
            assert_eq!(BaseUrl::parse(text).unwrap().as_str(), expected, "{text}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "http://[::2]/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
            "https://user:pw@api.example.com/",
            "https://api.example.com/?key=1",
            "https://api.example.com/#x",
            "api.example.com",
            "",
            "mailto:x@example.com",
        ] {
            let err = BaseUrl::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
            if bad.contains("pw@") {
                assert!(!err.to_string().contains("pw"), "{err}");
            }
        }
    }

    #[test]
    fn endpoints_keep_the_base_path() {
        let plexy = BaseUrl::parse("https://api.plexypay.com/v1/").unwrap();
        let url = plexy
            .endpoint(&[
                Segment::Lit("payments"),
                Segment::Param("ab/c d"),
                Segment::Lit("refund"),
            ])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.plexypay.com/v1/payments/ab%2Fc%20d/refund"
        );
        assert_eq!(url.path(), "/v1/payments/ab%2Fc%20d/refund");

        let payabli = BaseUrl::parse("https://api.payabli.com/api").unwrap();
        let url = payabli
            .endpoint(&[
                Segment::Lit("v2/MoneyIn/refund"),
                Segment::Param("10-3ffa27df"),
                Segment::Param("10.50"),
            ])
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.payabli.com/api/v2/MoneyIn/refund/10-3ffa27df/10.50"
        );

        let paynext = BaseUrl::parse("https://api.paynext.com").unwrap();
        let url = paynext
            .endpoint(&[Segment::Lit("payments"), Segment::Param("%2e%2E")])
            .unwrap();
        assert_eq!(url.as_str(), "https://api.paynext.com/payments/%252e%252E");
        assert_eq!(
            paynext.endpoint(&[]).unwrap().as_str(),
            "https://api.paynext.com/"
        );
    }

    #[test]
    fn endpoint_refusals() {
        let base = BaseUrl::parse("https://api.example.com/v1").unwrap();
        for bad in ["", ".", ".."] {
            let err = base
                .endpoint(&[Segment::Lit("payments"), Segment::Param(bad)])
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
        }
        for bad in ["", "/a", "a/", "a//b", "a/../b", "a b", "a%2F", "."] {
            let err = base.endpoint(&[Segment::Lit(bad)]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad:?}");
        }
    }
}
