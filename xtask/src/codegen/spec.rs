//! The part of OpenAPI 3.1 that the generator reads, as small serde structs, and the checks that
//! keep a spec honest (every `$ref` resolves, every schema keyword and extension is one we know,
//! every ASSUMED item gives its reason).
//!
//! Why not a full OpenAPI crate: the generator reads `components.schemas` only, needs the
//! spec's key order (`IndexMap`), typed extensions (`x-aliases: [..]` as a `Vec<String>`), and must
//! fail on a keyword it does not map (`allOf`, `anyOf`, a misspelt `requried`) instead of silently
//! dropping it. Thirty lines of serde structs plus a keyword list do exactly that; see the
//! "Codegen" section of `ARCHITECTURE.md`.

use indexmap::IndexMap;
use serde::Deserialize;
use yaml_serde::Value;

use crate::util::Result;

/// The typed view of a spec: only what the generator maps.
#[derive(Deserialize)]
pub(crate) struct Document {
    pub(crate) openapi: String,
    #[serde(default)]
    pub(crate) info: Info,
    #[serde(default)]
    pub(crate) components: Components,
}

#[derive(Deserialize, Default)]
pub(crate) struct Info {
    #[serde(default)]
    pub(crate) title: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct Components {
    #[serde(default)]
    pub(crate) schemas: IndexMap<String, Schema>,
}

/// A JSON Schema (2020-12 as used by OpenAPI 3.1), reduced to the keywords that change the Rust
/// we print. Keywords that only validate or annotate (`pattern`, `maxLength`, `examples`, …) are
/// accepted by [`SCHEMA_KEYWORDS`] and ignored here.
#[derive(Deserialize, Default)]
pub(crate) struct Schema {
    #[serde(rename = "$ref")]
    pub(crate) reference: Option<String>,
    #[serde(rename = "type")]
    pub(crate) ty: Option<Types>,
    pub(crate) format: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) properties: IndexMap<String, Schema>,
    #[serde(default)]
    pub(crate) required: Vec<String>,
    #[serde(rename = "additionalProperties")]
    pub(crate) additional_properties: Option<AdditionalProperties>,
    pub(crate) items: Option<Box<Schema>>,
    #[serde(rename = "enum")]
    enum_closed: Option<Vec<Value>>,
    #[serde(rename = "x-extensible-enum")]
    enum_extensible: Option<Vec<Value>>,
    #[serde(rename = "oneOf")]
    pub(crate) one_of: Option<Vec<Schema>>,
    #[serde(rename = "x-confidence")]
    pub(crate) confidence: Option<String>,
    #[serde(rename = "x-reason")]
    pub(crate) reason: Option<String>,
    #[serde(rename = "x-rust-type")]
    pub(crate) rust_type: Option<String>,
    #[serde(rename = "x-aliases", default)]
    pub(crate) aliases: Vec<String>,
    #[serde(rename = "x-case-insensitive", default)]
    pub(crate) case_insensitive: bool,
    #[serde(rename = "x-enum-varnames")]
    pub(crate) enum_varnames: Option<Vec<String>>,
    #[serde(rename = "x-enum-descriptions")]
    pub(crate) enum_descriptions: Option<Vec<String>>,
}

/// `type: string` or `type: [string, "null"]`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Types {
    One(String),
    Many(Vec<String>),
}

/// `additionalProperties: true|false` or a schema for the values of a map.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum AdditionalProperties {
    Bool(bool),
    Schema(Box<Schema>),
}

impl Schema {
    /// The non-null JSON types this schema names (`type: [string, "null"]` gives `["string"]`).
    pub(crate) fn types(&self) -> Vec<&str> {
        let all: Vec<&str> = match &self.ty {
            None => Vec::new(),
            Some(Types::One(t)) => vec![t.as_str()],
            Some(Types::Many(ts)) => ts.iter().map(String::as_str).collect(),
        };
        all.into_iter().filter(|t| *t != "null").collect()
    }

    /// Whether `null` is an allowed value (`type` lists it, or a `oneOf` item is `type: 'null'`).
    pub(crate) fn is_nullable(&self) -> bool {
        let listed = match &self.ty {
            Some(Types::One(t)) => t == "null",
            Some(Types::Many(ts)) => ts.iter().any(|t| t == "null"),
            None => false,
        };
        listed || self.one_of.iter().flatten().any(Schema::is_null)
    }

    /// The listed values of `enum` or `x-extensible-enum` (the generator makes both open; the
    /// specs use the latter so that JSON Schema validators accept unknown values too, §0.6).
    pub(crate) fn enum_values(&self) -> Option<&[Value]> {
        self.enum_extensible
            .as_deref()
            .or(self.enum_closed.as_deref())
    }

    /// `{type: 'null'}` and nothing else that matters.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.ty, Some(Types::One(t)) if t == "null")
    }
}

/// Every schema keyword a spec may use. The generator maps some and ignores the rest, but a key
/// outside this list is an error, so a typo or an unsupported construct never passes silently.
const SCHEMA_KEYWORDS: &[&str] = &[
    // Mapped to Rust.
    "$ref",
    "type",
    "format",
    "title",
    "description",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "oneOf",
    "x-extensible-enum",
    // Validation and annotation only (documentation for maintainers and test-server authors).
    "const",
    "default",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "minItems",
    "dependentRequired",
    "examples",
    "deprecated",
    "not",
    // Extensions (see the top of each spec and ARCHITECTURE.md "Codegen").
    "x-confidence",
    "x-reason",
    "x-rust-type",
    "x-aliases",
    "x-case-insensitive",
    "x-enum-varnames",
    "x-enum-descriptions",
];

