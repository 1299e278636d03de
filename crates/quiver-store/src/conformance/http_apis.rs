//! HTTP APIs: round trip, listing, edits in one transaction, refused edits write nothing.

use quiver_model::http_api::{HttpApi, HttpRoute};

use crate::store::Store;
use crate::StoreError;

fn api(id: &str) -> HttpApi {
    HttpApi {
        api_id: id.to_string(),
        name: format!("api-{id}"),
        description: None,
        created_date: "2026-01-01T00:00:00Z".to_string(),
        routes: vec![],
        integrations: vec![],
        stages: vec![],
        ..Default::default()
    }
}

pub fn http_apis_round_trip_edit_and_delete(s: &dyn Store) {
    assert_eq!(s.get_http_api("a000000001").unwrap(), None);
    s.create_http_api(&api("b000000002")).unwrap();
    s.create_http_api(&api("a000000001")).unwrap();
    assert!(matches!(
        s.create_http_api(&api("a000000001")),
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(
        s.get_http_api("a000000001").unwrap(),
        Some(api("a000000001"))
    );
    let ids: Vec<String> = s
        .list_http_apis()
        .unwrap()
        .into_iter()
        .map(|a| a.api_id)
        .collect();
    assert_eq!(ids, ["a000000001", "b000000002"]);

    let route = HttpRoute {
        route_id: "r000000001".into(),
        route_key: "GET /items".into(),
        target: None,
    };
    let edited = s
        .update_http_api("a000000001", &mut |a| {
            a.routes.push(route.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(edited.routes, std::slice::from_ref(&route));
    assert_eq!(
        s.get_http_api("a000000001").unwrap().unwrap().routes,
        [route]
    );

    // A refused edit leaves the stored value as it was.
    let refused = s.update_http_api("a000000001", &mut |a| {
        a.routes.clear();
        Err(StoreError::Conflict("no".into()))
    });
    assert!(matches!(refused, Err(StoreError::Conflict(_))));
    assert_eq!(
        s.get_http_api("a000000001").unwrap().unwrap().routes.len(),
        1
    );
    assert!(matches!(
        s.update_http_api("zzzzzzzzzz", &mut |_| Ok(())),
        Err(StoreError::NotFound)
    ));

    assert!(s.delete_http_api("a000000001").unwrap());
    assert!(!s.delete_http_api("a000000001").unwrap());
    assert_eq!(s.get_http_api("a000000001").unwrap(), None);
}
