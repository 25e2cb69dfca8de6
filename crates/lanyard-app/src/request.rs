//! The id of the HTTP request being served, for the audit events it causes.
//!
//! The door runs each request inside [`scope`]; every audit event recorded
//! in that task (a unit of work's, or a batched one) carries the id, the
//! same id the request's log lines and its `X-Request-Id` response header
//! show. Work outside a request (the command line, background writers)
//! has none.

use std::future::Future;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `f` as the request `id`.
pub async fn scope<F: Future>(id: String, f: F) -> F::Output {
    REQUEST_ID.scope(id, f).await
}

/// The id of the request this task serves, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_id_is_seen_inside_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope("r-1".into(), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("r-1"));
        assert_eq!(current(), None);
    }
}
