//! The last line of defence of a dialect router: a request that runs past the
//! timeout, or a handler that panics, still gets an answer in the caller's own
//! dialect (never hyper's empty 500). The dialect supplies that answer.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::handler::Handler;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use futures_util::FutureExt;
use tower::{Layer, Service};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Panic,
}

/// Wraps `router` so timeouts and panics answer with `answer(failure)`.
///
/// One layer does both: every `Router::layer` boxes each route again and
/// axum clones that box per request. As two layers (a `from_fn` timeout and
/// tower-http's panic catch) next to three shared ones they cost up to ~11%
/// of durable adds; this layer and `Front` won back 6.5%.
pub fn guarded<A>(router: Router, timeout: Duration, answer: A) -> Router
where
    A: Fn(Failure) -> Response + Clone + Send + Sync + 'static,
{
    router.layer(GuardLayer { timeout, answer })
}

#[derive(Clone)]
struct GuardLayer<A> {
    timeout: Duration,
    answer: A,
}

impl<S, A: Clone> Layer<S> for GuardLayer<A> {
    type Service = Guard<S, A>;

    fn layer(&self, inner: S) -> Guard<S, A> {
        Guard {
            inner,
            timeout: self.timeout,
            answer: self.answer.clone(),
        }
    }
}

#[derive(Clone)]
struct Guard<S, A> {
    inner: S,
    timeout: Duration,
    answer: A,
}

impl<S, A> Service<Request> for Guard<S, A>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    A: Fn(Failure) -> Response + Clone + Send + Sync + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service that was polled ready serves this request; a clone
        // stays for the next (tower's contract for services called once).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let answer = self.answer.clone();
        let timeout = self.timeout;
        let future = std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(request)));
        Box::pin(async move {
            let outcome = match future {
                Ok(future) => {
                    tokio::time::timeout(timeout, AssertUnwindSafe(future).catch_unwind()).await
                }
                Err(panic) => Ok(Err(panic)),
            };
            Ok(match outcome {
                Ok(Ok(Ok(response))) => response,
                Ok(Ok(Err(infallible))) => match infallible {},
                Ok(Err(_panic)) => {
                    tracing::error!("handler panicked; answered with the dialect's error");
                    answer(Failure::Panic)
                }
                Err(_elapsed) => {
                    tracing::warn!("request timed out after {timeout:?}");
                    answer(Failure::Timeout)
                }
            })
        })
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::body::Body;
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use axum::Router;
    use http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::{guarded, Failure};

    fn answer(failure: Failure) -> Response {
        (StatusCode::OK, format!("{failure:?} in dialect")).into_response()
    }

    async fn body_of(router: Router, path: &str) -> String {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn router() -> Router {
        let routes = Router::new()
            .route("/fine", get(|| async { "fine" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/panics",
                get(|| async {
                    if std::hint::black_box(true) {
                        panic!("handler bug");
                    }
                    "unreachable"
                }),
            );
        guarded(routes, Duration::from_secs(5), answer)
    }

    #[tokio::test(start_paused = true)]
    async fn answers_pass_and_failures_answer_in_the_dialect() {
        assert_eq!(body_of(router(), "/fine").await, "fine");
        assert_eq!(body_of(router(), "/slow").await, "Timeout in dialect");
        assert_eq!(body_of(router(), "/panics").await, "Panic in dialect");
    }
}
