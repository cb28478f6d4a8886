//! The served OpenAPI document: well-formed 3.1, every `$ref` resolvable, and in step with the routes the app
//! registers, in both directions, so no route can be added (or removed) without the document following.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use users_server::startup::Production;

use crate::helpers::*;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                refs.push(reference.clone());
            }
            map.values().for_each(|value| collect_refs(value, refs));
        }
        Value::Array(items) => items.iter().for_each(|value| collect_refs(value, refs)),
        _ => {}
    }
}

fn collect_link_targets(value: &Value, targets: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(links)) = map.get("links") {
                targets.extend(links.values().filter_map(|link| link["operationId"].as_str().map(str::to_owned)));
            }
            map.values().for_each(|value| collect_link_targets(value, targets));
        }
        Value::Array(items) => items.iter().for_each(|value| collect_link_targets(value, targets)),
        _ => {}
    }
}

async fn the_document_is_openapi_3_1_and_describes_exactly_the_registered_routes(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let (status, document) = status_and_json(app.client.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);

    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."), "{}", document["openapi"]);
    assert!(document["info"]["title"].is_string() && document["info"]["version"].is_string());
    assert_eq!(document["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");

    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').expect("local references only");
        assert!(document.pointer(pointer).is_some(), "unresolved $ref {reference}");
    }

    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            documented.insert((method.to_uppercase(), path.clone()));
            let responses = operation["responses"].as_object().unwrap();
            assert!(responses.keys().any(|status| status.starts_with('2')), "{method} {path}: no success response");
            assert!(responses.contains_key("500"), "{method} {path}: 500 undocumented");
            if operation.get("security").is_some_and(|security| security.as_array().is_some_and(|s| !s.is_empty())) {
                assert!(responses.contains_key("401"), "{method} {path}: 401 undocumented");
            }
        }
    }
    let operation_ids: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| METHODS.iter().filter_map(move |method| item.get(*method)))
        .map(|operation| operation["operationId"].as_str().expect("every operation has an operationId"))
        .collect();
    let unique: BTreeSet<&str> = operation_ids.iter().copied().collect();
    assert_eq!(unique.len(), operation_ids.len(), "operationIds must be unique: {operation_ids:?}");
    let mut link_targets = Vec::new();
    collect_link_targets(&document, &mut link_targets);
    assert!(!link_targets.is_empty());
    for target in link_targets {
        assert!(unique.contains(target.as_str()), "a link names the unknown operation {target}");
    }

    let registered: BTreeSet<(String, String)> = users_http::endpoints::<Production>()
        .iter()
        .map(|endpoint| (endpoint.method.to_string(), endpoint.path.to_owned()))
        .collect();
    assert_eq!(
        registered.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "undocumented routes"
    );
    assert_eq!(
        documented.difference(&registered).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not served"
    );

    // And the app routes each of them: none falls through to "no such route" or to another method's 405.
    for (method, path) in &documented {
        let concrete = path.replace("{userId}", "6b0514ba33750eebff42152b").replace("{id}", "1");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.client.request(method.clone(), app.url(&concrete)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {body}");
        assert!(!body.contains("no such route"), "{method} {path}: {status} {body}");
    }
}
on_each_store!(the_document_is_openapi_3_1_and_describes_exactly_the_registered_routes);

async fn the_docs_page_is_served_from_the_binary(store: Store) {
    let Some(app) = spawn_app(store).await else { return };
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()["location"], "/docs/");

    let page = app.client.get(app.url("/docs/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Swagger UI"));
    assert!(!page.contains("https://"), "no asset from the network: the page must work offline");
    let script = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK);
    let config = app.client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(config.contains("/openapi.json"), "{config}");
}
on_each_store!(the_docs_page_is_served_from_the_binary);
