//! Lambda's words for how an invocation ended: error bodies and the platform's log
//! lines. Pure functions, so the exact wire text is unit-tested.

use time::OffsetDateTime;

/// The `errorMessage` Lambda uses for a timeout: elapsed time with two decimals.
pub fn timeout_body(request_id: &str, elapsed_s: f64, now: OffsetDateTime) -> String {
    let msg = format!(
        "{} {request_id} Task timed out after {elapsed_s:.2} seconds",
        iso_ms(now)
    );
    serde_json::json!({"errorType": "Sandbox.Timedout", "errorMessage": msg}).to_string()
}

/// The timeout line Lambda writes to the log after REPORT.
pub fn timeout_log_line(request_id: &str, elapsed_s: f64, now: OffsetDateTime) -> String {
    format!(
        "{} {request_id} Task timed out after {elapsed_s:.2} seconds",
        iso_ms(now)
    )
}

/// The error body when the runtime process ended during an invocation or its init.
/// `Runtime.ExitError`, or `Runtime.OutOfMemory` when the memory cgroup's OOM killer
/// ended it (the message still says how the process ended, as Lambda's does).
pub fn exit_body(request_id: &str, description: &str, oom: bool) -> String {
    let error_type = if oom {
        "Runtime.OutOfMemory"
    } else {
        "Runtime.ExitError"
    };
    let msg = format!("RequestId: {request_id} Error: Runtime exited with error: {description}");
    serde_json::json!({"errorType": error_type, "errorMessage": msg}).to_string()
}

/// The error body for a response larger than the limit.
pub fn too_large_body(size: usize, limit: usize) -> String {
    let msg = format!(
        "Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes)."
    );
    serde_json::json!({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": msg})
        .to_string()
}

/// `START RequestId: … Version: …`
pub fn start_line(request_id: &str, version: &str) -> String {
    format!("START RequestId: {request_id} Version: {version}")
}

/// `END RequestId: …`
pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// What goes into a REPORT line.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Wall time of the invoke phase, in ms.
    pub duration_ms: f64,
    /// Billed duration: ceil(duration) in 1-ms units, or the timeout on a timeout.
    pub billed_ms: u64,
    /// Configured MemorySize.
    pub memory_mb: u32,
    /// Peak memory of the environment's cgroup, in MB (rounded up).
    pub max_memory_used_mb: u64,
    /// Init duration on cold starts.
    pub init_ms: Option<f64>,
    /// `Some(error type)` when the invocation failed (newer runtimes append it).
    pub error_type: Option<String>,
}

/// `REPORT RequestId: …\tDuration: … ms\tBilled Duration: … ms\tMemory Size: … MB\tMax Memory Used: … MB\t[Init Duration: … ms\t]`
/// Tab-separated and ending with a tab, as Lambda writes it.
pub fn report_line(request_id: &str, r: &Report) -> String {
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        r.duration_ms, r.billed_ms, r.memory_mb, r.max_memory_used_mb
    );
    if let Some(init) = r.init_ms {
        line.push_str(&format!("Init Duration: {init:.2} ms\t"));
    }
    if let Some(t) = &r.error_type {
        line.push_str(&format!("Status: error\tError Type: {t}\t"));
    }
    line
}

/// Billed duration: the duration rounded up to the next millisecond.
pub fn billed_ms(duration_ms: f64) -> u64 {
    duration_ms.max(0.0).ceil() as u64
}

/// The last `max` bytes of the log, cut at a character boundary (X-Amz-Log-Result).
pub fn log_tail(lines: &[String], max: usize) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}

/// `2020-11-10T05:46:57.874Z` (see [`quiver_model::format_iso_millis`]).
pub fn iso_ms(t: OffsetDateTime) -> String {
    quiver_model::format_iso_millis(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn report_line_is_lambdas_format() {
        let r = Report {
            duration_ms: 3071.274,
            billed_ms: 3072,
            memory_mb: 128,
            max_memory_used_mb: 21,
            init_ms: Some(480.25),
            error_type: None,
        };
        assert_eq!(
            report_line("abc", &r),
            "REPORT RequestId: abc\tDuration: 3071.27 ms\tBilled Duration: 3072 ms\tMemory Size: 128 MB\tMax Memory Used: 21 MB\tInit Duration: 480.25 ms\t"
        );
    }

    #[test]
    fn warm_report_has_no_init_duration() {
        let r = Report {
            duration_ms: 1.0,
            billed_ms: 1,
            memory_mb: 256,
            max_memory_used_mb: 9,
            init_ms: None,
            error_type: None,
        };
        assert!(!report_line("x", &r).contains("Init Duration"));
    }

    #[test]
    fn billed_is_ceiling() {
        assert_eq!(billed_ms(3757.18), 3758);
        assert_eq!(billed_ms(0.2), 1);
        assert_eq!(billed_ms(5.0), 5);
    }

    #[test]
    fn timeout_message() {
        let body = timeout_body("rid", 3.0712, datetime!(2020-11-10 05:46:57.874 UTC));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["errorMessage"],
            "2020-11-10T05:46:57.874Z rid Task timed out after 3.07 seconds"
        );
        assert_eq!(v["errorType"], "Sandbox.Timedout");
    }

    #[test]
    fn iso_always_has_millis() {
        assert_eq!(
            iso_ms(datetime!(2020-01-01 00:00:00 UTC)),
            "2020-01-01T00:00:00.000Z"
        );
        assert_eq!(
            iso_ms(datetime!(2026-11-26 20:44:17.98 UTC)),
            "2026-11-26T20:44:17.980Z"
        );
        assert_eq!(
            iso_ms(datetime!(2026-11-26 20:44:17.9 UTC)),
            "2026-11-26T20:44:17.900Z"
        );
        assert_eq!(
            iso_ms(datetime!(2026-11-26 20:44:17.123456 UTC)),
            "2026-11-26T20:44:17.123Z"
        );
        assert_eq!(
            iso_ms(datetime!(2026-11-26 21:44:17.5 +1)),
            "2026-11-26T20:44:17.500Z"
        );
    }

    #[test]
    fn exit_bodies() {
        let v: serde_json::Value =
            serde_json::from_str(&exit_body("r", "exit status 3", false)).unwrap();
        assert_eq!(v["errorType"], "Runtime.ExitError");
        assert_eq!(
            v["errorMessage"],
            "RequestId: r Error: Runtime exited with error: exit status 3"
        );
        let v: serde_json::Value =
            serde_json::from_str(&exit_body("r", "signal: killed", true)).unwrap();
        assert_eq!(v["errorType"], "Runtime.OutOfMemory");
    }

    #[test]
    fn tail_keeps_last_bytes_on_char_boundary() {
        let lines = vec!["é".repeat(3000), "END".into()];
        let t = log_tail(&lines, 4096);
        assert!(t.len() <= 4096);
        assert!(t.ends_with("END\n"));
        let short = log_tail(&["a".into(), "b".into()], 4096);
        assert_eq!(short, "a\nb\n");
    }
}
