//! Which crate versions the registry has, and publishing in order that resumes after a failure.
//!
//! Publishing a workspace is not atomic: a release can stop half-way (network, a rejected
//! crate). A rerun asks the registry for each crate first and skips those already there.

use std::time::Duration;

use cargo_metadata::semver::Version;

use crate::util::Result;

/// Where published crate versions are looked up (a trait so tests answer without network).
pub(crate) trait Registry {
    /// Whether `name` is on the registry at `version`. Yanked versions count: they cannot be
    /// published again.
    fn is_published(&self, name: &str, version: &Version) -> Result<bool>;
}

/// crates.io through its sparse index (`https://index.crates.io/…`), which needs no API token.
pub(crate) struct SparseIndex {
    base: String,
    client: reqwest::blocking::Client,
}

impl SparseIndex {
    /// The crates.io index.
    pub(crate) fn crates_io() -> Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!(
                "refund-rs-xtask/",
                env!("CARGO_PKG_VERSION"),
                " (cargo xtask release)"
            ))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        Ok(Self {
            base: "https://index.crates.io".to_owned(),
            client,
        })
    }
}

impl Registry for SparseIndex {
    fn is_published(&self, name: &str, version: &Version) -> Result<bool> {
        let url = format!("{}/{}", self.base, index_path(name)?);
        let response = self
            .client
            .get(&url)
            // Ask the CDN for a fresh answer: a crate published a minute ago must show.
            .header(reqwest::header::CACHE_CONTROL, "no-cache")
            .send()
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Ok(false);
        }
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let body = response
            .text()
            .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
        index_lists(&body, version).map_err(|e| format!("{url}: {e}"))
    }
}

/// The path of a crate's file in a sparse index (cargo's layout: `1/a`, `2/ab`, `3/a/abc`,
/// `se/rd/serde`), lowercase.
pub(crate) fn index_path(name: &str) -> Result<String> {
    let name = name.to_ascii_lowercase();
    let invalid = || format!("`{name}` is not a valid crate name");
    if name.is_empty() || !name.is_ascii() {
        return Err(invalid());
    }
    Ok(match name.len() {
        1 => format!("1/{name}"),
        2 => format!("2/{name}"),
        3 => format!("3/{}/{name}", name.get(..1).ok_or_else(invalid)?),
        _ => format!(
            "{}/{}/{name}",
            name.get(..2).ok_or_else(invalid)?,
            name.get(2..4).ok_or_else(invalid)?
        ),
    })
}

/// Whether an index file (one JSON object per line, one line per published version) lists
/// `version`. crates.io ignores build metadata when it compares versions, and so does this.
pub(crate) fn index_lists(text: &str, version: &Version) -> Result<bool> {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("malformed index line: {e}"))?;
        let vers = entry
            .get("vers")
            .and_then(serde_json::Value::as_str)
            .ok_or("an index line has no `vers`")?;
        let listed = Version::parse(vers).map_err(|e| format!("bad version `{vers}`: {e}"))?;
        if (listed.major, listed.minor, listed.patch, &listed.pre)
            == (version.major, version.minor, version.patch, &version.pre)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a publishing run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Publication {
    /// Found on the registry at the release version, so not published again.
    pub(crate) already: Vec<String>,
    /// Published by this run.
    pub(crate) published: Vec<String>,
}

