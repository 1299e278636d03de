-- HTTP APIs (apigatewayv2 CreateApi): one row per API, its routes, integrations and
-- stages kept together as one JSON document (quiver_model::http_api::HttpApi), since
-- every request to the API needs them together.
CREATE TABLE http_apis (
    api_id TEXT PRIMARY KEY,
    doc    TEXT NOT NULL
);
