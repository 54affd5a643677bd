//! The last line of defence of a dialect router: a request that runs past the
//! timeout, or a handler that panics, still gets an answer in the caller's own
//! dialect (never hyper's empty 500). The dialect supplies that answer.

use std::time::Duration;

use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Panic,
}

/// Wraps `router` so timeouts and panics answer with `answer(failure)`.
pub fn guarded<A>(router: Router, timeout: Duration, answer: A) -> Router
where
    A: Fn(Failure) -> Response + Clone + Send + Sync + 'static,
{
    let on_timeout = answer.clone();
    router
        .layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let on_timeout = on_timeout.clone();
                async move {
                    match tokio::time::timeout(timeout, next.run(request)).await {
                        Ok(response) => response,
                        Err(_) => {
                            tracing::warn!("request timed out after {timeout:?}");
                            on_timeout(Failure::Timeout)
                        }
                    }
                }
            },
        ))
        .layer(CatchPanicLayer::custom(
            move |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("handler panicked; answered with the dialect's error");
                answer(Failure::Panic)
            },
        ))
}

/// A dialect's router: `handler` on every one of `paths` for any verb, with
/// `state`, guarded so timeouts and panics answer with `answer(failure)`.
pub fn dialect_routes<H, T, S, A>(
    paths: &[&str],
    handler: H,
    state: S,
    timeout: Duration,
    answer: A,
) -> Router
where
    H: Handler<T, S> + Clone,
    T: 'static,
    S: Clone + Send + Sync + 'static,
    A: Fn(Failure) -> Response + Clone + Send + Sync + 'static,
{
    let mut router = Router::new();
    for path in paths {
        router = router.route(path, any(handler.clone()));
    }
    guarded(router.with_state(state), timeout, answer)
}