/// Extensions allowed outside schemas (operations, parameters, servers, responses, …).
const DOCUMENT_EXTENSIONS: &[&str] = &["x-confidence", "x-reason"];

const CONFIDENCES: &[&str] = &["confirmed", "observed", "assumed"];

/// Parses a spec and checks it; the typed view is returned only for a spec that passes.
pub(crate) fn parse(text: &str, origin: &str) -> Result<Document> {
    // Parsing into a `Value` first rejects duplicate keys, which a map type would silently merge.
    let tree: Value =
        yaml_serde::from_str(text).map_err(|e| format!("{origin}: not valid YAML: {e}"))?;
    let mut problems = Vec::new();
    check_tree(&tree, &tree, "#", &mut problems);
    if let Some(schemas) = lookup(&tree, &["components", "schemas"]).and_then(Value::as_mapping) {
        for (name, schema) in schemas {
            let name = name.as_str().unwrap_or("?");
            check_schema_keywords(
                schema,
                &format!("#/components/schemas/{name}"),
                &mut problems,
            );
        }
    }
    if !problems.is_empty() {
        return Err(format!("{origin}:\n  {}", problems.join("\n  ")));
    }
    let doc: Document = yaml_serde::from_value(tree)
        .map_err(|e| format!("{origin}: not an OpenAPI document we can read: {e}"))?;
    if !doc.openapi.starts_with("3.1.") {
        return Err(format!(
            "{origin}: `openapi` is {:?}; the generator reads OpenAPI 3.1 documents",
            doc.openapi
        ));
    }
    Ok(doc)
}

/// Walks the whole document: `$ref`s resolve, extensions are known, confidences are valid and
/// every `x-confidence: assumed` carries a one-line `x-reason`.
fn check_tree(root: &Value, node: &Value, at: &str, problems: &mut Vec<String>) {
    match node {
        Value::Mapping(map) => {
            for (key, value) in map {
                let Some(key) = key.as_str() else {
                    problems.push(format!("{at}: a key is not a string"));
                    continue;
                };
                let here = format!("{at}/{key}");
                if key == "$ref" {
                    match value.as_str() {
                        Some(target) if resolve(root, target).is_some() => {}
                        Some(target) => {
                            problems.push(format!("{here}: `{target}` does not resolve"))
                        }
                        None => problems.push(format!("{here}: not a string")),
                    }
                }
                if key.starts_with("x-")
                    && !DOCUMENT_EXTENSIONS.contains(&key)
                    && !SCHEMA_KEYWORDS.contains(&key)
                {
                    problems.push(format!("{here}: unknown extension `{key}`"));
                }
                check_tree(root, value, &here, problems);
            }
            if map.contains_key("enum") && map.contains_key("x-extensible-enum") {
                problems.push(format!(
                    "{at}: give `enum` or `x-extensible-enum`, not both"
                ));
            }
            if let Some(confidence) = map.get("x-confidence") {
                match confidence.as_str() {
                    Some(c) if CONFIDENCES.contains(&c) => {}
                    _ => {
                        problems.push(format!("{at}: x-confidence must be one of {CONFIDENCES:?}"))
                    }
                }
                let reason = map.get("x-reason").and_then(Value::as_str).map(str::trim);
                if confidence.as_str() == Some("assumed") {
                    match reason {
                        Some(r) if !r.is_empty() && !r.contains('\n') => {}
                        _ => problems
                            .push(format!("{at}: an ASSUMED item needs a one-line `x-reason`")),
                    }
                }
            } else if map.contains_key("x-reason") {
                problems.push(format!("{at}: `x-reason` without `x-confidence`"));
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                check_tree(root, item, &format!("{at}/{i}"), problems);
            }
        }
        Value::Tagged(tagged) => {
            problems.push(format!("{at}: YAML tag {} is not allowed", tagged.tag))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Checks that every key of a schema (and of its sub-schemas) is a keyword we know.
fn check_schema_keywords(schema: &Value, at: &str, problems: &mut Vec<String>) {
    let Some(map) = schema.as_mapping() else {
        problems.push(format!("{at}: a schema must be a mapping"));
        return;
    };
    for (key, value) in map {
        let key = key.as_str().unwrap_or("?");
        if !SCHEMA_KEYWORDS.contains(&key) {
            problems.push(format!(
                "{at}: schema keyword `{key}` is not supported by the generator"
            ));
        }
        let here = format!("{at}/{key}");
        match key {
            "properties" => {
                for (name, sub) in value.as_mapping().into_iter().flatten() {
                    let name = name.as_str().unwrap_or("?");
                    check_schema_keywords(sub, &format!("{here}/{name}"), problems);
                }
            }
            "items" | "not" => check_schema_keywords(value, &here, problems),
            "additionalProperties" if value.is_mapping() => {
                check_schema_keywords(value, &here, problems);
            }
            "oneOf" => {
                for (i, sub) in value.as_sequence().into_iter().flatten().enumerate() {
                    check_schema_keywords(sub, &format!("{here}/{i}"), problems);
                }
            }
            _ => {}
        }
    }
}

/// Resolves a local reference (`#/components/schemas/Name`) in the document.
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix("#/")?;
    let parts: Vec<String> = pointer
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    lookup(root, &parts)
}

fn lookup<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(root, |node, key| node.as_mapping()?.get(*key))
}
