//! Pure request routing: method + path → what the runtime is asking for.

use hyper::Method;

const PREFIX: &str = "/2018-06-01/runtime/";

/// One Runtime API endpoint, parsed from a request line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// `GET …/invocation/next`
    Next,
    /// `POST …/invocation/{id}/response`
    Response(&'a str),
    /// `POST …/invocation/{id}/error`
    Error(&'a str),
    /// `POST …/init/error`
    InitError,
    /// A known path with the wrong method.
    MethodNotAllowed,
    /// Anything else.
    NotFound,
}

/// Maps a request to a [`Route`]. Query strings are ignored, as RIE's router does.
pub(crate) fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Route::NotFound;
    };
    let want = |m: Method, r: Route<'a>| {
        if *method == m {
            r
        } else {
            Route::MethodNotAllowed
        }
    };
    if rest == "invocation/next" {
        return want(Method::GET, Route::Next);
    }
    if rest == "init/error" {
        return want(Method::POST, Route::InitError);
    }
    if let Some(inv) = rest.strip_prefix("invocation/") {
        if let Some((id, action)) = inv.split_once('/') {
            if id.is_empty() || id.contains('/') {
                return Route::NotFound;
            }
            return match action {
                "response" => want(Method::POST, Route::Response(id)),
                "error" => want(Method::POST, Route::Error(id)),
                _ => Route::NotFound,
            };
        }
    }
    Route::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_every_endpoint() {
        let p = |m: Method, s: &'static str| route(&m, s);
        assert_eq!(
            p(Method::GET, "/2018-06-01/runtime/invocation/next"),
            Route::Next
        );
        assert_eq!(
            p(
                Method::POST,
                "/2018-06-01/runtime/invocation/abc-1/response"
            ),
            Route::Response("abc-1")
        );
        assert_eq!(
            p(Method::POST, "/2018-06-01/runtime/invocation/abc-1/error"),
            Route::Error("abc-1")
        );
        assert_eq!(
            p(Method::POST, "/2018-06-01/runtime/init/error"),
            Route::InitError
        );
    }

    #[test]
    fn wrong_method_and_unknown_paths() {
        let p = |m: Method, s: &'static str| route(&m, s);
        assert_eq!(
            p(Method::POST, "/2018-06-01/runtime/invocation/next"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            p(Method::GET, "/2018-06-01/runtime/init/error"),
            Route::MethodNotAllowed
        );
        assert_eq!(
            p(Method::GET, "/2018-06-01/runtime/invocation/x/response"),
            Route::MethodNotAllowed
        );
        assert_eq!(p(Method::GET, "/"), Route::NotFound);
        assert_eq!(
            p(Method::GET, "/2018-06-01/runtime/invocation/"),
            Route::NotFound
        );
        assert_eq!(
            p(Method::POST, "/2018-06-01/runtime/invocation//response"),
            Route::NotFound
        );
        assert_eq!(
            p(Method::POST, "/2018-06-01/runtime/invocation/a/b/response"),
            Route::NotFound
        );
        assert_eq!(
            p(Method::POST, "/2018-06-01/runtime/invocation/a/other"),
            Route::NotFound
        );
        assert_eq!(
            p(Method::GET, "/2020-01-01/extension/event/next"),
            Route::NotFound
        );
    }
}
