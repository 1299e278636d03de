//! HTTP/HTTPS endpoints: one POST per delivery, SNS's headers, a 2xx is a success.
//! A small blocking client (ureq, rustls) on a blocking thread: deliveries are few
//! and short, and it brings TLS for `https` endpoints without a second async stack.

use std::time::Duration;

/// How long one POST may take (SNS waits 15 s for an endpoint).
const TIMEOUT: Duration = Duration::from_secs(15);

/// One POST to an endpoint.
pub struct Post {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// Sends it; `Err` carries why it did not count as delivered.
pub async fn send(post: Post) -> Result<(), String> {
    tokio::task::spawn_blocking(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(TIMEOUT)
            .redirects(0)
            .build();
        let mut req = agent
            .post(&post.url)
            .set("content-type", "text/plain; charset=UTF-8")
            .set("user-agent", "Amazon Simple Notification Service Agent");
        for (k, v) in &post.headers {
            req = req.set(k, v);
        }
        match req.send_string(&post.body) {
            Ok(r) if (200..300).contains(&r.status()) => Ok(()),
            Ok(r) => Err(format!("endpoint answered {}", r.status())),
            Err(ureq::Error::Status(code, _)) => Err(format!("endpoint answered {code}")),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .map_err(|e| format!("delivery task failed: {e}"))?
}