/// Publishes `order` one crate at a time with `publish`, skipping the crates the registry has at
/// `version` already.
///
/// # Errors
/// The first failure stops the run; the message says what is on the registry, what is not, and
/// how to resume.
pub(crate) fn publish_in_order(
    order: &[String],
    version: &Version,
    registry: &dyn Registry,
    publish: &mut dyn FnMut(&str) -> Result,
) -> Result<Publication> {
    let mut done = Publication::default();
    for (index, name) in order.iter().enumerate() {
        let result = match registry.is_published(name, version) {
            Ok(true) => {
                eprintln!("{name} {version} is on the registry already: skipped");
                done.already.push(name.clone());
                continue;
            }
            Ok(false) => publish(name),
            Err(e) => Err(format!("cannot tell whether it is published: {e}")),
        };
        if let Err(e) = result {
            let list = |names: &[String]| {
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            };
            let rest: Vec<String> = order.iter().skip(index).cloned().collect();
            return Err(format!(
                "publishing stopped at {name} {version}: {e}\n  \
                 already on the registry: {}\n  \
                 published by this run: {}\n  \
                 not published: {}\n\
                 Fix the cause, then run `cargo xtask release {version} --execute` again: \
                 it skips the crates already on the registry.",
                list(&done.already),
                list(&done.published),
                list(&rest),
            ));
        }
        done.published.push(name.clone());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeSet;

    use super::*;

    /// A registry that knows what the test tells it, and learns what gets published.
    #[derive(Default)]
    struct FakeRegistry {
        published: RefCell<BTreeSet<(String, Version)>>,
        unreachable: RefCell<BTreeSet<String>>,
    }

    impl Registry for FakeRegistry {
        fn is_published(&self, name: &str, version: &Version) -> Result<bool> {
            if self.unreachable.borrow().contains(name) {
                return Err("connection refused".to_owned());
            }
            Ok(self
                .published
                .borrow()
                .contains(&(name.to_owned(), version.clone())))
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn a_rerun_skips_what_is_published_and_finishes_the_rest() {
        let order = names(&[
            "refund-core",
            "refund-plexy",
            "refund-paynext",
            "refund-facade",
        ]);
        let version = Version::new(0, 2, 0);
        let registry = FakeRegistry::default();
        // A previous run got refund-core out; the old version of refund-plexy is irrelevant.
        registry
            .published
            .borrow_mut()
            .insert(("refund-core".to_owned(), version.clone()));
        registry
            .published
            .borrow_mut()
            .insert(("refund-plexy".to_owned(), Version::new(0, 1, 0)));

        let mut calls = Vec::new();
        let mut failing = |name: &str| {
            calls.push(name.to_owned());
            if name == "refund-paynext" {
                return Err("the registry said 503".to_owned());
            }
            registry
                .published
                .borrow_mut()
                .insert((name.to_owned(), Version::new(0, 2, 0)));
            Ok(())
        };
        let err = publish_in_order(&order, &version, &registry, &mut failing).unwrap_err();
        assert_eq!(calls, ["refund-plexy", "refund-paynext"]);
        assert!(
            err.contains("stopped at refund-paynext 0.2.0: the registry said 503"),
            "{err}"
        );
        assert!(
            err.contains("already on the registry: refund-core\n"),
            "{err}"
        );
        assert!(
            err.contains("published by this run: refund-plexy\n"),
            "{err}"
        );
        assert!(
            err.contains("not published: refund-paynext, refund-facade\n"),
            "{err}"
        );
        assert!(err.contains("cargo xtask release 0.2.0 --execute"), "{err}");

        let mut calls = Vec::new();
        let mut working = |name: &str| {
            calls.push(name.to_owned());
            registry
                .published
                .borrow_mut()
                .insert((name.to_owned(), Version::new(0, 2, 0)));
            Ok(())
        };
        let done = publish_in_order(&order, &version, &registry, &mut working).unwrap();
        assert_eq!(calls, ["refund-paynext", "refund-facade"]);
        assert_eq!(
            done,
            Publication {
                already: names(&["refund-core", "refund-plexy"]),
                published: names(&["refund-paynext", "refund-facade"]),
            }
        );

        // A third run has nothing left to do.
        let mut never = |name: &str| -> Result { panic!("{name} published twice") };
        let done = publish_in_order(&order, &version, &registry, &mut never).unwrap();
        assert_eq!(done.already, order);
        assert!(done.published.is_empty());
    }

    #[test]
    fn an_unanswered_registry_question_stops_before_publishing() {
        let order = names(&["a", "b"]);
        let registry = FakeRegistry::default();
        registry.unreachable.borrow_mut().insert("b".to_owned());
        let mut calls = Vec::new();
        let mut publish = |name: &str| {
            calls.push(name.to_owned());
            Ok(())
        };
        let err =
            publish_in_order(&order, &Version::new(1, 0, 0), &registry, &mut publish).unwrap_err();
        assert_eq!(calls, ["a"]);
        assert!(err.contains("stopped at b 1.0.0: cannot tell"), "{err}");
    }

    #[test]
    fn sparse_index_paths() {
        assert_eq!(index_path("a").unwrap(), "1/a");
        assert_eq!(index_path("ab").unwrap(), "2/ab");
        assert_eq!(index_path("abc").unwrap(), "3/a/abc");
        assert_eq!(index_path("Serde").unwrap(), "se/rd/serde");
        assert_eq!(index_path("refund-core").unwrap(), "re/fu/refund-core");
        assert!(index_path("").is_err());
    }

    #[test]
    fn index_file_lookup() {
        let file = concat!(
            r#"{"name":"refund-core","vers":"0.1.0","deps":[],"cksum":"00","features":{},"yanked":false}"#,
            "\n",
            r#"{"name":"refund-core","vers":"0.2.0-rc.1","deps":[],"cksum":"00","features":{},"yanked":false}"#,
            "\n",
            r#"{"name":"refund-core","vers":"0.1.1+build.7","deps":[],"cksum":"00","features":{},"yanked":true}"#,
            "\n",
        );
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(index_lists(file, &v("0.1.0")).unwrap());
        assert!(index_lists(file, &v("0.2.0-rc.1")).unwrap());
        assert!(!index_lists(file, &v("0.2.0")).unwrap());
        // Yanked still counts, and build metadata does not tell versions apart.
        assert!(index_lists(file, &v("0.1.1")).unwrap());
        assert!(!index_lists("", &v("0.1.0")).unwrap());
        assert!(index_lists("not json\n", &v("0.1.0")).is_err());
    }
}
