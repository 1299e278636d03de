//! Virtual-hosted-style addressing on `localhost`: `<bucket>.s3.localhost[:port]` and
//! `<bucket>.s3.<region>.localhost[:port]`; every other Host is path-style.
use s3s::host::{S3Host, VirtualHost};

/// The bucket a virtual-hosted Host names, if it is one.
pub fn virtual_bucket(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let rest = name.strip_suffix(".localhost")?;
    let (bucket, tail) = rest.split_once(".s3")?;
    let ok_tail = tail.is_empty()
        || tail
            .strip_prefix('.')
            .is_some_and(|r| !r.is_empty() && !r.contains('.'));
    (!bucket.is_empty() && ok_tail).then_some(bucket)
}

pub struct LocalhostHost;

impl S3Host for LocalhostHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<VirtualHost<'a>> {
        Ok(match virtual_bucket(host) {
            Some(b) => VirtualHost::new(host).with_bucket(b),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosts() {
        assert_eq!(virtual_bucket("pics.s3.localhost"), Some("pics"));
        assert_eq!(virtual_bucket("pics.s3.localhost:9000"), Some("pics"));
        assert_eq!(
            virtual_bucket("my.pics.s3.us-east-1.localhost:9000"),
            Some("my.pics")
        );
        for other in [
            "127.0.0.1:9000",
            "localhost",
            "s3.localhost",
            "pics.localhost",
            "pics.s3.a.b.localhost",
        ] {
            assert_eq!(virtual_bucket(other), None, "{other}");
        }
    }
}
